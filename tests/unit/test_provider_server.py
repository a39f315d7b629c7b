"""Our dynamic-provider plugin (plugins/pulumi-resource-pulumi-python → components/provider_server.py):
the SDK's server, run with the pool WAYSHUB_PROVIDER_WORKERS asks for (default 32) instead of four."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from pathlib import Path

import grpc  # type: ignore[import-untyped]
import pytest
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from components.provider_server import DEFAULT_WORKERS, WORKERS_ENV, workers_from
from tests.unit import provider_probe

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "plugins" / "pulumi-resource-pulumi-python"


@contextmanager
def plugin_server(tmp_path: Path, **env: str) -> Iterator[provider_pb2_grpc.ResourceProviderStub]:
    """The plugin as the engine starts it (the project's virtualenv named by the engine), and a client."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("WAYSHUB_PROVIDER")}
    environ.update(PULUMI_RUNTIME_VIRTUALENV=str(REPO / "venv"), **env)
    process = subprocess.Popen(
        [str(PLUGIN)], cwd=tmp_path, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        port = process.stdout.readline().strip()
        assert port.isdigit(), f"the plugin printed {port!r} instead of its port; stderr: {process.communicate()[1]}"
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield provider_pb2_grpc.ResourceProviderStub(channel)
    finally:
        process.terminate()
        process.wait(timeout=10)


def creates_at_once(stub: provider_pb2_grpc.ResourceProviderStub) -> list[str]:
    """``PARTIES`` creates sent together; each one's outcome: ``ok`` or the server's error, last line."""
    provider = serialize_provider(provider_probe.TogetherProvider())
    properties = asyncio.run(rpc.serialize_properties({"__provider": provider}, {}))

    def create(index: int) -> str:
        request = provider_pb2.CreateRequest(urn=f"urn:pulumi:s::p::probe::p{index}", properties=properties)
        try:
            stub.Create(request, timeout=60)
        except grpc.RpcError as err:
            return str(err.details()).strip().splitlines()[-1]
        return "ok"

    with futures.ThreadPoolExecutor(max_workers=provider_probe.PARTIES) as pool:
        return list(pool.map(create, range(provider_probe.PARTIES)))


def test_the_plugin_runs_more_than_four_operations_at_once(tmp_path: Path) -> None:
    with plugin_server(tmp_path) as stub:
        assert creates_at_once(stub) == ["ok"] * provider_probe.PARTIES


def test_with_the_sdks_four_workers_the_same_creates_cannot_all_run(tmp_path: Path) -> None:
    """The cap we lift, shown on the same server: four threads, eight creates that must meet."""
    with plugin_server(tmp_path, **{WORKERS_ENV: "4"}) as stub:
        outcomes = creates_at_once(stub)
    assert "ok" not in outcomes
    assert all("BrokenBarrierError" in outcome for outcome in outcomes), outcomes


def test_the_plugin_logs_its_pool_and_the_peak_of_operations(tmp_path: Path) -> None:
    log = tmp_path / "provider.log"
    with plugin_server(tmp_path, WAYSHUB_PROVIDER_LOG=str(log)) as stub:
        creates_at_once(stub)
    lines = log.read_text().splitlines()
    pid = lines[0].split()[0]
    assert lines[0] == f"{pid} workers={DEFAULT_WORKERS}"
    assert lines[1:] == [f"{pid} peak={n}" for n in range(1, provider_probe.PARTIES + 1)]


@pytest.mark.parametrize(("raw", "workers"), [("", DEFAULT_WORKERS), ("1", 1), (" 64 ", 64), ("256", 256)])
def test_pool_size_from_the_environment(raw: str, workers: int) -> None:
    assert workers_from({WORKERS_ENV: raw}) == workers
    assert workers_from({}) == DEFAULT_WORKERS


@pytest.mark.parametrize("raw", ["0", "-4", "4.5", "many", "257"])
def test_a_bad_pool_size_is_one_line_naming_the_variable(raw: str) -> None:
    with pytest.raises(SystemExit) as stopped:
        workers_from({WORKERS_ENV: raw})
    assert str(stopped.value) == f"{WORKERS_ENV}: {raw!r} is not a whole number from 1 to 256"


def test_a_bad_pool_size_stops_the_plugin_before_it_serves(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(PLUGIN)],
        cwd=tmp_path,
        env={**os.environ, "PULUMI_RUNTIME_VIRTUALENV": str(REPO / "venv"), WORKERS_ENV: "lots"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout, result.stderr) == (
        2,
        "",
        f"{WORKERS_ENV}: 'lots' is not a whole number from 1 to 256\n",
    )
