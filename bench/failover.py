"""A load balancer fails: make it fail four ways, and measure what clients of the site see meanwhile.

Used by tests/e2e/test_failover.py (two LBs sharing an address, docs/failover.md) and, side by side with one LB,
by `make bench`. The faults act from this machine on an LB sandbox VM (a Docker container):

- ``stop``: the VM is stopped (``docker stop``: its keepalived says goodbye on the way down), later started;
- ``nginx``: nginx is killed (SIGKILL to its unit: the track script sees it), later started again;
- ``pause``: the whole VM is frozen (``docker pause``: nothing on it runs, it says nothing), later unpaused;
- ``drop``: every packet to or from the VM is dropped (bench/hang.py's nftables table), later let through.

Clients open a new connection for every GET (a keep-alive connection to a dead LB dies with it either way) and
try a failed GET once more a second later, as ``curl --retry`` does. Load goes only to the address the
test's own sandbox network gives the site (a private address this machine reaches on that network).
"""

from __future__ import annotations

import http.client
import ipaddress
import re
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from bench.hang import DROP_TABLE, _netns_drop, _pause, drop_rules, in_background, in_netns

# A client gives up on an answer after this long: a GET the frozen LB's kernel took (``pause``) is never
# answered, so only the client's timeout ends it. Normal answers here take milliseconds.
TIMEOUT_SECONDS = 1.5
# A failed GET is tried once more after this long (curl --retry's first wait).
RETRY_AFTER_SECONDS = 1.0


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, text=True)


@dataclass(frozen=True)
class Fault:
    name: str
    describe: str
    start: Callable[[str], None]  # (container)
    end: Callable[[str], None]


FAULTS: dict[str, Fault] = {
    "stop": Fault(
        "stop",
        "LB VM stopped (docker stop)",
        lambda c: _run("docker", "stop", "--time", "10", c),
        lambda c: _run("docker", "start", c),
    ),
    "nginx": Fault(
        "nginx",
        "nginx killed (SIGKILL)",
        lambda c: _run("docker", "exec", c, "systemctl", "kill", "--signal=SIGKILL", "nginx"),
        lambda c: _run("docker", "exec", c, "systemctl", "start", "nginx"),
    ),
    "pause": Fault("pause", "LB VM frozen (docker pause)", _pause, lambda c: _run("docker", "unpause", c)),
    "drop": Fault(
        "drop",
        "packets to and from the LB VM dropped (nftables in its netns)",
        lambda c: _netns_drop(c, True),
        lambda c: _netns_drop(c, False),
    ),
}


def _cut(peer: str) -> str:
    """The rules that keep the VM and ``peer`` (an address, never text for the rule) from hearing each other."""
    ipaddress.ip_address(peer)
    return drop_rules((f"ip saddr {peer}", f"ip daddr {peer}"))


def partition(peer: str, settle: float = 0.0) -> Fault:
    """The VM and ``peer`` stop hearing each other; everyone else still reaches both. ``settle``: seconds
    ``start`` waits after the cut (so a caller can look at both sides while it lasts)."""

    def start(container: str) -> None:
        in_netns(container, ["nft", "-f", "-"], _cut(peer))
        time.sleep(settle)

    return Fault("partition", f"the LB and {peer} cannot hear each other (nftables)", start, FAULTS["drop"].end)


def blink(container: str, peer: str, seconds: float) -> int:
    """The VM and ``peer`` cannot hear each other for ``seconds``: cut, wait and heal in one throwaway container,
    so the cut lasts ``seconds`` plus one ``nft`` call. Returns how many packets the cut dropped."""
    table = f"table netdev {DROP_TABLE}"
    script = f"nft -f - && sleep {seconds:g}; nft list {table}; nft delete {table}"
    listed = in_netns(container, ["sh", "-c", script], _cut(peer))
    return sum(int(n) for n in re.findall(r"counter packets (\d+)", listed))


@dataclass(frozen=True)
class Get:
    sent: float
    done: float
    first_ok: bool  # the first try answered 200
    ok: bool  # the first try or the one retry answered 200
    error: str = ""


@dataclass
class FailoverReport:
    gets: list[Get] = field(default_factory=list)
    fault_from: float = 0.0
    fault_until: float = 0.0

    @property
    def worst_wait(self) -> float:
        """The longest a client waited for an answer (retry included)."""
        return max((g.done - g.sent for g in self.gets), default=0.0)

    @property
    def failed_without_retry(self) -> int:
        return sum(1 for g in self.gets if not g.first_ok)

    @property
    def failed_after_retry(self) -> int:
        return sum(1 for g in self.gets if not g.ok)

    def summary(self) -> str:
        errors = sorted({g.error for g in self.gets if g.error})[:3]
        return (
            f"{len(self.gets)} GETs, worst wait {self.worst_wait:.2f}s, {self.failed_without_retry} failed without "
            f"retry, {self.failed_after_retry} after one retry; errors {errors}"
        )


def _get_once(address: str, port: int, host_header: str) -> tuple[bool, str]:
    conn = http.client.HTTPConnection(address, port, timeout=TIMEOUT_SECONDS)
    try:
        conn.request("GET", "/", headers={"Host": host_header})
        response = conn.getresponse()
        response.read()
        return response.status == 200, "" if response.status == 200 else f"HTTP {response.status}"
    except (OSError, http.client.HTTPException) as err:
        return False, type(err).__name__
    finally:
        conn.close()


def _client(address: str, port: int, host_header: str, report: FailoverReport, until: float) -> None:
    while time.monotonic() < until:
        sent = time.monotonic()
        first_ok, error = _get_once(address, port, host_header)
        ok = first_ok
        if not ok:
            time.sleep(RETRY_AFTER_SECONDS)
            ok = _get_once(address, port, host_header)[0]
        report.gets.append(Get(sent, time.monotonic(), first_ok, ok, error))
        time.sleep(0.02)


def measure(
    address: str,
    port: int,
    host_header: str,
    fault: Fault,
    container: str,
    *,
    clients: int = 4,
    before: float = 2.0,
    fault_seconds: float = 8.0,
    after: float = 4.0,
) -> FailoverReport:
    """``clients`` clients GET ``http://address:port/`` for before + fault + after seconds; ``container`` (an
    LB) fails in the middle. The fault always ends, also when the load fails."""
    if not ipaddress.ip_address(address).is_private:
        raise ValueError(f"load goes only to this machine's own networks, not {address}")
    report = FailoverReport()
    until = time.monotonic() + before + fault_seconds + after

    thread, window = in_background(before, fault_seconds, lambda: fault.start(container), lambda: fault.end(container))
    with ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(_client, address, port, host_header, report, until) for _ in range(clients)]:
            future.result()
    thread.join()
    report.fault_from, report.fault_until = window.start, window.end
    window.check(f"fault ({fault.name})")
    return report
