"""Never a connection without a host key to check (issue 28 item 7): pulumi-command checks a server's host key
only when it is given one, so a server with no pinned ``hostKey`` that the known_hosts file does not list
stops the program with one line naming the server and the file, before any resource."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from pulumi.runtime import config as runtime_config

from components.config import NAMESPACE
from components.shell.command import remote
from tests.unit.pulumi_mocks import pulumi_test
from tests.unit.test_command_backends import RECORDER, REPO, config_keys, known_hosts_for, ssh_key

__all__ = ["config_keys"]  # the fixture, used by name below
STAGING = REPO / "stacks" / "Pulumi.staging.yaml"


def run_staging(commands: str, known_hosts: Path | None, keys: list[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """``__main__.py`` on the staging stack (existing servers, no hostKey): the errors it logged, the
    resources it registered and how it ended."""
    settings = {k.removeprefix("wayshub:"): v for k, v in yaml.safe_load(STAGING.read_text())["config"].items()}
    settings.update(commands=commands, sshPrivateKey=ssh_key())
    settings["app"] = {**settings.get("app", {}), "nodeInstall": "apt"}
    if known_hosts is not None:
        settings["hosts"] = {**settings["hosts"], "knownHostsFile": str(known_hosts)}
    for key, value in settings.items():
        full = f"{NAMESPACE}:{key}"
        runtime_config.set_config(full, value if isinstance(value, str) else json.dumps(value))
        keys.append(full)
    monkeypatch.setattr(pulumi.runtime, "is_dry_run", lambda: True)
    errors: list[str] = []
    monkeypatch.setattr(pulumi.log, "error", lambda message, *_args, **_kw: errors.append(message))
    RECORDER.requests.clear()
    exit_code: list[object] = []

    @pulumi_test
    def declare() -> pulumi.Output[None]:
        try:
            runpy.run_path(str(REPO / "__main__.py"), run_name="__main__")
        except SystemExit as stop:
            exit_code.append(stop.code)
        return pulumi.Output.from_input(None)

    declare()
    resources = {name: r for name, r in RECORDER.requests.items() if r.type != "pulumi:pulumi:Stack"}
    return errors, resources, exit_code


def test_a_server_missing_from_known_hosts_stops_pulumi_command_before_any_resource(
    tmp_path: Path, config_keys: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    known = tmp_path / "known_hosts"
    listed = known_hosts_for(yaml.safe_load(STAGING.read_text())["config"]["wayshub:hosts"])
    # app2 (192.168.204.238) is not listed.
    known.write_text("".join(line for line in listed.read_text().splitlines(True) if "192.168.204.238" not in line))
    errors, registered, exit_code = run_staging("pulumi-command", known, config_keys, monkeypatch)
    assert exit_code == [32]
    assert errors == [
        f"wayshub:hosts.appServers[1].hostKey: server app2: 192.168.204.238:22 is not in {known} and has no "
        "pinned host key: refusing to connect (pulumi-command checks only a key it is given: pin hostKey, "
        "or list the server in that file)"
    ]
    assert registered == {}, "resources were declared before the stop"


def test_without_a_known_hosts_file_the_default_one_is_named(
    tmp_path: Path, config_keys: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # an empty home: no ~/.ssh/known_hosts
    errors, registered, exit_code = run_staging("pulumi-command", None, config_keys, monkeypatch)
    assert exit_code == [32] and registered == {}
    assert len(errors) == 1 and errors[0].startswith(
        "wayshub:hosts.appServers[0].hostKey: server app1: 192.168.204.52:22 is not in ~/.ssh/known_hosts"
    )


def test_every_server_listed_declares_the_stack_with_their_keys(
    config_keys: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    known = known_hosts_for(yaml.safe_load(STAGING.read_text())["config"]["wayshub:hosts"])
    errors, registered, exit_code = run_staging("pulumi-command", known, config_keys, monkeypatch)
    assert (errors, exit_code) == ([], [])
    survey = registered["app1-survey"]
    assert survey.type == "command:remote:Command"
    assert "hostKey" in str(survey.object)


def test_the_connection_refuses_a_key_it_cannot_find(tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(
        "[10.0.0.11]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMXCGRjl5nFSFkD7LYhaGmcbXJKnuFYrpeJBdpTT5hyk\n"
    )
    assert remote.require_known_host_key("10.0.0.11", 2222, known).startswith("ssh-ed25519 AAAAC3")
    with pytest.raises(remote.UnknownHostKey, match=rf"10.0.0.11:22 is not in {known} and has no pinned host key"):
        remote.require_known_host_key("10.0.0.11", 22, known)
