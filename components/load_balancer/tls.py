"""TLS for the load balancer: a self-signed certificate (a provided pair is checked by components/config/certificate.py).

``SelfSignedTls`` makes a private CA and a certificate for the domain, once per stack; the keys live
only as Pulumi secrets. Clients trust the site through ``ca_certificate`` (an output), e.g.
``curl --cacert``.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

import pulumi
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider

VALID_DAYS = 825  # the longest lifetime clients accept for a server certificate


def _pem_key(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _certificate(
    subject: str,
    public_key: ec.EllipticCurvePublicKey,
    issuer: x509.Name | None,
    signing_key: CertificateIssuerPrivateKeyTypes,
    names: list[str] | None,
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer or name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
    )
    if names is None:  # the CA
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True).add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        builder = (
            builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        )
    return builder.sign(signing_key, hashes.SHA256())


def self_signed(domain: str, stack: str, aliases: list[str] | None = None) -> dict[str, str]:
    """A CA and a server certificate for ``domain`` and its ``aliases`` (PEM), with the server's private key."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate(f"wayshub-infra {stack} CA", ca_key.public_key(), None, ca_key, None)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _certificate(domain, server_key.public_key(), ca.subject, ca_key, [domain, *(aliases or [])])
    pem = serialization.Encoding.PEM
    return {
        "ca_certificate": ca.public_bytes(pem).decode(),
        "certificate": server.public_bytes(pem).decode() + ca.public_bytes(pem).decode(),
        "private_key": _pem_key(server_key),
    }


class SelfSignedTlsProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        made = self_signed(props["domain"], props["stack"], props.get("aliases"))
        return CreateResult(id_=f"{props['stack']}:{props['domain']}", outs={**props, **made})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in ("domain", "stack", "aliases") if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=changed)


class SelfSignedTls(Resource, module="wayshub", name="SelfSignedTls"):
    """``private_key`` is secret; ``certificate`` (server + CA) and ``ca_certificate`` are public."""

    ca_certificate: pulumi.Output[str]
    certificate: pulumi.Output[str]
    private_key: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        domain: str,
        stack: str,
        opts: pulumi.ResourceOptions | None = None,
        aliases: Sequence[str] = (),
    ) -> None:
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["private_key"]))
        props: dict[str, Any] = {
            "domain": domain,
            "stack": stack,
            "ca_certificate": None,
            "certificate": None,
            "private_key": None,
        }
        if aliases:  # only then: a certificate made before aliases existed shows no change
            props["aliases"] = list(aliases)
        super().__init__(SelfSignedTlsProvider(), name, props, opts)
