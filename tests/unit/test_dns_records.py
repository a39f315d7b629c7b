"""DNS records without a server: the exact RFC 2136 messages (prerequisites!), the provider's steps,
and the resource's inputs against Pulumi mocks (the TSIG secret stays secret).

The same steps against a real BIND 9 are in tests/e2e/test_dns_updates.py and tests/e2e/test_dns.py.
"""

from __future__ import annotations

from typing import Any

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.update
import pulumi
import pytest

from components.config import DnsConfig
from components.names import DnsRecordSet, DnsRecordSetArgs, DnsRecordSetProvider, dns_addresses, dns_update
from components.names.dns_addresses import RecordSet
from components.names.dns_update import DnsError
from tests.unit.pulumi_mocks import MOCKS, pulumi_test

SECRET = "dW5pdC10ZXN0LW9ubHktbm90LWEta2V5"  # base64 of text, not a key anyone uses
SERVER = dns_update.Server("10.0.0.53", 53, "wayshub.test", "wayshub-update", "hmac-sha256", SECRET, 5.0)
NAME = "wayshub.test"


class FakeServer:
    """Stands in for dns.query.tcp: keeps each message's sections as text, answers with the next rcode."""

    def __init__(self, rcodes: list[dns.rcode.Rcode], answers: dict[str, list[str]] | None = None) -> None:
        self.rcodes = rcodes
        self.answers = answers or {}
        self.sent: list[str] = []
        self.queries: list[str] = []

    def __call__(self, message: dns.message.Message, where: str, timeout: float, port: int) -> dns.message.Message:
        assert (where, port, timeout) == ("10.0.0.53", 53, 5.0)
        assert message.keyname is not None and message.keyname.to_text() == "wayshub-update.", "every message is signed"
        response = dns.message.make_response(message)
        if isinstance(message, dns.update.UpdateMessage):
            self.sent.append(_sections(message))
            response.set_rcode(self.rcodes.pop(0))
        else:
            question = message.question[0]
            key = f"{question.name} {dns.rdatatype.to_text(question.rdtype)}"
            self.queries.append(key)
            values = self.answers.get(key, [])
            if values:
                response.answer.append(dns.rrset.from_text_list(question.name, 120, "IN", question.rdtype, values))
        response.tsig = None  # unsigned: the fake has no key (dnspython then skips the check)
        return response


def _sections(message: dns.update.UpdateMessage) -> str:
    """ZONE, PREREQ and UPDATE as dnspython prints them (the TSIG record and id left out)."""
    lines = message.to_text().splitlines()
    start = lines.index(";ZONE")
    end = lines.index(";ADDITIONAL") if ";ADDITIONAL" in lines else len(lines)
    return "\n".join(lines[start:end])


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeServer:
    server = FakeServer([dns.rcode.NOERROR])
    monkeypatch.setattr(dns.query, "tcp", server)
    return server


def test_create_requires_the_name_free_of_a_aaaa_and_cname(fake: FakeServer) -> None:
    dns_addresses.create(SERVER, NAME, RecordSet(("127.0.0.1", "fd00::10"), 300), adopt=False)
    assert fake.sent == [
        ";ZONE\nwayshub.test. IN SOA\n"
        ";PREREQ\nwayshub.test. NONE CNAME\nwayshub.test. NONE A\nwayshub.test. NONE AAAA\n"
        ";UPDATE\nwayshub.test. 300 IN A 127.0.0.1\nwayshub.test. 300 IN AAAA fd00::10"
    ]


def test_adopt_replaces_the_a_and_aaaa_records_but_still_refuses_an_alias(fake: FakeServer) -> None:
    dns_addresses.create(SERVER, NAME, RecordSet(("127.0.0.1",), 300), adopt=True)
    assert fake.sent == [
        ";ZONE\nwayshub.test. IN SOA\n"
        ";PREREQ\nwayshub.test. NONE CNAME\n"
        ";UPDATE\nwayshub.test. ANY A\nwayshub.test. ANY AAAA\nwayshub.test. 300 IN A 127.0.0.1"
    ]


def test_create_on_a_taken_name_refuses_with_one_line_naming_the_records(monkeypatch: pytest.MonkeyPatch) -> None:
    server = FakeServer([dns.rcode.YXRRSET], {"wayshub.test. A": ["192.0.2.20", "192.0.2.21"]})
    monkeypatch.setattr(dns.query, "tcp", server)
    with pytest.raises(DnsError) as caught:
        dns_addresses.create(SERVER, NAME, RecordSet(("127.0.0.1",), 300), adopt=False)
    assert str(caught.value) == (
        "wayshub:dns: wayshub.test already has records this stack does not own: "
        "wayshub.test. 120 IN A 192.0.2.20; wayshub.test. 120 IN A 192.0.2.21 (set dns.adopt: true to take them over)"
    )


def test_update_applies_only_if_the_name_holds_exactly_what_we_wrote(fake: FakeServer) -> None:
    dns_addresses.replace(SERVER, NAME, RecordSet(("127.0.0.1",), 300), RecordSet(("127.0.0.2",), 60))
    assert fake.sent == [
        ";ZONE\nwayshub.test. IN SOA\n"
        ";PREREQ\nwayshub.test. 0 IN A 127.0.0.1\nwayshub.test. NONE AAAA\n"
        ";UPDATE\nwayshub.test. ANY A\nwayshub.test. ANY AAAA\nwayshub.test. 60 IN A 127.0.0.2"
    ]


def test_an_update_the_server_refuses_for_drift_says_so_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    server = FakeServer([dns.rcode.NXRRSET], {"wayshub.test. A": ["192.0.2.99"]})
    monkeypatch.setattr(dns.query, "tcp", server)
    with pytest.raises(DnsError, match=r"^wayshub:dns: wayshub.test changed outside this stack \(it holds "):
        dns_addresses.replace(SERVER, NAME, RecordSet(("127.0.0.1",), 300), RecordSet(("127.0.0.2",), 60))


def test_delete_removes_our_addresses_one_by_one_and_nothing_else(fake: FakeServer) -> None:
    dns_addresses.delete(SERVER, NAME, RecordSet(("127.0.0.1", "fd00::10"), 300))
    assert fake.sent == [
        ";ZONE\nwayshub.test. IN SOA\n;PREREQ\n"
        ";UPDATE\nwayshub.test. 0 NONE A 127.0.0.1\nwayshub.test. 0 NONE AAAA fd00::10"
    ]


def test_a_refused_update_names_the_policy_and_never_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dns.query, "tcp", FakeServer([dns.rcode.REFUSED]))
    with pytest.raises(DnsError) as caught:
        dns_addresses.create(SERVER, NAME, RecordSet(("127.0.0.1",), 300), adopt=False)
    assert str(caught.value) == (
        "wayshub:dns: the server at 10.0.0.53:53 answered REFUSED to adding wayshub.test; the server refused it: "
        "does the zone's update-policy grant this key these names?"
    )
    assert SECRET not in repr(SERVER)


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (
            dns.tsig.PeerBadSignature(),  # type: ignore[no-untyped-call]
            "rejected the TSIG signature of key 'wayshub-update'",
        ),
        (
            dns.tsig.PeerBadKey(),  # type: ignore[no-untyped-call]
            "does not know TSIG key 'wayshub-update'",
        ),
        (
            dns.exception.Timeout(),  # type: ignore[no-untyped-call]
            "no answer from the DNS server at 10.0.0.53:53 within 5s",
        ),
        (ConnectionRefusedError(111, "Connection refused"), "cannot reach the DNS server at 10.0.0.53:53"),
        (EOFError("EOF"), "the DNS server at 10.0.0.53:53 closed the connection without an answer"),
    ],
    ids=["bad-signature", "bad-key", "timeout", "refused", "closed"],
)
def test_transport_and_tsig_failures_are_one_line(
    monkeypatch: pytest.MonkeyPatch, error: Exception, message: str
) -> None:
    def fail(*_args: Any, **_kwargs: Any) -> None:
        raise error

    monkeypatch.setattr(dns.query, "tcp", fail)
    with pytest.raises(DnsError) as caught:
        dns_addresses.read(SERVER, NAME)
    text = str(caught.value)
    assert text.startswith("wayshub:dns: ") and message in text and "\n" not in text, text
    assert SECRET not in text


# --- the provider ---------------------------------------------------------------------------------

PROPS: dict[str, Any] = {
    "server": "10.0.0.53",
    "port": 53,
    "zone": "wayshub.test",
    "name": NAME,
    "keyName": "wayshub-update",
    "algorithm": "hmac-sha256",
    "tsigSecret": SECRET,
    "adopt": False,
    "timeoutSeconds": 5,
    "addresses": ["127.0.0.1"],
    "ttl": 300,
    "records": "wayshub.test. 300 IN A 127.0.0.1\n",
}


def test_provider_diff_replaces_on_a_new_server_or_name_and_updates_records_in_place() -> None:
    provider = DnsRecordSetProvider()
    assert provider.diff("id", PROPS, dict(PROPS)).changes is False
    moved = provider.diff("id", PROPS, {**PROPS, "addresses": ["127.0.0.2"]})
    assert (moved.changes, moved.replaces) == (True, [])
    rotated = provider.diff("id", PROPS, {**PROPS, "tsigSecret": "b3RoZXI="})
    assert (rotated.changes, rotated.replaces) == (True, [])
    renamed = provider.diff("id", PROPS, {**PROPS, "name": "www.wayshub.test", "server": "10.0.0.54"})
    assert (renamed.replaces, renamed.delete_before_replace) == (["server", "name"], False)


def test_provider_update_without_a_record_change_only_checks_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    server = FakeServer([], {"wayshub.test. A": ["127.0.0.1"]})
    monkeypatch.setattr(dns.query, "tcp", server)
    outs = DnsRecordSetProvider().update("id", PROPS, {**PROPS, "tsigSecret": "b3RoZXI=", "adopt": True}).outs
    assert server.sent == [], "no update message"
    assert server.queries == ["wayshub.test. A", "wayshub.test. AAAA"], "a signed read checks the new key"
    assert outs is not None and (outs["tsigSecret"], outs["adopt"]) == ("b3RoZXI=", True)


def test_provider_read_reports_what_the_server_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    server = FakeServer([], {"wayshub.test. A": ["192.0.2.99"]})
    monkeypatch.setattr(dns.query, "tcp", server)
    result = DnsRecordSetProvider().read("id", PROPS)
    outs = result.outs
    assert outs is not None
    assert result.inputs == outs, "refreshed inputs, so a preview shows the drift as record lines"
    assert (outs["addresses"], outs["ttl"], outs["records"]) == (
        ["192.0.2.99"],
        120,
        "wayshub.test. 120 IN A 192.0.2.99\n",
    )


# --- the resource, against Pulumi mocks -----------------------------------------------------------

SETTINGS = DnsConfig.model_validate({"server": "10.0.0.53", "zone": "wayshub.test", "keyName": "wayshub-update"})


@pulumi_test
def test_engine_receives_sorted_addresses_zone_lines_and_a_secret_key() -> pulumi.Output[None]:
    record = DnsRecordSet(
        "dns-mock",
        DnsRecordSetArgs(
            settings=SETTINGS,
            name=NAME,
            addresses=["FD00::0010", pulumi.Output.from_input("127.0.0.1")],
            tsig_secret=SECRET,
        ),
    )

    def check(values: list[Any]) -> None:
        is_secret, addresses, records = values
        assert is_secret, "dns-mock: tsigSecret must be secret"
        assert addresses == ["127.0.0.1", "fd00::10"]
        assert records == "wayshub.test. 300 IN A 127.0.0.1\nwayshub.test. 300 IN AAAA fd00::10\n"
        inputs = MOCKS.registered["dns-mock"].inputs
        assert {k: inputs[k] for k in ("server", "port", "zone", "name", "keyName", "algorithm", "ttl", "adopt")} == {
            "server": "10.0.0.53",
            "port": 53,
            "zone": "wayshub.test",
            "name": NAME,
            "keyName": "wayshub-update",
            "algorithm": "hmac-sha256",
            "ttl": 300,
            "adopt": False,
        }

    secret = record.tsigSecret  # type: ignore[attr-defined]
    return pulumi.Output.all(pulumi.Output.is_secret(secret), record.addresses, record.records).apply(check)


def test_a_plain_text_address_is_checked_before_the_engine_starts() -> None:
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 address"):
        DnsRecordSet("dns-bad", DnsRecordSetArgs(settings=SETTINGS, name=NAME, addresses=["lb"], tsig_secret=SECRET))
