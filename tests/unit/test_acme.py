"""The ACME client layer's pure parts (components/load_balancer/acme.py): when to renew, the one-line failures,
the account key, and the DNS-01 answerer's exact RFC 2136 messages against a fake server.

Issuance itself runs against a real Pebble and BIND in tests/e2e/test_acme_client.py.
"""

from __future__ import annotations

import datetime

import dns.query
import dns.rcode
import pytest
from acme import challenges, errors, messages
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from components.load_balancer import acme
from components.names import dns_update
from components.names.dns_update import DnsError
from tests.unit.test_dns_records import SERVER, FakeServer

UTC = datetime.UTC
NOT_AFTER = datetime.datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
RECORD = "_acme-challenge.wayshub.test"
VALUE = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"


@pytest.mark.parametrize(
    ("now", "due"),
    [
        (datetime.datetime(2027, 1, 1, tzinfo=UTC), False),  # 59.5 days left
        (datetime.datetime(2027, 1, 30, 11, 59, 59, tzinfo=UTC), False),  # one second before the window
        (datetime.datetime(2027, 1, 30, 12, 0, tzinfo=UTC), True),  # exactly 30 days before
        (datetime.datetime(2027, 2, 20, tzinfo=UTC), True),
        (datetime.datetime(2027, 4, 1, tzinfo=UTC), True),  # already expired
    ],
)
def test_renew_due_opens_renew_days_before_not_after(now: datetime.datetime, due: bool) -> None:
    assert acme.renew_due(NOT_AFTER, 30, now) is due


def test_renew_due_with_zero_days_means_at_expiry() -> None:
    assert not acme.renew_due(NOT_AFTER, 0, NOT_AFTER - datetime.timedelta(seconds=1))
    assert acme.renew_due(NOT_AFTER, 0, NOT_AFTER)


def test_a_problem_document_is_one_line_detail_first() -> None:
    problem = messages.Error.with_code("unauthorized", detail="The key authorization\nfile did not match")
    assert acme.problem_text(problem) == "The key authorization file did not match"
    assert acme.problem_text(messages.Error.with_code("rateLimited", title="Too many")) == "Too many"
    assert acme.problem_text(messages.Error.with_code("badCSR")) == "The CSR is unacceptable (e.g., due to a short key)"
    assert acme.problem_text(None) == "no detail given"
    assert (
        acme.failure_line("http-01 challenge", "wayshub.test", acme.problem_text(problem))
        == "ACME http-01 challenge for wayshub.test failed: The key authorization file did not match"
    )


def test_subproblems_are_named_in_the_line() -> None:
    sub = {"type": "urn:ietf:params:acme:error:rejectedIdentifier", "detail": "bad.test is blocked"}
    problem = messages.Error.from_json(
        {
            "type": "urn:ietf:params:acme:error:compound",
            "detail": "Some identifiers were rejected",
            "subproblems": [sub],
        }
    )
    assert acme.problem_text(problem) == "Some identifiers were rejected (bad.test is blocked)"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            "HTTPSConnectionPool(host='127.0.0.1', port=14000): Max retries exceeded (Caused by SSLError("
            "SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed')))",
            "the TLS certificate of https://ca.test/dir is not trusted (for a private ACME server, give its CA bundle)",
        ),
        (
            "HTTPSConnectionPool(...): Failed to establish a new connection: [Errno 111] Connection refused",
            "cannot reach https://ca.test/dir: connection refused",
        ),
        ("Read timed out. (read timeout=30)", "cannot reach https://ca.test/dir: no answer in time"),
        ("something else entirely", "cannot reach https://ca.test/dir: OSError"),
    ],
)
def test_network_errors_are_cut_to_what_to_act_on(text: str, reason: str) -> None:
    assert acme.network_reason(OSError(text), "https://ca.test/dir") == reason


def _failed_authz() -> errors.ValidationError:
    challb = messages.ChallengeBody(
        chall=challenges.HTTP01(token=b"x" * 16),
        uri="https://ca.test/chall/1",
        status=messages.STATUS_INVALID,
        error=messages.Error.with_code("connection", detail="127.0.0.1: Connection refused"),
    )
    authz = messages.Authorization(
        identifier=messages.Identifier(typ=messages.IDENTIFIER_FQDN, value="wayshub.test"),
        challenges=[challb],
        status=messages.STATUS_INVALID,
    )
    return errors.ValidationError([messages.AuthorizationResource(body=authz, uri="https://ca.test/authz/1")])


@pytest.mark.parametrize(
    ("raised", "line"),
    [
        (_failed_authz(), "ACME http-01 challenge for wayshub.test failed: 127.0.0.1: Connection refused"),
        (
            errors.TimeoutError(),
            "ACME http-01 challenge for wayshub.test failed: still pending when the time allowed ran out",
        ),
        (
            messages.Error.with_code("malformed", detail="no such account"),
            "ACME http-01 challenge for wayshub.test failed: no such account",
        ),
        (
            DnsError("wayshub:dns: the server at 10.0.0.53:53 answered REFUSED to adding TXT x"),
            "ACME http-01 challenge for wayshub.test failed: wayshub:dns: the server at 10.0.0.53:53 answered REFUSED to adding TXT x",
        ),
        (
            OSError("[Errno 111] Connection refused"),
            "ACME http-01 challenge for wayshub.test failed: cannot reach https://ca.test/dir: connection refused",
        ),
    ],
)
def test_every_failure_becomes_one_line_without_a_chained_traceback(raised: Exception, line: str) -> None:
    with (
        pytest.raises(acme.AcmeError) as caught,
        acme._failing_as("http-01 challenge", "wayshub.test", "https://ca.test/dir"),
    ):
        raise raised
    assert str(caught.value) == line
    assert caught.value.__suppress_context__ and caught.value.__cause__ is None


def test_an_unknown_challenge_or_a_bad_account_key_is_refused_before_any_request() -> None:
    with pytest.raises(acme.AcmeError, match=r"^ACME challenge 'tls-alpn-01' is not one of http-01, dns-01$"):
        acme.issue("https://ca.test/dir", None, "wayshub.test", "tls-alpn-01", object(), None)  # type: ignore[arg-type]
    with pytest.raises(acme.AcmeError, match=r"^ACME account key is not a PEM private key"):
        acme.issue("https://ca.test/dir", None, "wayshub.test", "http-01", object(), "not a key")  # type: ignore[arg-type]
    ed = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(
        acme.AcmeError, match=r"^ACME account key must be RSA or EC P-256/P-384, not Ed25519PrivateKey$"
    ):
        acme.issue("https://ca.test/dir", None, "wayshub.test", "http-01", object(), ed.decode())  # type: ignore[arg-type]


def test_a_new_account_key_is_ec_p256_and_signs_as_es256() -> None:
    pem = acme.new_account_key_pem()
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    assert acme._account_jwk(pem)[1].name == "ES256"


def test_issued_never_shows_its_keys() -> None:
    issued = acme.Issued("CHAIN", "PRIVATE-KEY-TEXT", "ACCOUNT-KEY-TEXT", NOT_AFTER)
    assert "PRIVATE-KEY-TEXT" not in repr(issued) and "ACCOUNT-KEY-TEXT" not in repr(issued)


class _Fails:
    def put(self, name: str, value: str) -> None:
        raise AssertionError("not called")

    def remove(self, name: str, value: str) -> None:
        raise OSError("ssh: connection closed")


def test_an_answer_that_cannot_be_removed_is_a_warning_not_a_lost_certificate() -> None:
    assert acme._remove_all(_Fails(), [("tok", "val")], "http-01", "wayshub.test") == (
        "ACME http-01 clean-up for wayshub.test failed: tok is still published: ssh: connection closed",
    )


# The DNS-01 answerer: RFC 2136 messages, as dnspython prints them, against tests/unit/test_dns_records.py's fake.


def test_dns_answerer_adds_our_txt_value_only_and_reads_it_back(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeServer([dns.rcode.NOERROR], answers={f"{RECORD}. TXT": [f'"{VALUE}"', '"v=spf1 -all"']})
    monkeypatch.setattr(dns.query, "tcp", fake)
    acme.DnsAnswerer(SERVER, ttl=60).put(RECORD, VALUE)
    assert fake.sent == [
        f';ZONE\nwayshub.test. IN SOA\n;PREREQ\n{RECORD}. NONE CNAME\n;UPDATE\n{RECORD}. 60 IN TXT "{VALUE}"'
    ], "no prerequisite on the TXT set and no delete: values others put there stay"
    assert fake.queries == [f"{RECORD}. TXT"]


def test_dns_answerer_removes_our_value_only(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeServer([dns.rcode.NOERROR])
    monkeypatch.setattr(dns.query, "tcp", fake)
    acme.DnsAnswerer(SERVER).remove(RECORD, VALUE)
    assert fake.sent == [f';ZONE\nwayshub.test. IN SOA\n;PREREQ\n;UPDATE\n{RECORD}. 0 NONE TXT "{VALUE}"']


def test_dns_answerer_refuses_an_alias_and_a_server_that_does_not_answer_with_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(dns.query, "tcp", FakeServer([dns.rcode.YXRRSET]))
    with pytest.raises(DnsError, match=rf"^wayshub:dns: {RECORD} is an alias \(it has a CNAME record\)"):
        acme.DnsAnswerer(SERVER).put(RECORD, VALUE)
    monkeypatch.setattr(dns.query, "tcp", FakeServer([dns.rcode.NOERROR], answers={}))
    with pytest.raises(DnsError, match=r"accepted the TXT record at .* but does not answer with it$"):
        acme.DnsAnswerer(SERVER).put(RECORD, VALUE)
    monkeypatch.setattr(dns.query, "tcp", FakeServer([dns.rcode.REFUSED]))
    with pytest.raises(
        DnsError,
        match=r"answered REFUSED to adding TXT _acme-challenge\.wayshub\.test; the server refused it: does the zone",
    ):
        acme.DnsAnswerer(SERVER).put(RECORD, VALUE)


def test_txt_values_are_put_as_they_are_not_parsed_as_zone_file_text() -> None:
    assert dns_update.txt_rdata('a "quoted" value; x').to_text() == '"a \\"quoted\\" value; x"'
