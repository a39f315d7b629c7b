"""components/load_balancer/host/backend-health.sh, run for real against backends on 127.0.0.1.

Three local backends: one healthy, one HUNG (a listening socket nobody accepts from: the kernel
completes the handshake and takes the request, no answer ever comes — what a SIGSTOPped app or a
frozen VM looks like), one refusing. `nginx`, `systemctl` and `ss` are stubs that log their calls.
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


STUB = '#!/bin/sh\necho "$(basename "$0") $*" >> "{log}"\n{extra}'


@pytest.fixture
def world(tmp_path: Path) -> Iterator[dict[str, object]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    for name, extra in [("nginx", ""), ("systemctl", ""), ("ss", 'echo "State Recv-Q"\necho "ESTAB 0"\n')]:
        (bin_dir / name).write_text(STUB.format(log=log, extra=extra))
        (bin_dir / name).chmod(0o755)
    healthy, hung = listening(), listening()
    servers = [serve(healthy)]
    backends = {
        "healthy": f"127.0.0.1:{healthy.getsockname()[1]}",
        "hung": f"127.0.0.1:{hung.getsockname()[1]}",
        "refused": f"127.0.0.1:{free_port()}",
    }
    (tmp_path / "conf.d").mkdir()
    site = tmp_path / "conf.d" / "site.conf"
    lines = "".join(f"    server {b} max_fails=1 fail_timeout=3s;\n" for b in backends.values())
    site.write_text(f"upstream s {{\n{lines}    keepalive 32;\n}}\nserver {{\n    listen 80;\n}}\n")
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "SITE_FILE": str(site),
        "LOCK": str(tmp_path / "lock"),
        "BACKENDS": " ".join(backends.values()),
        "HEALTH_PATH": "/health",
        "STATUS_MIN": "200",
        "STATUS_MAX": "399",
        "INTERVAL": "0.1",
        "TIMEOUT": "0.3",
        "FALL": "2",
        "RISE": "2",
        "KILL_HUNG": "1",
    }
    proc = subprocess.Popen(["bash", str(SCRIPT_SOURCE)], env=env, stdout=subprocess.PIPE, text=True)
    world: dict[str, object] = {
        "site": site,
        "log": log,
        "backends": backends,
        "hung": hung,
        "servers": servers,
        "proc": proc,
    }
    try:
        yield world
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        print(proc.stdout.read() if proc.stdout else "")
        for server in servers:
            server.shutdown()
        hung.close()


def down(site: Path) -> set[str]:
    return {line.split()[1] for line in site.read_text().splitlines() if line.endswith(" down;")}


def eventually(check: Callable[[], bool], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("not within the time")


def test_a_hung_backend_is_marked_down_its_connections_ended_and_it_comes_back(world: dict[str, object]) -> None:
    site, log, backends = world["site"], world["log"], world["backends"]
    assert isinstance(site, Path) and isinstance(log, Path) and isinstance(backends, dict)
    hung = backends["hung"]
    eventually(lambda: down(site) == {hung})
    text = site.read_text()
    assert f"    server {hung} max_fails=1 fail_timeout=3s down;\n" in text
    assert f"    server {backends['healthy']} max_fails=1 fail_timeout=3s;\n" in text
    # The refused one is nginx's business (it retries at once): never marked down.
    assert f"    server {backends['refused']} max_fails=1 fail_timeout=3s;\n" in text
    calls = log.read_text().splitlines()
    assert "nginx -t" in calls and "systemctl reload nginx" in calls
    port = hung.rsplit(":", 1)[1]
    eventually(lambda: f"ss -K -n -t state established dst 127.0.0.1 dport = :{port}" in log.read_text())
    assert not any(f"dport = :{backends['refused'].rsplit(':', 1)[1]}" in c for c in log.read_text().splitlines())

    # It recovers: answers again on the same port, and is back after RISE good answers.
    sock = world["hung"]
    assert isinstance(sock, socket.socket) and isinstance(world["servers"], list)
    world["servers"].append(serve(sock))
    eventually(lambda: down(site) == set())


def test_when_every_backend_hangs_none_is_marked_down(world: dict[str, object]) -> None:
    """Fail open: with every backend hung, nginx's own passive checks decide."""
    site, backends, servers = world["site"], world["backends"], world["servers"]
    assert isinstance(site, Path) and isinstance(backends, dict) and isinstance(servers, list)
    eventually(lambda: down(site) == {backends["hung"]})
    hanging = []
    for name in ("refused", "healthy"):  # one after the other: both hang as well now
        if name == "healthy":
            servers[0].shutdown()
            servers[0].socket.close()
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", int(backends[name].rsplit(":", 1)[1])))
        sock.listen(64)
        hanging.append(sock)
        if name == "refused":
            eventually(lambda: down(site) == {backends["hung"], backends["refused"]})
    try:
        eventually(lambda: down(site) == set())
    finally:
        for sock in hanging:
            sock.close()


def test_stopping_the_checker_puts_every_backend_back(world: dict[str, object]) -> None:
    site, backends, proc = world["site"], world["backends"], world["proc"]
    assert isinstance(site, Path) and isinstance(backends, dict) and isinstance(proc, subprocess.Popen)
    eventually(lambda: down(site) == {backends["hung"]})
    proc.terminate()
    proc.wait(timeout=10)
    assert down(site) == set()
