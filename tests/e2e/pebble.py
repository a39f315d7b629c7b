"""A real Pebble (Let's Encrypt's ACME test server) for the ACME tests, started and stopped by the tests.

The binary comes from scripts/ensure-pebble (built from its Go module, pinned in tools/pebble/, cached like the
engine). Nothing is taken from Pebble's source tree: the harness makes a throwaway CA and a certificate for
127.0.0.1/localhost for Pebble's own HTTPS API, writes its config, and starts it on 127.0.0.1 with:

- its ACME API on ``ACME_PORT`` and its management API on ``MANAGEMENT_PORT`` (``/roots/0``: the root it
  issues under, so a test can verify what it got);
- HTTP-01 validation fetched from ``<domain>:CHALLENGE_HTTP_PORT`` (where ``ChallengeServer`` answers);
- names resolved by the DNS server the caller gives (the tests' BIND: tests/e2e/bind_server.py), so the test
  domain's A record points at 127.0.0.1 and DNS-01's TXT records are read from there;
- ``PEBBLE_VA_NOSLEEP=1`` (no random wait before validating) and ``PEBBLE_WFE_NONCEREJECT=0`` (no bad-nonce
  errors thrown in on purpose) and ``PEBBLE_AUTHZREUSE=100`` (an account's valid authorization is always
  reused, never by chance), so runs are fast and the same every time.

Only the process this harness started is stopped, by its pid. Ports follow the e2e slot (tests/e2e/slots.py).
"""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.e2e import slots
from tests.e2e.pulumi_cli import REPO

HOST = "127.0.0.1"
ACME_PORT = slots.PEBBLE_PORT
MANAGEMENT_PORT = ACME_PORT + 1
CHALLENGE_HTTP_PORT = ACME_PORT + 2
CHALLENGE_TLS_PORT = ACME_PORT + 3  # Pebble's config needs one; no test answers TLS-ALPN-01
START_SECONDS = 30
ENV = {"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0", "PEBBLE_AUTHZREUSE": "100"}


@dataclass(frozen=True)
class Pebble:
    """The running server: its directory, the PEM that trusts its HTTPS API, and the root it issues under."""

    directory_url: str
    ca_bundle: str
    root_pem: str
    log: Path

    def verify(self, chain_pem: str, domain: str) -> x509.Certificate:
        """The leaf of ``chain_pem`` if it chains to Pebble's root and is valid for ``domain`` now (else raises)."""
        from cryptography.x509 import verification

        leaf, *intermediates = x509.load_pem_x509_certificates(chain_pem.encode())
        store = verification.Store(x509.load_pem_x509_certificates(self.root_pem.encode()))
        verifier = verification.PolicyBuilder().store(store).build_server_verifier(x509.DNSName(domain))
        verifier.verify(leaf, intermediates)
        return leaf


def pebble_binary() -> str:
    """scripts/ensure-pebble's binary (built on first use). Skips only when there is no Go to build it with."""
    result = subprocess.run([str(REPO / "scripts" / "ensure-pebble")], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        if shutil.which("go") is None:
            pytest.skip("Pebble is not built and there is no Go toolchain to build it (scripts/ensure-pebble)")
        raise AssertionError(f"scripts/ensure-pebble failed:\n{result.stderr[-3000:]}")
    return result.stdout.strip()


def _pem(item: x509.Certificate | ec.EllipticCurvePrivateKey) -> str:
    if isinstance(item, x509.Certificate):
        return item.public_bytes(serialization.Encoding.PEM).decode()
    return item.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def api_certificate() -> tuple[str, str, str]:
    """A throwaway CA and, signed by it, a certificate for 127.0.0.1 and localhost: (ca, cert, key) as PEM."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "wayshub test CA for Pebble's API")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )  # keyCertSign, cRLSign
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return _pem(ca), _pem(cert), _pem(key)


def config(cert_file: Path, key_file: Path, http_port: int = CHALLENGE_HTTP_PORT) -> dict[str, object]:
    """Pebble's configuration: listen on 127.0.0.1 only, validate HTTP-01 at ``http_port``."""
    return {
        "pebble": {
            "listenAddress": f"{HOST}:{ACME_PORT}",
            "managementListenAddress": f"{HOST}:{MANAGEMENT_PORT}",
            "certificate": str(cert_file),
            "privateKey": str(key_file),
            "httpPort": http_port,
            "tlsPort": CHALLENGE_TLS_PORT,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
            "retryAfter": {"authz": 1, "order": 1},
            "profiles": {"default": {"description": "the tests' profile", "validityPeriod": 7776000}},
        }
    }


def _get(url: str, ca_bundle: str) -> str:
    context = ssl.create_default_context(cadata=ca_bundle)
    with urllib.request.urlopen(url, context=context, timeout=5) as response:  # noqa: S310 - https to our Pebble
        return str(response.read().decode())


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the Pebble this harness started (its pid only)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def pebble_server(
    dns_server: str, binary: str | None = None, http_port: int = CHALLENGE_HTTP_PORT, reuse_authorizations: bool = True
) -> Iterator[Pebble]:
    """Start Pebble (``binary``, default ``pebble_binary()``) resolving names at ``dns_server`` (``host:port``),
    fetching HTTP-01 answers from port ``http_port``; stop it afterwards, whatever happens.
    ``reuse_authorizations=False``: every order is validated again (a renewal proves control again)."""
    binary = binary or pebble_binary()
    with tempfile.TemporaryDirectory(prefix="wayshub-pebble-") as folder:
        root = Path(folder)
        ca_pem, cert_pem, key_pem = api_certificate()
        (root / "cert.pem").write_text(cert_pem)
        (root / "key.pem").write_text(key_pem)
        (root / "config.json").write_text(json.dumps(config(root / "cert.pem", root / "key.pem", http_port), indent=2))
        log = root / "pebble.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [binary, "-config", str(root / "config.json"), "-dnsserver", dns_server],
                cwd=root,
                env={**os.environ, **ENV, **({} if reuse_authorizations else {"PEBBLE_AUTHZREUSE": "0"})},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            directory_url = f"https://{HOST}:{ACME_PORT}/dir"
            _wait_ready(process, directory_url, ca_pem, log)
            root_pem = _get(f"https://{HOST}:{MANAGEMENT_PORT}/roots/0", ca_pem)
            yield Pebble(directory_url=directory_url, ca_bundle=ca_pem, root_pem=root_pem, log=log)
        finally:
            _stop(process)


def _wait_ready(process: subprocess.Popen[bytes], url: str, ca_pem: str, log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while True:
        if process.poll() is not None:
            raise AssertionError(f"pebble exited {process.returncode} at start:\n{log.read_text()[-3000:]}")
        try:
            _get(url, ca_pem)
            return
        except OSError as err:
            if time.monotonic() > deadline:
                raise AssertionError(f"pebble did not answer {url} within {START_SECONDS}s: {err}") from None
            time.sleep(0.2)


class ChallengeServer:
    """HTTP-01 answers served on 127.0.0.1:CHALLENGE_HTTP_PORT (an ``acme.ChallengeAnswerer``). ``requests``
    counts the fetches Pebble made; ``tamper`` changes what is served (a wrong answer)."""

    def __init__(self, tamper: str = "") -> None:
        self.answers: dict[str, str] = {}
        self.requests: list[str] = []
        self.tamper = tamper
        answers, fetched = self.answers, self.requests

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fetched.append(self.path)
                token = self.path.removeprefix("/.well-known/acme-challenge/")
                body = answers.get(token)
                self.send_response(200 if body is not None else 404)
                self.end_headers()
                self.wfile.write((body or "not found").encode())

            def log_message(self, format: str, *args: object) -> None:  # quiet
                return

        self._server = http.server.ThreadingHTTPServer((HOST, CHALLENGE_HTTP_PORT), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def put(self, name: str, value: str) -> None:
        self.answers[name] = value + self.tamper

    def remove(self, name: str, value: str) -> None:
        del self.answers[name]

    def __enter__(self) -> ChallengeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
