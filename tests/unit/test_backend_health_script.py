"""components/load_balancer/host/backend-health.sh, run for real against backends on 127.0.0.1.

Four local backends: one healthy, one HUNG (a listening socket nobody accepts from: the kernel
completes the handshake and takes the request, no answer ever comes — what a SIGSTOPped app or a
frozen VM looks like), one refusing, one answering 503. `ss` is a stub that logs its calls; `curl` is a
wrapper that logs its command line and runs the real one (one curl per round runs every probe).
"""

from __future__ import annotations

import grp
import os
import shutil
import socket
import stat
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from components.load_balancer.health_check import SCRIPT_SOURCE, Paths, start_command
from tests.unit.test_host_step_scripts import TEST_GROUP, as_this_user, calls, run, stub_bin

INTERVAL = 0.1


class Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


def serve(sock: socket.socket, status: int = 200) -> HTTPServer:
    handler = type("H", (Health,), {"status": status})
    server = HTTPServer(("127.0.0.1", sock.getsockname()[1]), handler, bind_and_activate=False)
    server.socket.close()
    server.socket = sock
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def listening(family: socket.AddressFamily = socket.AF_INET) -> socket.socket:
    sock = socket.socket(family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
    sock.listen(64)
    return sock


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


STUB = '#!/bin/sh\necho "$(basename "$0") $*" >> "{log}"\necho "State Recv-Q"\necho "ESTAB 0"\n'
CURL_WRAPPER = '#!/bin/sh\nprintf "%s\\n" "$*" >> "{log}"\nexec "{curl}" "$@"\n'


def make_bin(tmp_path: Path) -> Path:
    """A bin folder with the `ss` stub (logging to calls.log) and the `curl` wrapper (logging to curl.log)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (tmp_path / "calls.log").touch()
    (tmp_path / "curl.log").touch()
    (bin_dir / "ss").write_text(STUB.format(log=tmp_path / "calls.log"))
    curl = shutil.which("curl")
    assert curl, "curl is needed on PATH"
    (bin_dir / "curl").write_text(CURL_WRAPPER.format(log=tmp_path / "curl.log", curl=curl))
    for tool in ("ss", "curl"):
        (bin_dir / tool).chmod(0o755)
    return bin_dir


@contextmanager
def running(tmp_path: Path, backends: list[str], bin_dir: Path) -> Iterator[subprocess.Popen[str]]:
    """The script with these backends, `bin_dir` first on PATH; its stdout in out.log, stderr in err.log."""
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "BACKENDS": " ".join(backends),
        "HEALTH_PATH": "/health",
        "STATUS_MIN": "200",
        "STATUS_MAX": "399",
        "INTERVAL": str(INTERVAL),
        "TIMEOUT": "0.3",
        "FALL": "2",
        "RISE": "2",
    }
    out = tmp_path / "out.log"
    with out.open("w") as stdout, (tmp_path / "err.log").open("w") as stderr:
        proc = subprocess.Popen(["bash", str(SCRIPT_SOURCE)], env=env, stdout=stdout, stderr=stderr, text=True)
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        print(out.read_text())


@pytest.fixture
def world(tmp_path: Path) -> Iterator[dict[str, object]]:
    bin_dir = make_bin(tmp_path)
    healthy, hung, bad = listening(), listening(), listening()
    servers = [serve(healthy), serve(bad, status=503)]
    backends = {
        "healthy": f"127.0.0.1:{healthy.getsockname()[1]}",
        "hung": f"127.0.0.1:{hung.getsockname()[1]}",
        "refused": f"127.0.0.1:{free_port()}",
        "bad": f"127.0.0.1:{bad.getsockname()[1]}",
    }
    started = time.monotonic()
    world: dict[str, object] = {
        "log": tmp_path / "calls.log",
        "curl_log": tmp_path / "curl.log",
        "out": tmp_path / "out.log",
        "backends": backends,
        "hung": hung,
        "servers": servers,
        "started": started,
    }
    try:
        with running(tmp_path, list(backends.values()), bin_dir):
            yield world
    finally:
        for server in servers:
            server.shutdown()
        hung.close()


def ended(log: Path, backend: str) -> int:
    """How many rounds ended the connections to ``backend``."""
    address, port = backend.rsplit(":", 1)
    return (
        log.read_text()
        .splitlines()
        .count(f"ss -K -n -t state established state syn-sent dst {address.strip('[]')} dport = :{port}")
    )


def eventually(check: Callable[[], bool], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("not within the time")


def test_a_hung_backend_has_its_connections_ended_every_round_until_it_answers(world: dict[str, object]) -> None:
    log, out, backends, servers, sock = world["log"], world["out"], world["backends"], world["servers"], world["hung"]
    assert isinstance(log, Path) and isinstance(out, Path) and isinstance(backends, dict)
    assert isinstance(servers, list) and isinstance(sock, socket.socket)
    hung = backends["hung"]
    eventually(lambda: ended(log, hung) >= 3)  # every round while it is hung
    # Healthy, refusing and bad-status backends are nginx's to judge: their connections are never touched.
    assert ended(log, backends["healthy"]) == 0
    assert ended(log, backends["refused"]) == 0
    assert ended(log, backends["bad"]) == 0
    assert f"{hung}: hung (no answer within 0.3s, 2 times in a row)" in out.read_text().splitlines()

    servers.append(serve(sock))  # it answers again, on the same port
    eventually(lambda: f"{hung}: answers again (2 times in a row)" in out.read_text().splitlines())
    settled = ended(log, hung)
    time.sleep(1.0)
    assert ended(log, hung) == settled


def test_an_answering_backend_is_never_cut_off(world: dict[str, object]) -> None:
    """Only the health path counts: a backend that answers it keeps its connections (and slow requests)."""
    log, backends = world["log"], world["backends"]
    assert isinstance(log, Path) and isinstance(backends, dict)
    eventually(lambda: ended(log, backends["hung"]) >= 1)
    time.sleep(1.0)
    assert ended(log, backends["healthy"]) == 0


def test_refused_and_bad_statuses_are_logged_once_and_left_to_nginx(world: dict[str, object]) -> None:
    out, backends = world["out"], world["backends"]
    assert isinstance(out, Path) and isinstance(backends, dict)
    refused, bad = f"{backends['refused']}: refused (left to nginx)", f"{backends['bad']}: bad 503 (left to nginx)"
    eventually(lambda: {refused, bad} <= set(out.read_text().splitlines()))
    time.sleep(1.0)  # ten more rounds with the same verdicts: logged when they change only
    lines = out.read_text().splitlines()
    assert lines.count(refused) == 1 and lines.count(bad) == 1
    assert not [line for line in lines if line.startswith(f"{backends['healthy']}:")]


def test_one_curl_probes_every_backend_each_round(world: dict[str, object]) -> None:
    """A curl exec costs ~8 ms of CPU: one per backend, 4 rounds a second, was a third of a core."""
    curl_log, backends, started = world["curl_log"], world["backends"], world["started"]
    assert isinstance(curl_log, Path) and isinstance(backends, dict) and isinstance(started, float)
    eventually(lambda: len(curl_log.read_text().splitlines()) >= 5)
    calls = curl_log.read_text().splitlines()
    elapsed = time.monotonic() - started
    urls = [f"http://{backend}/health" for backend in backends.values()]
    for call in calls:
        assert [word for word in call.split() if word.startswith("http://")] == urls, call
    # A round lasts at least INTERVAL, so no more curls than rounds could have started.
    assert len(calls) <= elapsed / INTERVAL + 1


def test_verdicts_go_by_url_number_and_a_missing_line_counts_as_refused(tmp_path: Path) -> None:
    """Parallel probes end in any order; a backend curl said nothing about is a failed probe, not a crash."""
    bin_dir = make_bin(tmp_path)
    # Backend 2 hangs, backend 0 answers, backend 1 gets no line; the rest is noise to skip.
    (bin_dir / "curl").write_text("#!/bin/sh\nprintf '2 28 000\\nnoise\\n0 0 200\\n7 0 200\\n\\n'\n")
    backends = [f"127.0.0.1:{free_port()}" for _ in range(3)]
    log, out = tmp_path / "calls.log", tmp_path / "out.log"
    with running(tmp_path, backends, bin_dir) as proc:
        eventually(lambda: ended(log, backends[2]) >= 3)
        time.sleep(0.5)
        assert proc.poll() is None
    lines = out.read_text().splitlines()
    assert f"{backends[2]}: hung (no answer within 0.3s, 2 times in a row)" in lines
    assert lines.count(f"{backends[1]}: refused (left to nginx)") == 1
    assert not [line for line in lines if line.startswith(f"{backends[0]}:")]
    assert ended(log, backends[0]) == ended(log, backends[1]) == 0
    assert (tmp_path / "err.log").read_text() == ""


def test_ipv6_backends(tmp_path: Path) -> None:
    """BACKENDS write an IPv6 backend as [ADDR]:PORT: curl must take that URL, `ss` gets the bare address."""
    try:
        healthy, hung = listening(socket.AF_INET6), listening(socket.AF_INET6)
    except OSError:
        pytest.skip("no IPv6 loopback here")
    server = serve(healthy)
    backends = [f"[::1]:{healthy.getsockname()[1]}", f"[::1]:{hung.getsockname()[1]}"]
    log, out = tmp_path / "calls.log", tmp_path / "out.log"
    try:
        with running(tmp_path, backends, make_bin(tmp_path)):
            eventually(lambda: ended(log, backends[1]) >= 3)
            time.sleep(0.5)
    finally:
        server.shutdown()
        hung.close()
    lines = out.read_text().splitlines()
    assert f"{backends[1]}: hung (no answer within 0.3s, 2 times in a row)" in lines
    assert not [line for line in lines if line.startswith(f"{backends[0]}:")]  # answered every probe
    assert ended(log, backends[0]) == 0


def check(tmp_path: Path, bin_dir: Path | None) -> subprocess.CompletedProcess[str]:
    """`backend-health --check` with PATH = ``bin_dir`` and the few tools the check uses (no curl)."""
    tools = tmp_path / "tools"
    tools.mkdir(exist_ok=True)
    for tool in ("head", "cut"):
        found = shutil.which(tool)
        assert found, tool
        (tools / tool).unlink(missing_ok=True)
        (tools / tool).symlink_to(found)
    path = f"{bin_dir}:{tools}" if bin_dir else str(tools)
    return subprocess.run(
        [shutil.which("bash") or "/bin/bash", str(SCRIPT_SOURCE), "--check"],
        env={"PATH": path},
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_start_check_passes_with_this_curl(tmp_path: Path) -> None:
    result = check(tmp_path, make_bin(tmp_path))
    assert (result.returncode, result.stderr) == (0, "")


def test_the_start_check_names_a_curl_too_old_to_run_a_round(tmp_path: Path) -> None:
    """curl before 7.75 knows neither %{urlnum} nor %{exitcode}: it warns and prints nothing for them."""
    bin_dir = tmp_path / "old"
    bin_dir.mkdir()
    old = bin_dir / "curl"
    old.write_text(
        '#!/bin/sh\nif [ "$1" = --version ]; then echo "curl 7.74.0 (x86_64-pc-linux-gnu)"; exit 0; fi\n'
        "echo 'curl: unknown --write-out variable' >&2\n"
    )
    old.chmod(0o755)
    result = check(tmp_path, bin_dir)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "backend health check: this host has curl 7.74.0; it needs curl 7.75 or later (%{urlnum}, %{exitcode} in --write-out)"
    ]


def test_the_start_check_names_a_missing_curl(tmp_path: Path) -> None:
    result = check(tmp_path, None)
    assert result.returncode == 1
    assert "curl is not installed" in result.stderr and len(result.stderr.splitlines()) == 1


def health_start(tmp_path: Path, check_status: int) -> subprocess.CompletedProcess[str]:
    """host/backend-health-start.sh with the component's inputs moved under tmp_path, a checker whose
    ``--check`` exits ``check_status``."""
    paths = Paths.of("wayshub-test")
    checker = tmp_path / "backend-health"
    checker.write_text(f'#!/bin/bash\necho "checker $*" >> "{tmp_path}/calls.log"\nexit {check_status}\n')
    checker.chmod(0o755)
    env_file = tmp_path / "etc" / "backend-health.env"
    command = start_command(paths).replace(paths.env_file, str(env_file)).replace(paths.script, str(checker))
    return run(as_this_user(command), tmp_path, stub_bin(tmp_path), stdin="BACKENDS='a b'\n")


def test_the_service_step_checks_curl_before_it_starts_the_checker(tmp_path: Path) -> None:
    result = health_start(tmp_path, 0)
    assert result.returncode == 0, result.stderr
    env_file = tmp_path / "etc" / "backend-health.env"
    assert env_file.read_text() == "BACKENDS='a b'\n"
    assert (stat.S_IMODE(env_file.stat().st_mode), grp.getgrgid(env_file.stat().st_gid).gr_name) == (0o644, TEST_GROUP)
    unit = Paths.of("wayshub-test").unit
    assert calls(tmp_path) == [
        "checker --check",
        "systemctl daemon-reload",
        f"systemctl enable --quiet {unit}",
        f"systemctl restart {unit}",
    ]


def test_a_failed_curl_check_stops_the_step_before_the_checker_restarts(tmp_path: Path) -> None:
    result = health_start(tmp_path, 1)
    assert result.returncode == 1
    assert calls(tmp_path) == ["checker --check"]
