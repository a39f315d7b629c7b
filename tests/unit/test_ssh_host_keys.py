"""Host-key checking: a pinned key, or ~/.ssh/known_hosts; anything else is refused before login."""

from __future__ import annotations

from pathlib import Path

import paramiko
import pytest

from components.shell import ssh
from tests.unit.pulumi_mocks import fake_private_key_pem


def new_key() -> paramiko.PKey:
    return paramiko.ECDSAKey.generate()


def line(key: paramiko.PKey) -> str:
    return f"{key.get_name()} {key.get_base64()}"


def check(expected: str | None, key: paramiko.PKey, port: int = 22, host: str = "10.0.0.5") -> None:
    ssh._PinnedHostKey(expected, port).missing_host_key(paramiko.SSHClient(), host, key)


@pytest.fixture()
def known_hosts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "known_hosts"
    monkeypatch.setattr(ssh, "KNOWN_HOSTS", path)
    return path


def test_the_pinned_key_is_accepted_and_any_other_refused(known_hosts: Path) -> None:
    good, other = new_key(), new_key()
    check(line(good), good)
    with pytest.raises(ssh.HostKeyMismatch, match=r"host key of 10.0.0.5:22 is ecdsa-sha2-nistp256 .*not the pinned"):
        check(line(good), other)


def test_without_a_pin_only_a_key_listed_in_known_hosts_is_accepted(known_hosts: Path) -> None:
    good, other = new_key(), new_key()
    known_hosts.write_text(f"[10.0.0.5]:2222 {line(good)}\n")
    check(None, good, port=2222)
    with pytest.raises(ssh.HostKeyMismatch, match="is a different key than"):
        check(None, other, port=2222)
    with pytest.raises(ssh.HostKeyMismatch, match=r"is not in .*verify it out of band"):
        check(None, good, port=22)


def test_without_a_pin_or_known_hosts_file_nothing_is_trusted(known_hosts: Path) -> None:
    with pytest.raises(ssh.HostKeyMismatch, match="is not in"):
        check(None, new_key())


def test_a_private_key_that_is_not_one_is_refused() -> None:
    with pytest.raises(ValueError, match="not a usable SSH private key"):
        ssh.load_private_key(fake_private_key_pem("broken"))
