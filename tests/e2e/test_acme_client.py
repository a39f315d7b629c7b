"""The ACME client layer (components/load_balancer/acme.py) against a real Pebble and a real BIND 9, no Pulumi.

Pebble (tests/e2e/pebble.py) resolves names at the tests' BIND (tests/e2e/bind_server.py): ``http.<zone>``
points at 127.0.0.1, where ``ChallengeServer`` answers HTTP-01; DNS-01's TXT records are written into the zone
through RFC 2136 and read back with BIND's own ``dig``. Certificates are verified against Pebble's root.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import DNSName, SubjectAlternativeName

from components.load_balancer import acme
from components.names import dns_addresses, dns_update
from tests.e2e.bind_server import Bind, bind_server
from tests.e2e.pebble import HOST, ChallengeServer, Pebble, pebble_binary, pebble_server

pytestmark = pytest.mark.e2e

ZONE = "acme.test"
HTTP_DOMAIN = f"http.{ZONE}"  # A record -> 127.0.0.1 (where ChallengeServer listens)
DNS_DOMAIN = f"dns.{ZONE}"  # no address at all: DNS-01 needs only the TXT record


@pytest.fixture(scope="module")
def pebble_bin() -> str:
    """Built (or found in the cache) first: without Go to build it, skip before starting BIND."""
    return pebble_binary()


@pytest.fixture(scope="module")
def bind(pebble_bin: str) -> Iterator[Bind]:
    with bind_server(ZONE) as server:
        dns_addresses.create(server.server(), HTTP_DOMAIN, dns_addresses.RecordSet((HOST,), 60), adopt=False)
        yield server


@pytest.fixture(scope="module")
def pebble(bind: Bind, pebble_bin: str) -> Iterator[Pebble]:
    with pebble_server(f"{bind.host}:{bind.port}", pebble_bin) as server:
        yield server


def _public(pem: str) -> bytes:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_http01_issues_a_certificate_that_chains_to_pebbles_root(pebble: Pebble) -> None:
    with ChallengeServer() as answers:
        issued = acme.issue(
            pebble.directory_url, "ops@acme.test", HTTP_DOMAIN, "http-01", answers, ca_bundle=pebble.ca_bundle
        )
        assert answers.requests, "Pebble fetched the token from the challenge server"
        assert all(r.startswith("/.well-known/acme-challenge/") for r in answers.requests)
        assert answers.answers == {}, "the token is taken down afterwards"
    leaf = pebble.verify(issued.certificate_chain_pem, HTTP_DOMAIN)
    assert leaf.extensions.get_extension_for_class(SubjectAlternativeName).value.get_values_for_type(DNSName) == [
        HTTP_DOMAIN
    ]
    assert leaf.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == _public(issued.private_key_pem), "the certificate is for the key returned with it"
    assert issued.not_after == leaf.not_valid_after_utc
    assert issued.warnings == ()
    assert "PRIVATE KEY" not in repr(issued)

    # The same account again (its key kept, as the stack will): found, not refused, and it is the same account,
    # since Pebble reuses the authorization it proved (PEBBLE_AUTHZREUSE=100): no fetch this time.
    with ChallengeServer() as answers:
        again = acme.issue(
            pebble.directory_url,
            "ops@acme.test",
            HTTP_DOMAIN,
            "http-01",
            answers,
            account_key_pem=issued.account_key_pem,
            ca_bundle=pebble.ca_bundle,
        )
        assert answers.requests == [], "the account's valid authorization was reused"
    assert again.account_key_pem == issued.account_key_pem
    assert again.private_key_pem != issued.private_key_pem
    pebble.verify(again.certificate_chain_pem, HTTP_DOMAIN)


class DiggingAnswerer:
    """The real DNS-01 answerer, and what BIND's own dig answered right after each put."""

    def __init__(self, inner: acme.DnsAnswerer, bind: Bind) -> None:
        self.inner, self.bind = inner, bind
        self.seen: list[tuple[str, str, list[str]]] = []

    def put(self, name: str, value: str) -> None:
        self.inner.put(name, value)
        self.seen.append((name, value, self.bind.dig(name, "TXT")))

    def remove(self, name: str, value: str) -> None:
        self.inner.remove(name, value)


def test_dns01_writes_the_txt_record_through_rfc2136_and_removes_only_it(pebble: Pebble, bind: Bind) -> None:
    name = f"_acme-challenge.{DNS_DOMAIN}"
    bind.edit_out_of_band(name, "TXT", [], ['"someone-else"'])  # another value there: it must stay
    answerer = DiggingAnswerer(acme.DnsAnswerer(bind.server(), ttl=30), bind)
    issued = acme.issue(pebble.directory_url, None, DNS_DOMAIN, "dns-01", answerer, ca_bundle=pebble.ca_bundle)

    pebble.verify(issued.certificate_chain_pem, DNS_DOMAIN)
    [(record, value, dug)] = answerer.seen
    assert record == name
    assert dug == sorted([f'"{value}"', '"someone-else"']), "BIND held our TXT while Pebble looked"
    assert bind.dig(name, "TXT") == ['"someone-else"'], "ours is gone afterwards, the other value stays"
    assert dns_update.read_txt(bind.server(), name) == ["someone-else"]


def test_a_refused_http01_challenge_is_one_line_naming_the_domain_and_the_servers_reason(pebble: Pebble) -> None:
    with ChallengeServer(tamper="-wrong") as answers, pytest.raises(acme.AcmeError) as caught:
        acme.issue(pebble.directory_url, None, HTTP_DOMAIN, "http-01", answers, ca_bundle=pebble.ca_bundle)
    line = str(caught.value)
    assert "\n" not in line
    assert line.startswith(f"ACME http-01 challenge for {HTTP_DOMAIN} failed: "), line
    assert "key authorization" in line.lower(), f"Pebble's detail is in the line: {line}"
    assert caught.value.__cause__ is None and caught.value.__suppress_context__, "no chained traceback"
    assert answers.answers == {}, "the wrong answer is taken down too"


def test_an_untrusted_acme_server_is_one_line(pebble: Pebble) -> None:
    with ChallengeServer() as answers, pytest.raises(acme.AcmeError) as caught:
        acme.issue(pebble.directory_url, None, HTTP_DOMAIN, "http-01", answers)  # no ca_bundle: system CAs
    assert str(caught.value) == (
        f"ACME directory for {HTTP_DOMAIN} failed: the TLS certificate of {pebble.directory_url} is not trusted "
        "(for a private ACME server, give its CA bundle)"
    )
