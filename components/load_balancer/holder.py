"""Which of two LBs holds the shared address now (docs/failover.md), read before any resource is declared.

A site change reaches the LB that does not hold the address first and the one serving last, whichever that is
today (after a failover without preempt it is the second LB). Reading it is a look, not a change: ``ip``
on each LB, through ``docker exec`` for sandbox VMs and over SSH (host key checked, as every connection) for
your own servers. An LB that cannot be read counts as not holding it; when not exactly one holds it (a first
deploy: no LB yet), the order is the default one, the second LB first.
"""

from __future__ import annotations

import subprocess

from components.config import StackConfig
from components.layout import container_name
from components.shell import ssh

SHOW = ["ip", "-o", "-4", "addr", "show"]
READ_SECONDS = 10.0


def holds(shown: str, address: str) -> bool:
    """``ip -o -4 addr show`` names ``address`` on an interface."""
    return any(f" inet {address}/" in line for line in shown.splitlines())


def address_holder(config: StackConfig, stack: str, private_key: str | None) -> int | None:
    """The index in ``hosts.lbServers`` of the one LB holding the shared address, else None (``private_key``:
    wayshub:sshPrivateKey, for existing servers)."""
    address = config.virtual_address
    if address is None:
        return None
    shown = [_show(config, stack, index, private_key) for index in range(len(config.hosts.load_balancers))]
    holding = [index for index, text in enumerate(shown) if holds(text, address)]
    return holding[0] if len(holding) == 1 else None


def publish_order(count: int, holder: int | None) -> list[int]:
    """LB indexes in the order a site change reaches them: the holder last; by default the second LB first."""
    order = [index for index in reversed(range(count)) if index != holder]
    return order if holder is None else [*order, holder]


def _show(config: StackConfig, stack: str, index: int, private_key: str | None) -> str:
    server = config.hosts.load_balancers[index]
    if config.hosts.provider == "sandbox":
        argv = ["docker", "exec", container_name(stack, server.name), *SHOW]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=READ_SECONDS, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return done.stdout if done.returncode == 0 else ""
    hosts = config.hosts
    if not private_key:
        return ""
    connection = ssh.Connection(
        host=server.address or "",
        port=server.ssh_port or 22,
        user=server.user or hosts.user,
        private_key=private_key,
        host_key=server.host_key,
        dial_timeout_seconds=min(hosts.dial_timeout_seconds, READ_SECONDS),
        known_hosts_file=hosts.known_hosts_file,
    )
    try:
        result = ssh.run(connection, " ".join(SHOW), timeout=READ_SECONDS)
    except Exception:  # unreachable, unknown host key, refused login: not read (the deploy says why)
        return ""
    return result.stdout if result.exit_code == 0 else ""
