"""Every name, host port and subnet an e2e test makes, derived from ``WAYSHUB_E2E_SLOT`` (0-9).

Two test sessions in different slots share a machine (one Docker engine, one loopback) without
sharing a stack name, container, network, label value, published port or subnet, so each can clean
up by its own label value without touching the other's. Slot 0 keeps the historical names and ports
(``e2e``, ``wayshub-ext-lb``, 127.0.0.1:15353, …) the docs quote.

- Names: ``name("ext")`` is ``ext`` in slot 0 and ``ext4`` in slot 4; stacks, networks, container
  prefixes and label values are built from it.
- Host ports: each harness owns a base; slot N uses ``base + 10*N`` up to 9 ports above it.
- Subnets: each harness owns ten /24s in a row, slot N the N-th. None overlaps another harness's,
  the local stack's (172.30.77/78), the bench's (172.30.240) or the unit tests' (172.30.99, no Docker).
"""

from __future__ import annotations

import os

SLOTS = range(10)
PORT_BLOCK = 10


def _slot() -> int:
    """``WAYSHUB_E2E_SLOT``; in a pytest-xdist worker ``gwK``, the K-th of ``WAYSHUB_E2E_SLOTS`` (``make e2e``)."""
    text = os.environ.get("WAYSHUB_E2E_SLOT", "0")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker and (listed := os.environ.get("WAYSHUB_E2E_SLOTS")):
        slots = listed.split(",")
        index = int(worker.removeprefix("gw")) if worker.removeprefix("gw").isdigit() else len(slots)
        if index >= len(slots):
            raise ValueError(f"WAYSHUB_E2E_SLOTS={listed!r} names no slot for pytest worker {worker}")
        text = slots[index]
    if not text.isdigit() or int(text) not in SLOTS:
        raise ValueError(f"WAYSHUB_E2E_SLOT={text!r}: must be one of 0-9")
    return int(text)


SLOT = _slot()


def name(base: str) -> str:
    """A stack name, container prefix or label value of this slot."""
    return base if SLOT == 0 else f"{base}{SLOT}"


def port(base: int, offset: int = 0) -> int:
    """Host port ``offset`` (0-9) of a harness whose slot-0 block starts at ``base``."""
    if not 0 <= offset < PORT_BLOCK:
        raise ValueError(f"port offset {offset} is outside a slot's block of {PORT_BLOCK}")
    return base + PORT_BLOCK * SLOT + offset


def subnet_prefix(first: str, base: int) -> str:
    """``<first>.<base + slot>``: the first three octets of this slot's /24 (``base`` + 9 must stay < 256)."""
    if base + max(SLOTS) > 255:
        raise ValueError(f"{first}.{base}: ten slots do not fit below .255")
    return f"{first}.{base + SLOT}"


# Stacks of the deployed site (sandbox VMs): tests/e2e/site.py.
SITE_STACK = name("e2e")
SITE_HTTP_PORT = port(18080)  # +1: HTTPS
SITE_SSH_PORT_BASE = port(22600)  # one port per VM
SITE_SUBNET_PREFIX = subnet_prefix("172.30", 100)
# Sandbox VMs straight from the hosts layer: tests/e2e/test_sandbox_hosts.py.
HOSTS_STACK = name("e2ehosts")
HOSTS_SSH_PORT_BASE = port(22500)
HOSTS_SUBNET_PREFIX = subnet_prefix("172.30", 130)
# Somebody else's servers for `provider: existing`: tests/e2e/other_servers.py.
EXT = name("ext")
EXT_SSH_PORT_BASE = port(23100)  # lb +1, app1 +2, app2 +3, lb2 +4; +9 is never listened on
EXT_HTTP_PORT = port(18300, 1)
EXT_SUBNET_PREFIX = subnet_prefix("172.30", 110)
# BIND for the DNS tests: tests/e2e/bind_server.py.
DNS = name("dns")
DNS_PORT = port(15350, 3)  # +4 is never listened on
DNS_SUBNET_PREFIX = subnet_prefix("172.30", 120)
# Two raw containers of the sandbox image: tests/e2e/test_sandbox_image.py.
IMAGE_TEST = name("test-img")
IMAGE_SUBNET_PREFIX = subnet_prefix("172.30", 140)
# Containers mode (docker CLI and engine): tests/e2e/test_containers_*.py.
CONTAINERS_STACK = name("ctest")
CONTAINERS_SUBNET_PREFIX = subnet_prefix("172.31", 240)
# A site made by the code before the command interface, then upgraded: tests/e2e/test_command_interface.py.
UPGRADE_STACK = name("e2eupg")
UPGRADE_HTTP_PORT = port(18700)  # +1: HTTPS
UPGRADE_SSH_PORT_BASE = port(22800)
UPGRADE_SUBNET_PREFIX = subnet_prefix("172.30", 150)
# README's "Deploy your own app" on a copy of the local stack file: tests/e2e/test_readme_own_app.py.
README_STACK = name("readme")
README_HTTP_PORT = port(18900)  # +1: HTTPS
README_SSH_PORT_BASE = port(23300)
README_SUBNET_PREFIX = subnet_prefix("172.30", 160)
# Two LBs sharing an address (keepalived), reached on the sandbox network itself: tests/e2e/test_failover.py.
FAILOVER_STACK = name("e2eha")
FAILOVER_SSH_PORT_BASE = port(23500)
FAILOVER_SUBNET_PREFIX = subnet_prefix("172.30", 170)
# Several sites on one LB, deployed first as one site by the code before them: tests/e2e/test_sites.py.
SITES_STACK = name("e2esites")
SITES_HTTP_PORT = port(19700)  # +1: HTTPS
SITES_SSH_PORT_BASE = port(23700)
SITES_SUBNET_PREFIX = subnet_prefix("172.30", 180)
# Pebble, the ACME test server: tests/e2e/pebble.py.
PEBBLE_PORT = port(19400)  # its ACME API; +1 management, +2 where it fetches HTTP-01 answers, +3 TLS-ALPN-01
# A loopback address nothing listens on (sites publish on 127.0.0.1): a name pointed there is refused at once.
REFUSED_ADDRESS = f"127.0.0.{2 + SLOT}"
# A throwaway PostgreSQL cluster holding a team's state: tests/e2e/postgres_server.py.
POSTGRES_PORT = port(15500)  # +1 is never listened on (an unreachable database)
# Stacks made by the code before the Site component, then taken over by it: tests/e2e/test_site_component.py.
PACKAGE_STACK = name("e2epkg")
PACKAGE_HTTP_PORT = port(20100)  # +1: HTTPS
PACKAGE_SSH_PORT_BASE = port(23900)
PACKAGE_SUBNET_PREFIX = subnet_prefix("172.30", 190)
# examples/python-program, the wayshub package installed from its wheel: tests/e2e/test_python_program.py.
PYTHON_PROGRAM_STACK = name("e2epy")
PYTHON_PROGRAM_HTTP_PORT = port(20500)  # +1: HTTPS
PYTHON_PROGRAM_SSH_PORT_BASE = port(24300)
PYTHON_PROGRAM_SUBNET_PREFIX = subnet_prefix("172.30", 210)
# A TypeScript program declaring the site through the component package's SDK: tests/e2e/test_typescript_program.py.
TS_STACK = name("e2ets")
TS_HTTP_PORT = port(20300)  # +1: HTTPS
TS_SSH_PORT_BASE = port(24100)
TS_SUBNET_PREFIX = subnet_prefix("172.30", 200)
