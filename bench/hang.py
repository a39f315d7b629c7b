"""Hung backends: make one hang three ways, and measure what clients of the LB see meanwhile.

Used by `make bench` (seed config vs ours, side by side) and by tests/e2e/test_hung_backends.py (VMs) and
tests/e2e/test_containers_engine.py.
The hang kinds act from this machine on a sandbox VM (a Docker container); ``CONTAINER_HANGS`` the first two on an
app container of containers mode:

- ``stop``: the app's processes get SIGSTOP (systemd's ``kill -s STOP``), later SIGCONT;
- ``pause``: the whole VM is frozen (``docker pause``: nothing on it runs), later unpaused;
- ``drop``: every packet to or from the VM is dropped (nftables in the VM's network namespace, set from a
  throwaway container sharing it): it hears nothing, and nothing it says arrives.

Load goes only to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from bench.loadgen import _check_target

SLOW_SECONDS = 2.0  # "requests over 2 s"
DROP_TABLE = "wayshub_fault"
UNDROP = f"delete table netdev {DROP_TABLE}\n"


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, text=True)


def _pause(container: str, attempts: int = 3) -> None:
    """``docker pause``; on a busy machine the cgroup freezer can time out, and the container is then
    left running: try again."""
    for attempt in range(1, attempts + 1):
        try:
            _run("docker", "pause", container)
            return
        except subprocess.CalledProcessError:
            if attempt == attempts:
                raise
            time.sleep(1)


def in_netns(container: str, argv: list[str], stdin: str = "") -> str:
    """Run ``argv`` in the VM's network namespace with CAP_NET_ADMIN: from a throwaway container that shares it,
    with the VM's own image (it has nftables and iproute2), so a user in the docker group can do it (no nsenter,
    no root)."""
    image = subprocess.run(
        ["docker", "inspect", "--format", "{{.Config.Image}}", container], check=True, capture_output=True, text=True
    ).stdout.strip()
    head = ["docker", "run", "--rm", "-i", f"--network=container:{container}", "--cap-add=NET_ADMIN"]
    command = [*head, f"--entrypoint={argv[0]}", image, *argv[1:]]
    return subprocess.run(command, input=stdin, check=True, capture_output=True, text=True).stdout


def _netns_drop(container: str, on: bool) -> None:
    """Every packet into or out of the VM's ``eth0`` dropped (ARP and VRRP included), or let through again: an
    nftables ``netdev`` table whose ingress and egress chains drop everything, so the VM's peers see silence and
    it hears nothing. (A blackhole routing rule is not enough: keepalived's adverts and ARP bypass routing.)"""
    in_netns(container, ["nft", "-f", "-"], drop_rules() if on else UNDROP)


def drop_rules(match: tuple[str, str] = ("", "")) -> str:
    """The fault's nftables table: on ``eth0``, drop what comes in matching ``match[0]`` and what goes out matching
    ``match[1]`` (empty: everything)."""
    chains = [("in", "ingress", match[0]), ("out", "egress", match[1])]
    lines = [f"table netdev {DROP_TABLE} {{"]
    for chain, hook, rule in chains:
        policy = "accept" if rule else "drop"
        body = f" {rule} counter drop;" if rule else ""
        lines.append(
            f'    chain {chain} {{ type filter hook {hook} device "eth0" priority 0; policy {policy};{body} }}'
        )
    return "\n".join([*lines, "}", ""])


@dataclass
class Window:
    """When a fault was on (monotonic seconds), and what went wrong making or ending it."""

    start: float = 0.0
    end: float = 0.0
    error: BaseException | None = None

    def check(self, what: str) -> None:
        if self.error is not None:
            said = str(getattr(self.error, "stderr", "") or self.error).strip()[-300:]
            raise RuntimeError(f"could not make or end the {what}: {said}") from self.error


def in_background(
    before: float, seconds: float, start: Callable[[], None], end: Callable[[], None]
) -> tuple[threading.Thread, Window]:
    """After ``before`` seconds ``start()``, ``seconds`` later ``end()`` (always, once started), in a thread; the
    window says when, and any error for the caller's thread (``Window.check`` after joining)."""
    window = Window()

    def run() -> None:
        time.sleep(before)
        window.start = time.monotonic()
        try:
            start()
            try:
                time.sleep(seconds)
            finally:
                end()
        except BaseException as err:  # reported by the caller, in its own thread
            window.error = err
        window.end = time.monotonic()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, window


@dataclass(frozen=True)
class HangKind:
    name: str
    describe: str
    start: Callable[[str, str], None]  # (container, app unit)
    end: Callable[[str, str], None]


HANGS: dict[str, HangKind] = {
    "stop": HangKind(
        "stop",
        "app process SIGSTOPped",
        lambda c, unit: _run("docker", "exec", c, "systemctl", "kill", "--signal=SIGSTOP", unit),
        lambda c, unit: _run("docker", "exec", c, "systemctl", "kill", "--signal=SIGCONT", unit),
    ),
    "pause": HangKind(
        "pause",
        "whole VM frozen (docker pause)",
        lambda c, unit: _pause(c),
        lambda c, unit: _run("docker", "unpause", c),
    ),
    "drop": HangKind(
        "drop",
        "packets to and from the VM dropped (nftables in its netns)",
        lambda c, unit: _netns_drop(c, True),
        lambda c, unit: _netns_drop(c, False),
    ),
}

# The same hangs of an app container (containers mode). Its process 1 is Docker's init, which cannot pass SIGSTOP on
# (`docker kill --signal STOP` would stop only the init, and the app would go on answering): the app's own processes
# get it, from a shell in the container as the app's user (`kill -1`: every process it may signal but process 1).
# The second argument (a unit) is unused.
CONTAINER_HANGS: dict[str, HangKind] = {
    "stop": HangKind(
        "stop",
        "app container's processes SIGSTOPped",
        lambda c, _: _run("docker", "exec", c, "sh", "-c", "kill -STOP -1"),
        lambda c, _: _run("docker", "exec", c, "sh", "-c", "kill -CONT -1"),
    ),
    "pause": HangKind(
        "pause",
        "app container frozen (docker pause)",
        lambda c, _: _pause(c),
        lambda c, _: _run("docker", "unpause", c),
    ),
}


@dataclass
class HangReport:
    """Every request: (sent, done, ok), seconds on the monotonic clock; the hang's window."""

    requests: list[tuple[float, float, bool]] = field(default_factory=list)
    hang_from: float = 0.0
    hang_until: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def worst_wait(self) -> float:
        return max((done - sent for sent, done, _ in self.requests), default=0.0)

    @property
    def over_2s(self) -> int:
        return sum(1 for sent, done, _ in self.requests if done - sent > SLOW_SECONDS)

    @property
    def failed(self) -> int:
        return sum(1 for *_, ok in self.requests if not ok)

    @property
    def rps_during_hang(self) -> float:
        """Answers completed while the backend hung, per second."""
        done = sum(1 for _, end, ok in self.requests if ok and self.hang_from <= end <= self.hang_until)
        return done / max(self.hang_until - self.hang_from, 1e-9)

    def summary(self) -> str:
        return (
            f"{len(self.requests)} requests, worst wait {self.worst_wait:.2f}s, {self.over_2s} over 2s, "
            f"{self.failed} failed, {self.rps_during_hang:.0f}/s during the hang; errors {self.errors[:3]}"
        )


async def _client(client: httpx.AsyncClient, url: str, report: HangReport, until: float) -> None:
    while time.monotonic() < until:
        sent = time.monotonic()
        try:
            response = await client.get(url)
            ok = response.status_code == 200
            if not ok:
                report.errors.append(f"HTTP {response.status_code}")
        except httpx.HTTPError as err:
            ok = False
            report.errors.append(f"{type(err).__name__}: {err}")
        report.requests.append((sent, time.monotonic(), ok))


def measure(
    port: int,
    host_header: str,
    hang: HangKind,
    container: str,
    unit: str,
    *,
    clients: int = 16,
    before: float = 3.0,
    hang_seconds: float = 10.0,
    after: float = 3.0,
    path: str = "/",
) -> HangReport:
    """``clients`` keep-alive clients GET the site for before + hang + after seconds; the backend
    hangs in the middle. The hang always ends, also when the load fails."""
    _check_target("127.0.0.1")
    report = HangReport()

    async def load() -> None:
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        timeout = httpx.Timeout(60.0)
        until = time.monotonic() + before + hang_seconds + after
        async with httpx.AsyncClient(headers={"Host": host_header}, timeout=timeout, limits=limits) as client:
            url = f"http://127.0.0.1:{port}{path}"
            await asyncio.gather(*[_client(client, url, report, until) for _ in range(clients)])

    thread, window = in_background(
        before, hang_seconds, lambda: hang.start(container, unit), lambda: hang.end(container, unit)
    )
    # A private event loop: asyncio.run() would leave the calling thread with no current loop, which
    # breaks whatever else in this process awaits on it (Pulumi's mocks in a test session).
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(load())
    finally:
        loop.close()
        thread.join()
    report.hang_from, report.hang_until = window.start, window.end
    window.check(f"hang ({hang.name})")
    return report
