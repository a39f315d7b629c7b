"""Two load balancers sharing an address (``hosts.lbServers``, docs/failover.md) on servers the program did not
make (tests/e2e/other_servers.py with a second LB): Debian's keepalived installed by the deploy, the first LB
holding the address, the other taking it when the holder's server stops (no GET failing after one retry), and
``destroy`` taking our keepalived files off both while the package stays (as nginx does).

The address is the ext network's ``.5``; this machine reaches it on that network, as it reaches the LBs' own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.failover import FAULTS, measure
from tests.e2e import slots
from tests.e2e.other_servers import LB2, SUBNET_PREFIX, OtherServers, other_servers
from tests.e2e.site import Answer
from tests.e2e.site import get as site_get
from tests.e2e.test_existing_hosts import (
    DOMAIN,
    USER_HOSTS_LINES,
    Stack,
    existing_hosts,
    new_stack,
    server_entry,
    site_config,
)

pytestmark = pytest.mark.e2e

VIRTUAL = f"{SUBNET_PREFIX}.5"
LBS = ("lb", "lb2")


@dataclass
class Pair:
    stack: Stack
    servers: OtherServers
    hosts_file: Path

    def holders(self) -> list[str]:
        shown = {lb: self.servers.sh(lb, "ip -o -4 addr show", check=False).stdout for lb in LBS}
        return [lb for lb in LBS if f" {VIRTUAL}/" in shown[lb]]


def get(address: str = VIRTUAL) -> Answer:
    return site_get(address=address, port=80, domain=DOMAIN)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, sandbox_image: str) -> Iterator[Pair]:
    root = tmp_path_factory.mktemp("ext-ha")
    with other_servers(sandbox_image, root, two_lbs=True) as servers:
        stack = new_stack(root, slots.name("extha"), servers.private_key)
        hosts = existing_hosts(servers, servers.known_hosts)
        hosts.pop("lbServer")
        hosts["lbServers"] = [server_entry(servers.server(lb)) for lb in LBS]
        hosts_file = root / "hosts"
        hosts_file.write_text(USER_HOSTS_LINES)
        config = site_config(hosts, hosts_file)
        config["wayshub:lb"] = {"listenPort": 80, "failover": {"virtualAddress": VIRTUAL}}
        config["wayshub:hostsFile"] = {"path": str(hosts_file)}  # no address: the entry names the shared one
        stack.configure(config)
        try:
            stack.cli.up()
            yield Pair(stack, servers, hosts_file)
        finally:
            stack.cli.destroy(check=False)
            stack.cli.remove_stack(force=True, check=False)


def test_debians_keepalived_runs_on_both_and_the_first_lb_holds_the_address(pair: Pair) -> None:
    for lb in LBS:
        assert pair.servers.sh(lb, "dpkg-query -W -f='${Status}' keepalived").stdout == "install ok installed"
        assert pair.servers.sh(lb, "systemctl is-active keepalived nginx").stdout.split() == ["active", "active"]
    assert pair.holders() == ["lb"]
    answers = [get() for _ in range(30)]
    assert {a.status for a in answers} == {200}
    assert {a.backend for a in answers} == {"app1", "app2"}
    assert get(LB2.private_address).status == 200  # the other serves too, ready to take over
    assert f"{VIRTUAL}\t{DOMAIN}" in pair.hosts_file.read_text()


def test_when_the_holders_server_stops_the_other_takes_the_address(pair: Pair) -> None:
    report = measure(VIRTUAL, 80, DOMAIN, FAULTS["stop"], pair.servers.server("lb").container, fault_seconds=6.0)
    print(f"stop on lb: {report.summary()}")
    assert report.failed_after_retry == 0, report.summary()
    assert len(report.gets) > 20, report.summary()
    wait = "for _ in $(seq 240); do systemctl is-active --quiet keepalived nginx && exit 0; sleep 0.5; done; exit 1"
    assert pair.servers.sh("lb", wait, check=False).returncode == 0, "lb: keepalived or nginx not active again"
    assert pair.holders() == ["lb2"]  # no preempt: the one that came back stays a backup


def test_destroy_takes_our_keepalived_files_off_both_and_leaves_the_package(pair: Pair) -> None:
    pair.stack.cli.destroy()
    for lb in LBS:
        left = pair.servers.sh(
            lb, "ls -d /etc/keepalived/* /usr/local/lib/wayshub/* 2>/dev/null; systemctl is-enabled keepalived; true"
        ).stdout.split()
        # Debian's sample stays with the package; our file and track script go (the health checker's too).
        assert left == ["/etc/keepalived/keepalived.conf.sample", "disabled"], f"{lb} keeps: {left}"
        assert pair.servers.sh(lb, "systemctl is-active keepalived", check=False).stdout.strip() == "inactive"
        assert pair.servers.sh(lb, "command -v keepalived").stdout.strip() == "/usr/sbin/keepalived"
    assert pair.holders() == []
    assert pair.hosts_file.read_text() == USER_HOSTS_LINES
