"""An ACME client (RFC 8555) for one domain's certificate, through certbot's ``acme`` library: account, order,
one challenge per authorization (HTTP-01 or DNS-01), poll, finalize, chain. Pure Python, no Pulumi.

Where the answer is published is the caller's: a ``ChallengeAnswerer`` puts the token (HTTP-01: the file name
under ``/.well-known/acme-challenge/`` and the key authorization it serves) or the TXT record (DNS-01:
``_acme-challenge.<domain>`` and its value), and removes it afterwards, whatever happened. ``DnsAnswerer``
writes TXT records through components/names/dns_update.py (RFC 2136, TSIG); the LB's HTTP-01 answerer (files
over SSH that nginx serves) is in acme_certificate.py, with the Pulumi resource that issues and renews.

Failures are one ``AcmeError`` line naming the step and the domain, with the server's problem detail, e.g.
``ACME http-01 challenge for wayshub.test failed: <detail>``; never a traceback, never a key.
"""

from __future__ import annotations

import datetime
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal, Protocol

from acme import challenges, client, crypto_util, errors, messages
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from josepy.errors import DeserializationError
from josepy.jwa import ES256, ES384, RS256, JWASignature
from josepy.jwk import JWK, JWKEC, JWKRSA

from components.names import dns_update

Challenge = Literal["http-01", "dns-01"]
CHALLENGES: tuple[Challenge, ...] = ("http-01", "dns-01")
USER_AGENT = "wayshub-infra"


class AcmeError(Exception):
    """One line: which step failed for which domain, and what the server (or the network) said."""


class ChallengeAnswerer(Protocol):
    """Publishes a challenge's answer where the ACME server looks, and takes it down again.

    HTTP-01: ``name`` is the token (served at ``http://<domain>/.well-known/acme-challenge/<token>``), ``value``
    the key authorization (the body to serve). DNS-01: ``name`` is ``_acme-challenge.<domain>``, ``value`` the
    TXT record's text. ``remove`` gets the same pair ``put`` got and must leave anything else there alone.
    """

    def put(self, name: str, value: str) -> None: ...

    def remove(self, name: str, value: str) -> None: ...


@dataclass(frozen=True)
class DnsAnswerer:
    """DNS-01 answers as TXT records on the zone's primary (RFC 2136, TSIG; the rules of dns_update: other
    values at the name are kept, only ours is removed). ``put`` reads the record back before returning, so
    the ACME server is not asked to look before the primary holds it."""

    server: dns_update.Server
    ttl: int = 60

    def put(self, name: str, value: str) -> None:
        dns_update.add_txt(self.server, name, value, self.ttl)
        if value not in dns_update.read_txt(self.server, name):
            raise dns_update.DnsError(
                f"{dns_update.SETTING}: the server at {self.server.where} accepted the TXT record at {name} "
                "but does not answer with it"
            )

    def remove(self, name: str, value: str) -> None:
        dns_update.remove_txt(self.server, name, value)


@dataclass(frozen=True)
class Issued:
    """A certificate and the keys that go with it (PEM text). ``warnings``: what went wrong after issuance
    (an answer that could not be removed): the certificate is good, the line says what to clean up."""

    certificate_chain_pem: str
    private_key_pem: str = field(repr=False)
    account_key_pem: str = field(repr=False)
    not_after: datetime.datetime
    warnings: tuple[str, ...] = ()


def renew_due(not_after: datetime.datetime, renew_days_before: float, now: datetime.datetime) -> bool:
    """True once ``now`` is within ``renew_days_before`` days of ``not_after`` (or past it). Both aware."""
    return now >= not_after - datetime.timedelta(days=renew_days_before)


def not_after_of(chain_pem: str) -> datetime.datetime:
    """The expiry (UTC, aware) of the first certificate in ``chain_pem``: the leaf."""
    return x509.load_pem_x509_certificates(chain_pem.encode())[0].not_valid_after_utc


def problem_text(problem: messages.Error | str | None) -> str:
    """An ACME problem document (or any text) as one line: its detail, else its title, else its type."""
    if isinstance(problem, messages.Error):
        text = problem.detail or problem.title or problem.description or problem.typ
        subs = "; ".join(problem_text(sub) for sub in problem.subproblems or ())
        text = f"{text} ({subs})" if subs else text
    else:
        text = problem or "no detail given"
    return " ".join(str(text).split())


def failure_line(what: str, domain: str, reason: str) -> str:
    """``ACME <what> for <domain> failed: <reason>``, on one line."""
    return " ".join(f"ACME {what} for {domain} failed: {reason}".split())


def network_reason(err: OSError, url: str) -> str:
    """A requests/urllib3 error (their text nests every cause) cut down to what a person acts on."""
    text = str(err)
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return f"the TLS certificate of {url} is not trusted (for a private ACME server, give its CA bundle)"
    for marker, reason in (
        ("Connection refused", "connection refused"),
        ("Name or service not known", "its name does not resolve"),
        ("nodename nor servname", "its name does not resolve"),
        ("timed out", "no answer in time"),
        ("Connection reset", "the connection was reset"),
    ):
        if marker in text:
            return f"cannot reach {url}: {reason}"
    return f"cannot reach {url}: {type(err).__name__}"


def new_account_key_pem() -> str:
    """A fresh account key: EC P-256 (signs as ES256)."""
    return _pem(ec.generate_private_key(ec.SECP256R1()))


def _pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _account_jwk(account_key_pem: str) -> tuple[JWK, JWASignature]:
    """The account key as a JWK and the JWS algorithm it signs with (EC P-256/P-384 or RSA)."""
    try:
        key = serialization.load_pem_private_key(account_key_pem.encode(), password=None)
    except (ValueError, TypeError) as err:
        raise AcmeError(f"ACME account key is not a PEM private key without a passphrase: {err}") from None
    if isinstance(key, rsa.RSAPrivateKey):
        return JWKRSA(key=key), RS256
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name in ("secp256r1", "secp384r1"):
        return JWKEC(key=key), ES256 if key.curve.name == "secp256r1" else ES384
    raise AcmeError(f"ACME account key must be RSA or EC P-256/P-384, not {type(key).__name__}")


@contextmanager
def _trust(ca_bundle: str | None) -> Iterator[str | bool]:
    """What requests verifies the server's TLS with: the system's CAs, or ``ca_bundle`` (PEM text) in a file."""
    if ca_bundle is None:
        yield True
        return
    with tempfile.NamedTemporaryFile("w", prefix="wayshub-acme-ca-", suffix=".pem") as bundle:
        bundle.write(ca_bundle)
        bundle.flush()
        yield bundle.name


@contextmanager
def _failing_as(what: str, domain: str, url: str) -> Iterator[None]:
    """The block's failures turned into one AcmeError line naming ``what`` (the step) and ``domain``."""
    try:
        yield
    except AcmeError:
        raise
    except messages.Error as problem:
        raise AcmeError(failure_line(what, domain, problem_text(problem))) from None
    except errors.ValidationError as err:
        details = [
            problem_text(challb.error)
            for authzr in err.failed_authzrs
            for challb in authzr.body.challenges
            if challb.error
        ]
        raise AcmeError(failure_line(what, domain, "; ".join(details) or "the server refused it")) from None
    except errors.IssuanceError as err:
        raise AcmeError(failure_line(what, domain, problem_text(err.error))) from None
    except errors.TimeoutError:
        raise AcmeError(failure_line(what, domain, "still pending when the time allowed ran out")) from None
    except OSError as err:  # requests' errors are OSErrors
        raise AcmeError(failure_line(what, domain, network_reason(err, url))) from None
    except dns_update.DnsError as err:
        raise AcmeError(failure_line(what, domain, str(err))) from None
    except (errors.Error, DeserializationError, ValueError) as err:
        raise AcmeError(failure_line(what, domain, problem_text(str(err)) or type(err).__name__)) from None


def _register(acme: client.ClientV2, email: str | None) -> None:
    """Make the account, or find the one this key already has (the server answers 200 + its URL)."""
    try:
        acme.new_account(messages.NewRegistration.from_data(email=email or None, terms_of_service_agreed=True))
    except errors.ConflictError as existing:
        acme.query_registration(messages.RegistrationResource(uri=existing.location, body=messages.Registration()))


def _answers(
    order: messages.OrderResource, challenge: Challenge, jwk: JWK, domain: str
) -> list[tuple[messages.ChallengeBody, challenges.ChallengeResponse, str, str]]:
    """Per pending authorization: the chosen challenge, its response, and the (name, value) to publish."""
    wanted = challenges.HTTP01 if challenge == "http-01" else challenges.DNS01
    found = []
    for authzr in order.authorizations:
        if authzr.body.status == messages.STATUS_VALID:
            continue  # the server reuses an authorization this account already proved
        offered = [challb for challb in authzr.body.challenges if isinstance(challb.chall, wanted)]
        if not offered:
            typs = ", ".join(challb.chall.typ for challb in authzr.body.challenges) or "none"
            raise AcmeError(failure_line(f"{challenge} challenge", domain, f"the server offers only: {typs}"))
        challb = offered[0]
        response, validation = challb.response_and_validation(jwk)
        name = challb.chall.encode("token") if challenge == "http-01" else challb.chall.validation_domain_name(domain)
        found.append((challb, response, name, str(validation)))
    return found


def issue(
    directory_url: str,
    email: str | None,
    domain: str,
    challenge: Challenge,
    answer: ChallengeAnswerer,
    account_key_pem: str | None = None,
    ca_bundle: str | None = None,
    timeout: float = 90.0,
    network_timeout: int = 30,
) -> Issued:
    """A certificate for ``domain`` from the ACME server at ``directory_url``, proved by ``challenge``.

    ``account_key_pem``: the account's key (None: a new account with a new EC P-256 key, returned in
    ``Issued``). ``ca_bundle``: PEM text to trust the server's HTTPS with (a private ACME server), else the
    system's CAs. ``timeout``: seconds for validation and issuance together. The certificate key is a new
    EC P-256 key. Every answer put is removed afterwards, whether issuance worked or not.
    """
    if challenge not in CHALLENGES:
        raise AcmeError(f"ACME challenge {challenge!r} is not one of {', '.join(CHALLENGES)}")
    account_key_pem = account_key_pem or new_account_key_pem()
    jwk, alg = _account_jwk(account_key_pem)
    private_key_pem = _pem(ec.generate_private_key(ec.SECP256R1()))
    csr_pem = crypto_util.make_csr(private_key_pem.encode(), [domain])
    with _trust(ca_bundle) as verify:
        net = client.ClientNetwork(jwk, alg=alg, user_agent=USER_AGENT, timeout=network_timeout)
        net.verify_ssl = verify  # type: ignore[assignment]  # requests takes a bundle path too
        with _failing_as("directory", domain, directory_url):
            acme = client.ClientV2(client.ClientV2.get_directory(directory_url, net), net)
        with _failing_as("account registration", domain, directory_url):
            _register(acme, email)
        with _failing_as("new order", domain, directory_url):
            order = acme.new_order(csr_pem)
        deadline = datetime.datetime.now() + datetime.timedelta(seconds=timeout)
        published: list[tuple[str, str]] = []
        try:
            with _failing_as(f"{challenge} challenge", domain, directory_url):
                for challb, response, name, value in _answers(order, challenge, jwk, domain):
                    answer.put(name, value)
                    published.append((name, value))
                    acme.answer_challenge(challb, response)
                order = acme.poll_authorizations(order, deadline)
            with _failing_as("finalization", domain, directory_url):
                order = acme.finalize_order(order, deadline)
        finally:
            warnings = _remove_all(answer, published, challenge, domain)
    chain = order.fullchain_pem
    if not chain:
        raise AcmeError(failure_line("finalization", domain, "the server sent no certificate"))
    return Issued(chain, private_key_pem, account_key_pem, not_after_of(chain), warnings)


def _remove_all(
    answer: ChallengeAnswerer, published: list[tuple[str, str]], challenge: Challenge, domain: str
) -> tuple[str, ...]:
    """Take every published answer down; what could not be is a warning line each (never an exception)."""
    warnings = []
    for name, value in published:
        try:
            answer.remove(name, value)
        except Exception as err:  # one line per leftover: the issued certificate matters more
            warnings.append(failure_line(f"{challenge} clean-up", domain, f"{name} is still published: {err}"))
    return tuple(warnings)
