"""Checks beyond the values: files on disk, the SSH key's form, app secrets, the TLS pair."""

from __future__ import annotations

import copy
import datetime
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from components.config import (
    DEFAULT_PASSPHRASE,
    ConfigError,
    check_app_secrets,
    check_passphrase,
    check_paths,
    check_ssh_private_key,
    check_tls,
    parse,
)
from components.hosts.ssh_key import generate_ed25519
from components.load_balancer.tls import self_signed
from tests.unit.test_config import EXISTING, GOOD

REPO = Path(__file__).resolve().parents[2]


def config(base: dict[str, Any], **changes: Any) -> Any:
    data = copy.deepcopy(base)
    data.update(changes)
    return parse(data)


def expired_pair(domain: str) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)])
    past = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(past)
        .not_valid_after(past + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(domain)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode(), pem_key.decode()


def test_paths_missing_app_source_and_a_directory_as_hosts_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^wayshub:app.source: .*/nowhere is not a folder$"):
        check_paths(config(GOOD, app={"source": "nowhere"}), REPO)
    with pytest.raises(ConfigError, match=r"^wayshub:hostsFile.path: .* is a directory, not a hosts file$"):
        check_paths(config(GOOD, hostsFile={"path": str(tmp_path)}), REPO)
    with pytest.raises(ConfigError, match=r"^wayshub:hostsFile.path: folder .*/missing does not exist$"):
        check_paths(config(GOOD, hostsFile={"path": str(tmp_path / "missing" / "hosts")}), REPO)
    (tmp_path / "app").mkdir()
    with pytest.raises(ConfigError, match=r"^wayshub:app.source: .* has no package.json$"):
        check_paths(config(GOOD), tmp_path)
    check_paths(config(GOOD, hostsFile={"path": str(tmp_path / "hosts")}), REPO)


def test_ssh_key_is_required_for_existing_hosts_and_must_be_a_key() -> None:
    check_ssh_private_key(config(GOOD), None)  # sandbox VMs make their own
    with pytest.raises(ConfigError, match=r"^wayshub:sshPrivateKey: is required with hosts.provider 'existing'"):
        check_ssh_private_key(config(EXISTING), None)
    with pytest.raises(ConfigError, match=r"^wayshub:sshPrivateKey: is not an SSH private key") as caught:
        check_ssh_private_key(config(EXISTING), "ssh-ed25519 AAAA a public key, not a private one")
    assert "AAAA" not in str(caught.value), "the message never repeats the secret"
    check_ssh_private_key(config(EXISTING), generate_ed25519("test")[0])


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("not json", "must be an object of NAME: value"),
        (json.dumps(["A"]), "must be an object of NAME: text value"),
        (json.dumps({"api_key": "x"}), "variable name 'api_key' must be UPPER_SNAKE_CASE"),
        (json.dumps({"LOG_LEVEL": "x"}), "LOG_LEVEL is also in app.env"),
    ],
)
def test_app_secrets_form(raw: str, message: str) -> None:
    with pytest.raises(ConfigError, match=rf"^wayshub:appSecrets: {message}"):
        check_app_secrets(config(GOOD, app={"env": {"LOG_LEVEL": "info"}}), raw)


def test_app_secrets_parse() -> None:
    assert check_app_secrets(config(GOOD), json.dumps({"API_KEY": "s3cr3t"})) == {"API_KEY": "s3cr3t"}


def test_tls_pair_checks() -> None:
    provided = config(GOOD, lb={"tls": "provided"})
    made = self_signed("wayshub.local", "test")
    other = self_signed("wayshub.local", "other")
    check_tls(provided, made["certificate"], made["private_key"])
    cases = [
        (made["certificate"], None, "tlsPrivateKey: is required with lb.tls 'provided'"),
        (None, made["private_key"], "tlsCertificate: is required with lb.tls 'provided'"),
        ("garbage", made["private_key"], "tlsCertificate: is not a PEM certificate"),
        (made["certificate"], "garbage", "tlsPrivateKey: is not an unencrypted PEM private key"),
        (
            made["certificate"],
            other["private_key"],
            r"tlsPrivateKey: does not match the certificate \(different key pair\)",
        ),
        (self_signed("elsewhere.example", "t")["certificate"], None, "tlsPrivateKey: is required"),
        (*expired_pair("wayshub.local"), "tlsCertificate: expired on 2020-01-02"),
    ]
    for certificate, key, message in cases:
        with pytest.raises(ConfigError, match=rf"^wayshub:{message}"):
            check_tls(provided, certificate, key)
    wrong_domain = self_signed("elsewhere.example", "t")
    with pytest.raises(ConfigError, match=r"^wayshub:tlsCertificate: does not name wayshub.local"):
        check_tls(provided, wrong_domain["certificate"], wrong_domain["private_key"])
    with pytest.raises(ConfigError, match=r"^wayshub:tlsCertificate: is set but lb.tls is 'off'"):
        check_tls(config(GOOD), made["certificate"], None)


def test_only_the_local_stack_may_use_the_default_passphrase(tmp_path: Path) -> None:
    check_passphrase("local", {"PULUMI_CONFIG_PASSPHRASE": DEFAULT_PASSPHRASE})
    check_passphrase("staging", {"PULUMI_CONFIG_PASSPHRASE": "a passphrase of our own"})
    with pytest.raises(ConfigError) as caught:
        check_passphrase("staging", {"PULUMI_CONFIG_PASSPHRASE": DEFAULT_PASSPHRASE})
    assert str(caught.value) == (
        "PULUMI_CONFIG_PASSPHRASE: stack 'staging' uses the default passphrase, which only the local stack may use; "
        "set your own (export PULUMI_CONFIG_PASSPHRASE=... or PULUMI_CONFIG_PASSPHRASE_FILE=<file>) before "
        "creating the stack"
    )
    passphrase_file = tmp_path / "passphrase"
    passphrase_file.write_text(DEFAULT_PASSPHRASE + "\n")
    with pytest.raises(ConfigError, match=r"^PULUMI_CONFIG_PASSPHRASE_FILE: stack 'prod' uses the default"):
        check_passphrase("prod", {"PULUMI_CONFIG_PASSPHRASE_FILE": str(passphrase_file)})
    passphrase_file.write_text("ours\n")
    check_passphrase("prod", {"PULUMI_CONFIG_PASSPHRASE_FILE": str(passphrase_file)})


@pytest.mark.parametrize(("stack", "given"), [("local", DEFAULT_PASSPHRASE), ("staging", ""), ("prod", "")])
def test_make_gives_the_default_passphrase_to_the_local_stack_only(stack: str, given: str) -> None:
    show = 'show-passphrase: ; @echo "[$${PULUMI_CONFIG_PASSPHRASE-}]"'
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_CONFIG_PASSPHRASE", "MAKE"))}
    result = subprocess.run(
        ["make", "-s", f"STACK={stack}", "--eval", show, "show-passphrase"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout == f"[{given}]\n"
