"""A real BIND 9 for the DNS tests: Debian's bind9 in a container the tests start (not the program).

The image (``bind_server/Dockerfile``) is built FROM the local Debian base scripts/sandbox-image made
(``wayshub/debian-base:bookworm``) when Docker has it, else Docker Hub's ``debian:bookworm``. The harness
writes ``named.conf`` (one TSIG key, made fresh for the run; one primary zone whose ``update-policy``
lets only that key change it) and the zone file, copies them into the container and starts it.
named listens on the container's address on its own network and on 127.0.0.1:15353 (tcp and udp; the port,
like every name and the subnet, follows the e2e slot: tests/e2e/slots.py).

The zone holds records somebody else owns (``other``, ``taken``): tests check they survive.
Names are this module's own (network ``wayshub-dns``, containers ``wayshub-dns-*``), so other test
sessions never collide with it. ``python -m tests.e2e.bind_server`` starts one by hand (docs/dns.md).
"""

from __future__ import annotations

import base64
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dns.query
import dns.rcode
import dns.update

from components.names import dns_addresses, dns_update
from tests.e2e import slots
from tests.e2e.other_servers import build_on_debian_base
from tests.e2e.pulumi_cli import REPO

NETWORK = f"wayshub-{slots.DNS}"
SUBNET = f"{slots.DNS_SUBNET_PREFIX}.0/24"
ADDRESS = f"{slots.DNS_SUBNET_PREFIX}.53"  # named, on the network
UNUSED_ADDRESS = f"{slots.DNS_SUBNET_PREFIX}.99"  # nothing there: a DNS server that is down
CONTAINER = f"{NETWORK}-bind"
LABEL = f"wayshub.test={slots.DNS}"
IMAGE = "wayshub/dns-bind9:bookworm"  # shared by every slot: the same build, never removed by a test
HOST = "127.0.0.1"
PORT = slots.DNS_PORT
UNUSED_PORT = PORT + 1  # nothing listens there
KEY_NAME = "wayshub-update"
ALGORITHM = "hmac-sha256"
START_SECONDS = 120
# Records someone else put in the zone (name relative to the zone, type, value).
FOREIGN = (("other", "A", "192.0.2.10"), ("taken", "A", "192.0.2.20"), ("alias", "CNAME", "other"))


@dataclass(frozen=True)
class Bind:
    """The running server: where it answers, its zone, and the key that may update the zone."""

    zone: str
    secret: str
    host: str = HOST
    port: int = PORT

    def server(self, **changes: object) -> dns_update.Server:
        """The ``dns_update.Server`` that reaches it from this machine (fields overridable for failures)."""
        values: dict[str, object] = {
            "address": self.host,
            "port": self.port,
            "zone": self.zone,
            "key_name": KEY_NAME,
            "algorithm": ALGORITHM,
            "secret": self.secret,
            "timeout": 10.0,
        }
        values.update(changes)
        return dns_update.Server(**values)  # type: ignore[arg-type]

    def stack_config(self, **changes: object) -> dict[str, object]:
        """``wayshub:dns`` for a stack that uses this server."""
        return {"server": self.host, "port": self.port, "zone": self.zone, "keyName": KEY_NAME, **changes}

    def records(self, name: str) -> dns_addresses.RecordSet:
        return dns_addresses.read(self.server(), name)

    def sh(self, command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return _docker("exec", CONTAINER, "sh", "-c", command, check=check)

    def edit_out_of_band(self, name: str, rdtype: str, old: list[str], new: list[str]) -> None:
        """Someone else edits the zone with the same key (a plain dnspython update, none of our code): drift."""
        message = dns.update.UpdateMessage(self.zone, keyring=self.server().key(), keyname=dns_update.fqdn(KEY_NAME))
        for value in old:
            message.delete(name + ".", rdtype, value)
        for value in new:
            message.add(name + ".", 60, rdtype, value)
        answer = dns.query.tcp(message, self.host, timeout=10, port=self.port)
        assert answer.rcode() == dns.rcode.NOERROR, dns.rcode.to_text(answer.rcode())

    def dig(self, name: str, rdtype: str) -> list[str]:
        """What BIND's own dig sees inside the container (an independent reader)."""
        return sorted(self.sh(f"dig +short @127.0.0.1 {name} {rdtype}").stdout.split())


def _docker(*args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], input=stdin, capture_output=True, text=True, check=check)


def build_image() -> str:
    return build_on_debian_base(REPO / "tests" / "e2e" / "bind_server", IMAGE)


def named_conf(zone: str, secret: str) -> str:
    """The server's whole configuration: no recursion, one key, one zone only that key may update."""
    return f"""options {{
    directory "/var/cache/bind";
    listen-on port 53 {{ any; }};
    listen-on-v6 {{ none; }};
    recursion no;
    allow-transfer {{ none; }};
    dnssec-validation no;
}};
key "{KEY_NAME}" {{
    algorithm {ALGORITHM};
    secret "{secret}";
}};
zone "{zone}" {{
    type primary;
    file "/var/lib/bind/{zone}.zone";
    update-policy {{ grant {KEY_NAME} zonesub A AAAA CNAME TXT; }};
}};
"""


def zone_file(zone: str) -> str:
    foreign = "".join(f"{name}\tIN\t{rdtype}\t{value}\n" for name, rdtype, value in FOREIGN)
    return (
        f"$ORIGIN {zone}.\n$TTL 300\n"
        f"@\tIN\tSOA\tns.{zone}. hostmaster.{zone}. 1 3600 600 86400 60\n"
        f"@\tIN\tNS\tns.{zone}.\n"
        f"ns\tIN\tA\t{ADDRESS}\n" + foreign
    )


def remove_all() -> None:
    """This harness's container and network (also what an interrupted run left)."""
    for name in _docker("ps", "--all", "--filter", f"label={LABEL}", "--format", "{{.Names}}").stdout.split():
        _docker("rm", "--force", name, check=False)
    _docker("network", "rm", NETWORK, check=False)


def _wait_ready(bind: Bind) -> None:
    deadline = time.monotonic() + START_SECONDS
    while True:
        try:
            bind.records(f"ns.{bind.zone}")
            return
        except dns_update.DnsError as err:
            if time.monotonic() > deadline:
                logs = _docker("logs", "--tail", "30", CONTAINER, check=False)
                raise AssertionError(f"named did not answer within {START_SECONDS}s: {err}\n{logs.stderr}") from None
            time.sleep(0.5)


@contextmanager
def bind_server(zone: str) -> Iterator[Bind]:
    """Start BIND for ``zone`` with a fresh TSIG key; remove it (and its network) afterwards, whatever happens."""
    image = build_image()
    secret = base64.b64encode(os.urandom(32)).decode()
    remove_all()
    try:
        _docker("network", "create", "--subnet", SUBNET, "--label", LABEL, NETWORK)
        _docker(
            "create", "--name", CONTAINER, "--label", LABEL, "--network", NETWORK, "--ip", ADDRESS,
            "--publish", f"{HOST}:{PORT}:53/tcp", "--publish", f"{HOST}:{PORT}:53/udp", image,
        )  # fmt: skip
        with tempfile.TemporaryDirectory(prefix="wayshub-dns-") as folder:
            conf = Path(folder)
            (conf / "named.conf").write_text(named_conf(zone, secret))
            (conf / f"{zone}.zone").write_text(zone_file(zone))
            _docker("cp", f"{conf}/.", f"{CONTAINER}:/etc/bind/wayshub")
        _docker("start", CONTAINER)
        bind = Bind(zone=zone, secret=secret)
        _wait_ready(bind)
        yield bind
    finally:
        remove_all()


if __name__ == "__main__":
    # By hand: a BIND for the local stack's zone until Ctrl-C (prints the settings to use).
    import sys

    local_zone = sys.argv[1] if len(sys.argv) > 1 else "wayshub.local"
    with bind_server(local_zone) as running:
        print(f"BIND for {local_zone} on {HOST}:{PORT}, key {KEY_NAME} ({ALGORITHM})")
        print(f"pulumi config set --path wayshub:dns.server {HOST}")
        print(f"pulumi config set --path wayshub:dns.port {PORT}")
        print(f"pulumi config set --path wayshub:dns.zone {local_zone}")
        print(f"pulumi config set --path wayshub:dns.keyName {KEY_NAME}")
        print("pulumi config set --secret wayshub:dnsTsigSecret <the secret in the container's /etc/bind/wayshub>")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
