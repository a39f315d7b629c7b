"""A bounded HTTP load generator for the LB on 127.0.0.1: counts, failures, latency percentiles.

Every run is bounded in both request count and time and stops by itself. It is used by the e2e
rollout tests (continuous load while `pulumi up` runs) and by the benchmarks.

    python -m bench.loadgen --port 8080 --host-header wayshub.local --requests 2000 --concurrency 4
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import ssl
import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile of ``values`` (nearest rank below), 0 when there are none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


@dataclass
class LoadReport:
    total: int = 0
    non_2xx: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    backends: Counter[str] = field(default_factory=Counter)
    releases: Counter[str] = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    seconds: float = 0.0
    # GETs sent again after the server closed a reused connection before answering (not failures).
    retried: int = 0

    @property
    def failed(self) -> int:
        return self.non_2xx + self.errors

    def percentile(self, q: float) -> float:
        return percentile(self.latencies_ms, q)

    def summary(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "non_2xx": self.non_2xx,
            "errors": self.errors,
            "retried": self.retried,
            "rps": round(self.total / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": round(self.percentile(50), 2),
            "p99_ms": round(self.percentile(99), 2),
            "mean_ms": round(statistics.fmean(self.latencies_ms), 2) if self.latencies_ms else 0.0,
            "backends": dict(self.backends),
            "releases": dict(self.releases),
            "error_samples": self.error_samples[:5],
        }

    def __str__(self) -> str:
        return json.dumps(self.summary(), sort_keys=True)


def _check_target(address: str) -> None:
    if not ipaddress.ip_address(address).is_loopback:
        raise ValueError(f"load goes only to loopback addresses, not {address}")


async def _worker(
    client: httpx.AsyncClient,
    url: str,
    report: LoadReport,
    budget: list[int],
    deadline: float,
    stop: threading.Event,
    extensions: dict[str, Any] | None = None,
) -> None:
    while budget[0] > 0 and time.monotonic() < deadline and not stop.is_set():
        budget[0] -= 1
        started = time.perf_counter()
        try:
            try:
                response = await client.get(url, extensions=extensions)
            except (httpx.RemoteProtocolError, httpx.ReadError) as err:
                # A kept-alive connection the server closed as the request went out (an nginx reload
                # retires its old workers' idle connections): like browsers and curl (RFC 9112 9.3.1),
                # send the idempotent GET once more on a new connection, and count it. The same close can
                # arrive as a failed read (the server's reset of a socket it closed with our request
                # unread) rather than as an empty answer: always over TLS, now and then over plain HTTP
                # (a clean-clone run saw one in 27,469 GETs across a takeover's reload). A server that is
                # down fails the retry too, and that counts.
                closed = isinstance(err, httpx.RemoteProtocolError) and "without sending a response" in str(err)
                if not (closed or isinstance(err, httpx.ReadError)):
                    raise
                report.retried += 1
                response = await client.get(url, extensions=extensions)
            report.latencies_ms.append((time.perf_counter() - started) * 1000)
            report.total += 1
            if not 200 <= response.status_code < 300:
                report.non_2xx += 1
                report.error_samples.append(f"HTTP {response.status_code}")
            report.backends[response.headers.get("x-wayshub-backend", "?")] += 1
            report.releases[response.headers.get("x-wayshub-release", "?")] += 1
        except httpx.HTTPError as err:
            report.total += 1
            report.errors += 1
            report.error_samples.append(f"{type(err).__name__}: {err}")


async def run_load(
    port: int,
    host_header: str,
    requests: int,
    max_seconds: float,
    concurrency: int = 4,
    address: str = "127.0.0.1",
    path: str = "/",
    stop: threading.Event | None = None,
    min_requests: int = 0,
    ca_pem: str | None = None,
) -> LoadReport:
    """Send at most ``requests`` GETs within ``max_seconds``; with ``stop``, run until it is set and at
    least ``min_requests`` were sent (still within both bounds). With ``ca_pem``: HTTPS, the certificate
    checked for ``host_header`` (sent as SNI) against that CA only."""
    _check_target(address)
    report = LoadReport()
    stop_event = stop or threading.Event()
    deadline = time.monotonic() + max_seconds
    budget = [requests]
    scheme = "https" if ca_pem else "http"
    url = f"{scheme}://{address}:{port}{path}"
    extensions = {"sni_hostname": host_header} if ca_pem else None
    verify: ssl.SSLContext | bool = ssl.create_default_context(cadata=ca_pem) if ca_pem else True
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    started = time.monotonic()
    async with httpx.AsyncClient(headers={"Host": host_header}, timeout=10.0, limits=limits, verify=verify) as client:
        gate = _MinimumGate(stop_event, report, min_requests)
        await asyncio.gather(
            *[_worker(client, url, report, budget, deadline, gate, extensions) for _ in range(concurrency)]
        )
    report.seconds = time.monotonic() - started
    return report


class _MinimumGate(threading.Event):
    """Set only when the caller's stop is set AND ``min_requests`` were sent."""

    def __init__(self, stop: threading.Event, report: LoadReport, min_requests: int) -> None:
        super().__init__()
        self._stop, self._report, self._min = stop, report, min_requests

    def is_set(self) -> bool:
        return self._stop.is_set() and self._report.total >= self._min


class BackgroundLoad:
    """Load in a thread while the test does something else: ``with BackgroundLoad(...) as load: ...``."""

    def __init__(
        self,
        port: int,
        host_header: str,
        min_requests: int,
        max_requests: int = 50_000,
        max_seconds: float = 600.0,
        concurrency: int = 4,
        ca_pem: str | None = None,
    ) -> None:
        self._stop = threading.Event()
        self._args = (port, host_header, max_requests, max_seconds, concurrency)
        self._min = min_requests
        self._ca_pem = ca_pem
        self.report = LoadReport()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        port, host_header, max_requests, max_seconds, concurrency = self._args
        self.report = asyncio.run(
            run_load(
                port,
                host_header,
                max_requests,
                max_seconds,
                concurrency,
                stop=self._stop,
                min_requests=self._min,
                ca_pem=self._ca_pem,
            )
        )

    def __enter__(self) -> BackgroundLoad:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default="127.0.0.1", help="loopback address of the LB")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host-header", required=True)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--max-seconds", type=float, default=60.0)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    report = asyncio.run(
        run_load(args.port, args.host_header, args.requests, args.max_seconds, args.concurrency, address=args.address)
    )
    print(report)


if __name__ == "__main__":
    main()
