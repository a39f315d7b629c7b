"""The engine runs the stack's dynamic resources in OUR provider plugin (Pulumi.yaml `plugins.providers`:
plugins/pulumi-resource-pulumi-python), with our pool, for every command that touches them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from components.provider_server import DEFAULT_WORKERS, LOG_ENV, WORKERS_ENV
from tests.e2e.pulumi_cli import PulumiCli
from tests.e2e.site import Site

pytestmark = pytest.mark.e2e

COMMANDS: dict[str, Callable[[PulumiCli], object]] = {
    "preview": lambda cli: cli.preview(diff=False),
    "up": PulumiCli.up,
    "refresh": PulumiCli.refresh,
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_the_engine_runs_our_provider_server(site: Site, tmp_path: Path, command: str) -> None:
    log = tmp_path / "provider.log"
    env = {k: v for k, v in site.cli.env.items() if k != WORKERS_ENV}
    COMMANDS[command](PulumiCli(site.cli.workdir, {**env, LOG_ENV: str(log)}))
    assert log.exists(), f"`pulumi {command}` did not run components/provider_server.py (no {LOG_ENV} file)"
    lines = log.read_text().splitlines()
    pid = lines[0].split()[0]
    assert lines[0] == f"{pid} workers={DEFAULT_WORKERS}", lines
    # One server for the whole command, and the stack's operations went through it.
    assert {line.split()[0] for line in lines} == {pid}, lines
    assert lines[1:] and all(line.startswith(f"{pid} peak=") for line in lines[1:]), lines
