"""components/load_balancer/host/backend-health.sh, run for real against backends on 127.0.0.1.

Three local backends: one healthy, one HUNG (a listening socket nobody accepts from: the kernel
completes the handshake and takes the request, no answer ever comes — what a SIGSTOPped app or a
frozen VM looks like), one refusing. `ss` is a stub that logs its calls.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from components.load_balancer.health_check import SCRIPT_SOURCE


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


def listening() -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


STUB = '#!/bin/sh\necho "$(basename "$0") $*" >> "{log}"\necho "State Recv-Q"\necho "ESTAB 0"\n'


@pytest.fixture
def world(tmp_path: Path) -> Iterator[dict[str, object]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    log.touch()
    (bin_dir / "ss").write_text(STUB.format(log=log))
    (bin_dir / "ss").chmod(0o755)
    healthy, hung = listening(), listening()
    servers = [serve(healthy)]
    backends = {
        "healthy": f"127.0.0.1:{healthy.getsockname()[1]}",
        "hung": f"127.0.0.1:{hung.getsockname()[1]}",
        "refused": f"127.0.0.1:{free_port()}",
    }
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "BACKENDS": " ".join(backends.values()),
        "HEALTH_PATH": "/health",
        "STATUS_MIN": "200",
        "STATUS_MAX": "399",
        "INTERVAL": "0.1",
        "TIMEOUT": "0.3",
        "FALL": "2",
        "RISE": "2",
    }
    out = tmp_path / "out.log"
    with out.open("w") as stdout:
        proc = subprocess.Popen(["bash", str(SCRIPT_SOURCE)], env=env, stdout=stdout, text=True)
    world: dict[str, object] = {"log": log, "out": out, "backends": backends, "hung": hung, "servers": servers}
    try:
        yield world
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        print(out.read_text())
        for server in servers:
            server.shutdown()
        hung.close()


def ended(log: Path, backend: str) -> int:
    """How many rounds ended the connections to ``backend``."""
    address, port = backend.rsplit(":", 1)
    return (
        log.read_text()
        .splitlines()
        .count(f"ss -K -n -t state established state syn-sent dst {address} dport = :{port}")
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
    # Healthy and refusing backends are nginx's to judge: their connections are never touched.
    assert ended(log, backends["healthy"]) == 0
    assert ended(log, backends["refused"]) == 0
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
