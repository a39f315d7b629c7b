"""Servers you own: the known_hosts setting, the probe's one-line verdicts, the public key, the stack files."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import paramiko
import pytest
import yaml

from components.config import ConfigError, parse
from components.hosts import probe
from components.hosts.ssh_key import generate_ed25519, public_key_of
from components.shell import ssh
from components.shell.command.remote import ConnectionArgs
from components.shell.provider import OperationFailed
from components.shell.ssh import CommandResult

REPO = Path(__file__).resolve().parents[2]
EXISTING: dict[str, Any] = {
    "domain": "wayshub.example.com",
    "hosts": {
        "provider": "existing",
        "user": "ubuntu",
        "appServers": [{"name": "app1", "address": "10.0.0.11"}],
        "lbServer": {"name": "lb", "address": "10.0.0.10"},
    },
}


def with_hosts(**settings: object) -> dict[str, Any]:
    return {**EXISTING, "hosts": {**EXISTING["hosts"], **settings}}


# --- hosts.knownHostsFile ---


def test_known_hosts_file_is_stored_as_an_absolute_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "known_hosts").write_text("")
    monkeypatch.chdir(tmp_path)
    assert parse(with_hosts(knownHostsFile="known_hosts")).hosts.known_hosts_file == str(tmp_path / "known_hosts")


def test_a_known_hosts_file_that_does_not_exist_is_one_line_naming_the_setting(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(ConfigError) as err:
        parse(with_hosts(knownHostsFile=str(missing)))
    assert str(err.value) == (
        f"wayshub:hosts.knownHostsFile: {missing} is not a file "
        "(write each server's host key line into it, read on its console: docs/hosts.md)"
    )


def test_known_hosts_file_applies_only_to_existing_servers(tmp_path: Path) -> None:
    (tmp_path / "known_hosts").write_text("")
    hosts = {
        "appServers": [{"name": "app1"}],
        "lbServer": {"name": "lb"},
        "knownHostsFile": str(tmp_path / "known_hosts"),
    }
    sandbox = {"domain": "wayshub.local", "hosts": hosts}
    with pytest.raises(ConfigError, match=r"^wayshub:hosts: knownHostsFile applies only with provider 'existing'"):
        parse(sandbox)


def connection_props(conn: ConnectionArgs) -> dict[str, Any]:
    """The built-in backend's connection input, as its provider receives it (secrets unwrapped)."""
    return {**conn.builtin_plain(), "private_key": conn.private_key}


def test_the_connection_carries_the_known_hosts_file_only_when_one_is_set() -> None:
    plain = connection_props(ConnectionArgs(host="10.0.0.5", port=22, user="ubuntu", private_key="key"))
    assert "known_hosts_file" not in plain, "sandbox connections must stay as they were stored"
    pinned = ConnectionArgs(host="10.0.0.5", port=22, user="ubuntu", private_key="key", known_hosts_file="/x/k")
    assert ssh.Connection.from_props(connection_props(pinned)).known_hosts_file == "/x/k"


# --- host keys from a chosen known_hosts file, as paramiko names hosts on other ports ---


def key_line(key: paramiko.PKey) -> str:
    return f"{key.get_name()} {key.get_base64()}"


def test_a_server_on_another_port_is_found_in_the_known_hosts_file(tmp_path: Path) -> None:
    known_hosts, good = tmp_path / "known_hosts", paramiko.ECDSAKey.generate()
    known_hosts.write_text(f"[10.0.0.5]:2222 {key_line(good)}\n")
    # paramiko hands the policy "[host]:port" for any port but 22.
    ssh._PinnedHostKey(None, 2222, "ubuntu", str(known_hosts)).missing_host_key(
        paramiko.SSHClient(), "[10.0.0.5]:2222", good
    )


def test_an_unknown_host_key_names_user_and_host_and_the_line_that_pins_it(tmp_path: Path) -> None:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("")
    key = paramiko.ECDSAKey.generate()
    policy = ssh._PinnedHostKey(None, 2222, "ubuntu", str(known_hosts))
    with pytest.raises(ssh.HostKeyMismatch) as err:
        policy.missing_host_key(paramiko.SSHClient(), "[10.0.0.5]:2222", key)
    assert str(err.value) == (
        f"host key of 10.0.0.5:2222 (ecdsa-sha2-nistp256 {ssh.fingerprint(key)}) is not in {known_hosts}: "
        "refusing to connect as ubuntu; verify it out of band before trusting it: on the server's console (or in "
        "its cloud-init output) `ssh-keygen -lf /etc/ssh/ssh_host_ecdsa_key.pub` must print this fingerprint; "
        "then pin the public key line read there (hostKey, or a line in the known_hosts file; docs/hosts.md)"
    )
    assert "ssh-keyscan" not in str(err.value), "trust on first use is never advised"


def test_the_fingerprint_is_the_one_ssh_keygen_prints(tmp_path: Path) -> None:
    key = paramiko.ECDSAKey.generate()
    public = tmp_path / "key.pub"
    public.write_text(f"{key.get_name()} {key.get_base64()}\n")
    printed = subprocess.run(["ssh-keygen", "-lf", str(public)], capture_output=True, text=True, check=True).stdout
    assert printed.split()[1] == ssh.fingerprint(key)


# --- the probe ---


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        ({"sudo": "ok", "groups": "ubuntu"}, None),
        (
            {"sudo": "sudo: a password is required", "groups": "deploy sudo"},
            "deploy@10.0.0.5:22: sudo asks deploy for a password, and deployments run sudo -n (no prompt): "
            "give deploy passwordless sudo (as root: echo 'deploy ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/90-wayshub)",
        ),
        (
            {"sudo": "sudo: a password is required", "groups": "deploy"},
            "deploy@10.0.0.5:22: deploy has no sudo rights (in none of the groups sudo, admin, wheel): "
            "give deploy passwordless sudo (as root: echo 'deploy ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/90-wayshub)",
        ),
        (
            {"sudo": "missing", "groups": "deploy"},
            "deploy@10.0.0.5:22: sudo is not installed; install it and give deploy passwordless sudo "
            "(as root: echo 'deploy ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/90-wayshub)",
        ),
        (
            {"sudo": "sudo: sorry, you must have a tty to run sudo", "groups": "wheel"},
            "deploy@10.0.0.5:22: sudo wants a terminal (Defaults requiretty): add 'Defaults:deploy !requiretty' "
            "and give deploy passwordless sudo (as root: echo 'deploy ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/90-wayshub)",
        ),
    ],
)
def test_what_sudo_said_becomes_one_line_with_the_fix(facts: dict[str, str], expected: str | None) -> None:
    assert probe.sudo_problem("deploy", "deploy@10.0.0.5:22", facts) == expected


def probe_props(private_key: str) -> dict[str, Any]:
    conn = connection_props(ConnectionArgs(host="10.0.0.5", port=22, user="ubuntu", private_key=private_key))
    return {"name": "app1-probe", "server": "app1", "create": probe.PROBE_COMMAND, "connection": conn}


def answering(stdout: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make the 'server' answer every command with ``stdout``; returns the commands it ran."""
    ran: list[str] = []

    def run(conn: ssh.Connection, command: str, stdin: str | None = None, timeout: float = 0) -> CommandResult:
        ran.append(command)
        return CommandResult(0, stdout, "")

    monkeypatch.setattr(ssh, "run", run)
    return ran


def test_a_probe_that_passes_records_the_hostname(monkeypatch: pytest.MonkeyPatch) -> None:
    answering("hostname=app1-vm\ngroups=ubuntu\nsudo=ok\n", monkeypatch)
    created = probe.HostProbeProvider().create(probe_props(generate_ed25519("t")[0]))
    assert (created.outs or {})["stdout"] == "app1-vm"


def test_a_probe_that_fails_names_the_server_user_and_host(monkeypatch: pytest.MonkeyPatch) -> None:
    answering("hostname=app1-vm\ngroups=ubuntu\nsudo=sudo: a password is required\n", monkeypatch)
    with pytest.raises(OperationFailed, match=r"^app1: ubuntu@10\.0\.0\.5:22: ubuntu has no sudo rights"):
        probe.HostProbeProvider().create(probe_props(generate_ed25519("t")[0]))


def test_a_new_key_is_probed_again_since_the_servers_may_not_accept_it(monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = probe_props(generate_ed25519("old")[0]), probe_props(generate_ed25519("new")[0])
    provider = probe.HostProbeProvider()
    diff = provider.diff("id", old, new)
    assert diff.changes and not diff.replaces
    ran = answering("hostname=app1-vm\ngroups=ubuntu\nsudo=ok\n", monkeypatch)
    provider.update("id", old, new)
    assert ran == [probe.PROBE_COMMAND]


# --- the public key for the servers' authorized_keys ---


def test_the_public_key_is_derived_from_the_users_private_key() -> None:
    private, public = generate_ed25519("made-here")
    assert public_key_of(private, "wayshub-staging") == public.rsplit(" ", 1)[0] + " wayshub-staging"


# --- every stack file ---


@pytest.mark.parametrize("path", sorted((REPO / "stacks").glob("Pulumi.*.yaml")), ids=lambda p: p.name)
def test_every_stack_file_parses(path: Path) -> None:
    config = yaml.safe_load(path.read_text())["config"]
    settings = parse({key.removeprefix("wayshub:"): value for key, value in config.items()})
    assert settings.hosts.app_servers, path


def test_a_connection_reads_back_as_pulumi_command_spells_it_too() -> None:
    """A stack on pulumi-command keeps its connections in the provider's spelling (privateKey, hostKey): the ops
    tools read them back from the state as they read ours."""
    theirs = {"host": "10.0.0.11", "port": 22.0, "user": "deploy", "privateKey": "KEY", "hostKey": "ssh-ed25519 AAAA"}
    connection = ssh.Connection.from_props(theirs)
    assert (connection.host, connection.port, connection.private_key, connection.host_key) == (
        "10.0.0.11",
        22,
        "KEY",
        "ssh-ed25519 AAAA",
    )
