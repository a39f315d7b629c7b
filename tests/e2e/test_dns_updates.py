"""The RFC 2136 steps against a real BIND 9 (no Pulumi): prerequisites hold, foreign records survive,
a wrong key or a dead server is one line. tests/e2e/test_dns.py runs the same through the engine.

Records are read back with BIND's own ``dig`` inside the container, not only with our code.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from components.names import dns_addresses
from components.names.dns_addresses import RecordSet
from components.names.dns_update import DnsError
from tests.e2e.bind_server import UNUSED_ADDRESS, UNUSED_PORT, Bind, bind_server

pytestmark = pytest.mark.e2e

ZONE = "updates.test"


@pytest.fixture(scope="module")
def bind() -> Iterator[Bind]:
    with bind_server(ZONE) as server:
        yield server


def test_create_update_delete_touch_only_our_records(bind: Bind) -> None:
    server, name = bind.server(), f"site.{ZONE}"
    dns_addresses.create(server, name, RecordSet(("127.0.0.1", "fd00::10"), 300), adopt=False)
    assert (bind.dig(name, "A"), bind.dig(name, "AAAA")) == (["127.0.0.1"], ["fd00::10"])
    dns_addresses.replace(server, name, RecordSet(("127.0.0.1", "fd00::10"), 300), RecordSet(("127.0.0.2",), 60))
    assert (bind.dig(name, "A"), bind.dig(name, "AAAA")) == (["127.0.0.2"], [])
    assert bind.records(name) == RecordSet(("127.0.0.2",), 60)
    # Someone adds an address under our name: delete removes ours only.
    bind.edit_out_of_band(name, "A", [], ["192.0.2.77"])
    dns_addresses.delete(server, name, RecordSet(("127.0.0.2",), 60))
    assert bind.dig(name, "A") == ["192.0.2.77"]
    assert bind.dig(f"other.{ZONE}", "A") == ["192.0.2.10"], "a foreign record in the zone survives"
    dns_addresses.delete(server, name, RecordSet(("127.0.0.2",), 60))  # again: nothing left to do, no error


def test_create_refuses_records_it_does_not_own_unless_told_to_adopt(bind: Bind) -> None:
    server, taken = bind.server(), f"taken.{ZONE}"
    with pytest.raises(DnsError) as caught:
        dns_addresses.create(server, taken, RecordSet(("127.0.0.1",), 300), adopt=False)
    assert str(caught.value) == (
        f"wayshub:dns: {taken} already has records this stack does not own: {taken}. 300 IN A 192.0.2.20 "
        "(set dns.adopt: true to take them over)"
    )
    assert bind.dig(taken, "A") == ["192.0.2.20"], "nothing changed"
    with pytest.raises(DnsError, match=r"alias\.updates\.test\. 300 IN CNAME other\.updates\.test\. \(it is an alias"):
        dns_addresses.create(server, f"alias.{ZONE}", RecordSet(("127.0.0.1",), 300), adopt=True)
    dns_addresses.create(server, taken, RecordSet(("127.0.0.1",), 300), adopt=True)
    assert bind.dig(taken, "A") == ["127.0.0.1"]


def test_an_update_after_an_edit_elsewhere_refuses_instead_of_clobbering(bind: Bind) -> None:
    server, name = bind.server(), f"drift.{ZONE}"
    dns_addresses.create(server, name, RecordSet(("127.0.0.1",), 300), adopt=False)
    bind.edit_out_of_band(name, "A", ["127.0.0.1"], ["192.0.2.99"])
    with pytest.raises(
        DnsError, match=r"changed outside this stack \(it holds drift\.updates\.test\. 60 IN A 192\.0\.2\.99\)"
    ):
        dns_addresses.replace(server, name, RecordSet(("127.0.0.1",), 300), RecordSet(("127.0.0.3",), 300))
    assert bind.dig(name, "A") == ["192.0.2.99"]
    # What `refresh` then reads is what the server holds; an update from there restores ours.
    now = dns_addresses.read(server, name)
    dns_addresses.replace(server, name, now, RecordSet(("127.0.0.1",), 300))
    assert bind.dig(name, "A") == ["127.0.0.1"]


def test_a_wrong_key_is_one_line_and_changes_nothing(bind: Bind) -> None:
    name = f"wrongkey.{ZONE}"
    wrong = "A" * 43 + "="
    for server, expected in (
        (bind.server(secret=wrong), "rejected the TSIG signature of key 'wayshub-update'"),
        (bind.server(key_name="someone-else"), "does not know TSIG key 'someone-else'"),
    ):
        with pytest.raises(DnsError) as caught:
            dns_addresses.create(server, name, RecordSet(("127.0.0.1",), 300), adopt=False)
        text = str(caught.value)
        assert expected in text and "\n" not in text and bind.secret not in text, text
    assert bind.dig(name, "A") == []


def test_a_server_that_does_not_answer_fails_within_the_timeout(bind: Bind) -> None:
    started = time.monotonic()
    with pytest.raises(DnsError) as caught:
        dns_addresses.read(bind.server(address=UNUSED_ADDRESS, port=53, timeout=3.0), f"site.{ZONE}")
    took = time.monotonic() - started
    assert str(caught.value).startswith("wayshub:dns: ") and f"{UNUSED_ADDRESS}:53" in str(caught.value)
    assert took < 60, f"took {took:.0f}s"
    with pytest.raises(
        DnsError, match=rf"cannot reach the DNS server at 127\.0\.0\.1:{UNUSED_PORT}: Connection refused"
    ):
        dns_addresses.read(bind.server(port=UNUSED_PORT), f"site.{ZONE}")
