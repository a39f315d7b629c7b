"""An abusive client against the site, and polite ones beside it (docs/limits.md).

The attacker (bench/abuse_attacker.py) runs in a container of its own on the site's Docker network: nginx
sees its address, not the polite clients'. The polite clients run here and reach the LB through its port on
127.0.0.1, each GET on a new TLS connection (a new visitor: an accept and a handshake, what a slowloris
starves). Used by tests/e2e/test_abuse.py and the `abuse` benchmark.
"""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.loadgen import _check_target, percentile

ATTACKER = Path(__file__).resolve().parent / "abuse_attacker.py"
POLITE_TIMEOUT = 5.0


@dataclass
class PoliteReport:
    statuses: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.statuses.values())

    @property
    def ok(self) -> int:
        return self.statuses["200"]

    def percentile(self, q: float) -> float:
        return percentile(self.latencies_ms, q)

    def summary(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "statuses": dict(self.statuses),
            "p50_ms": round(self.percentile(50), 1),
            "p99_ms": round(self.percentile(99), 1),
            "error_samples": self.error_samples[:5],
        }


def polite_get(port: int, domain: str, ca_pem: str | None, address: str = "127.0.0.1") -> str:
    """One visitor: a new TLS connection (``ca_pem`` None: plain HTTP), GET /, the status code."""
    raw = socket.create_connection((address, port), timeout=POLITE_TIMEOUT)
    with raw:
        conn = ssl.create_default_context(cadata=ca_pem).wrap_socket(raw, server_hostname=domain) if ca_pem else raw
        conn.sendall(f"GET / HTTP/1.1\r\nHost: {domain}\r\nConnection: close\r\n\r\n".encode())
        head = b""
        while b"\r\n" not in head:
            chunk = conn.recv(4096)
            if not chunk:
                raise ConnectionError("closed before the status line")
            head += chunk
    return head.split(b" ", 2)[1].decode()


class Polite:
    """Polite visitors in threads, each a GET every ``period`` seconds, until the ``with`` block ends."""

    def __init__(self, port: int, domain: str, ca_pem: str | None, visitors: int = 4, period: float = 0.2) -> None:
        _check_target("127.0.0.1")
        self.report = PoliteReport()
        self._args = (port, domain, ca_pem)
        self._period = period
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._visit, daemon=True) for _ in range(visitors)]

    def _visit(self) -> None:
        while not self._stop.is_set():
            started = time.perf_counter()
            try:
                status = polite_get(*self._args)
            except (OSError, ssl.SSLError) as error:
                status = type(error).__name__
                with self._lock:
                    self.report.error_samples.append(f"{status}: {error}")
            elapsed = time.perf_counter() - started
            with self._lock:
                self.report.statuses[status] += 1
                self.report.latencies_ms.append(elapsed * 1000)
            self._stop.wait(max(0.0, self._period - elapsed))

    def __enter__(self) -> Polite:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()


@dataclass(frozen=True)
class Attack:
    """What the attacker does (bench/abuse_attacker.py's options)."""

    seconds: float = 30
    slow: int = 10000
    interval: float = 5
    flood: float = 300
    bodies: int = 150
    tls: bool = True
    # Stop this long after all `slow` connections were open at once (`seconds` is then the most it may take).
    linger: float | None = None


class Attacker:
    """The attacker's container on ``network``, aimed at ``host``:``port``; ``result()`` waits for its report."""

    def __init__(self, image: str, network: str, name: str, host: str, port: int, domain: str, attack: Attack) -> None:
        self.name = name
        options = {
            "host": host, "port": port, "domain": domain, "seconds": attack.seconds, "slow": attack.slow,
            "interval": attack.interval, "flood": attack.flood, "bodies": attack.bodies,
        }  # fmt: skip
        arguments = [f"--{key}={value}" for key, value in options.items()] + ([] if attack.tls else ["--plain"])
        arguments += [] if attack.linger is None else [f"--linger={attack.linger}"]
        self._process = subprocess.Popen(
            ["docker", "run", "--rm", "--name", name, "--network", network, "--ulimit", "nofile=16384:16384",
             "--entrypoint", "python3", image, "-c", ATTACKER.read_text(), *arguments],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self._limit = attack.seconds + 120

    def result(self) -> dict[str, Any]:
        try:
            out, err = self._process.communicate(timeout=self._limit)
        except subprocess.TimeoutExpired:
            subprocess.run(["docker", "rm", "--force", self.name], capture_output=True, check=False)
            self._process.kill()
            raise
        if self._process.returncode != 0:
            raise RuntimeError(f"the attacker failed ({self._process.returncode}): {err[-2000:]}")
        report: dict[str, Any] = json.loads(out)
        return report
