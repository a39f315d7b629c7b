"""A provided certificate chain and private key (PEM), checked as a pair for a name before any resource:
the rule the settings `tlsCertificate`/`tlsPrivateKey` and `siteTls` share (checks.py names the setting)."""

from __future__ import annotations

import datetime
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization

Part = Literal["certificate", "privateKey"]


class PairProblem(ValueError):
    """What is wrong with the pair, and which ``part`` of it (checks.py turns the part into a setting name)."""

    def __init__(self, part: Part, message: str) -> None:
        super().__init__(message)
        self.part = part


def covers(certificate: x509.Certificate, domain: str) -> bool:
    """The certificate's subjectAltName names ``domain`` (a wildcard covers one label)."""
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    for name in names.get_values_for_type(x509.DNSName):
        if name == domain or (name.startswith("*.") and domain.split(".", 1)[-1] == name[2:]):
            return True
    return False


def check_pair(certificate_pem: str, key_pem: str, domain: str) -> None:
    """Raise PairProblem unless the PEM certificate parses, covers ``domain``, is not expired and matches the key."""
    try:
        certificate = x509.load_pem_x509_certificate(certificate_pem.encode())
    except ValueError:
        raise PairProblem("certificate", "is not a PEM certificate") from None
    try:
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    except (ValueError, TypeError):
        raise PairProblem("privateKey", "is not an unencrypted PEM private key") from None
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    pem = serialization.Encoding.PEM
    if certificate.public_key().public_bytes(pem, public) != key.public_key().public_bytes(pem, public):
        raise PairProblem("privateKey", "does not match the certificate (different key pair)")
    if not covers(certificate, domain):
        raise PairProblem("certificate", f"does not name {domain} in its subjectAltName")
    if certificate.not_valid_after_utc < datetime.datetime.now(datetime.UTC):
        raise PairProblem("certificate", f"expired on {certificate.not_valid_after_utc:%Y-%m-%d}")
