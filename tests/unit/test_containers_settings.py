"""Containers mode refuses, with one line naming it, every setting it cannot honour (issue 40): the list is the
models' own (``not_in_containers`` on a field), so a case here exists for each marked setting, generated."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components import config_reference
from components.config import ConfigError, parse
from tests.unit.test_config import CONTAINERS

# A value for each setting containers mode refuses, as a stack would set it (the reference's key, `[]` the
# first entry of a list); a section gets one of its own keys.
VALUES: dict[str, Any] = {
    "hosts.appServers[].address": "10.0.0.11",
    "hosts.appServers[].sshPort": 2222,
    "hosts.appServers[].user": "deploy",
    "hosts.appServers[].privateAddress": "10.0.1.11",
    "hosts.appServers[].hostKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample",
    "hosts.lbServer.address": "10.0.0.10",
    "hosts.lbServer.sshPort": 2222,
    "hosts.lbServer.user": "deploy",
    "hosts.lbServer.privateAddress": "10.0.1.10",
    "hosts.lbServer.hostKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample",
    "hosts.lbServers": [{"name": "lb1"}, {"name": "lb2"}],
    "hosts.user": "admin",
    "hosts.allowLbOnAppServer": True,
    "hosts.dialTimeoutSeconds": 30,
    "hosts.knownHostsFile": "/etc/hostname",
    "hosts.takeover": True,
    "sandbox": {"httpPort": 8081},
    "app.name": "shop",
    "app.releaseTask": "node migrate.js",
    "app.releaseTaskTimeoutSeconds": 60,
    "app.processes": [{"name": "worker", "command": "node worker.js"}],
    "app.schedules": [{"name": "nightly", "command": "node report.js", "calendar": "daily"}],
    "app.schedulesServer": "app2",
    "app.nodeInstall": "binary",
    "lb.httpsPort": 8443,
    "lb.hsts": True,
    "lb.hardenNginx": True,
    "lb.failover": {"preempt": True},
    "rollout.batchSize": 2,
    "sites": [{"name": "shop", "domain": "shop.local", "app": {"port": 3001}}],
}
# Refused before, by a rule of their own for every provider but `existing` (the line names them all the same).
EARLIER = {
    "hosts.knownHostsFile": "wayshub:hosts: knownHostsFile applies only with provider 'existing'",
    "hosts.takeover": "wayshub:hosts: takeover applies only with provider 'existing'",
}


def marked() -> list[str]:
    """Every key of the reference whose field says containers mode cannot honour it, in the models' order;
    the keys below a marked section are the section's."""
    keys: list[str] = []
    for setting in config_reference.settings():
        extra = setting.field.json_schema_extra if setting.field is not None else None
        inside = any(setting.key.startswith((f"{key}.", f"{key}[].")) for key in keys)
        if isinstance(extra, dict) and "not_in_containers" in extra and not inside:
            keys.append(setting.key)
    return keys


def with_setting(key: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(CONTAINERS)
    *parents, last = key.split(".")
    node: Any = data
    for part in parents:
        node = node[part[:-2]][0] if part.endswith("[]") else node.setdefault(part, {})
    node[last] = value
    if key == "hosts.lbServers":
        del data["hosts"]["lbServer"]  # instead of it
    return data


def test_every_refused_setting_has_a_case_and_every_case_is_refused_by_the_models() -> None:
    assert marked() == list(VALUES), "keep VALUES in the models' order, one per marked setting"
    assert set(EARLIER) <= set(VALUES)


@pytest.mark.parametrize("key", list(VALUES))
def test_a_setting_containers_mode_cannot_honour_is_refused_in_one_line(key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(with_setting(key, VALUES[key]))
    text = str(caught.value)
    concrete = key.replace("[]", "[0]")
    expected = EARLIER.get(key, f"wayshub: {concrete} does not apply with hosts.provider 'containers' (")
    assert "\n" not in text and text.startswith(expected), text
    assert text.endswith(": remove it") or key in EARLIER, text


def test_the_same_settings_are_accepted_on_servers() -> None:
    for key in ("app.name", "app.nodeInstall", "rollout.batchSize", "hosts.appServers[].sshPort"):
        on_servers = with_setting(key, VALUES[key])
        on_servers["hosts"]["provider"] = "sandbox"
        parse(on_servers)


def test_the_app_contract_applies_to_containers_too() -> None:
    """start, build, portEnv, nodeVersion and health are honoured by containers mode (app_image.py, spec.py)."""
    parse({**CONTAINERS, "app": {"start": "node src/main.js", "build": "npm run build", "portEnv": "APP_PORT",
                                 "nodeVersion": "22", "health": {"path": "/healthz"}}})  # fmt: skip


def test_the_lbs_health_check_applies_in_containers_mode_too() -> None:
    """A checker container next to nginx (components/containers/health_check.py, docs/hung-backends.md)."""
    tuned = {"enabled": True, "interval": "500ms", "timeout": "1s", "fall": 3, "rise": 1}
    for check in ({"enabled": False}, tuned):
        assert parse(with_setting("lb.healthCheck", check)).lb.health_check.model_dump() == {
            **parse(CONTAINERS).lb.health_check.model_dump(),
            **check,
        }


def test_a_section_left_at_its_defaults_is_not_a_setting() -> None:
    parse({**CONTAINERS, "sandbox": {}, "lb": {"healthCheck": {}}, "app": {"health": {}}})


def test_the_reference_says_which_settings_containers_mode_refuses() -> None:
    table = config_reference.docs_table()
    for key in VALUES:
        (row,) = [line for line in table.splitlines() if line.startswith(f"| `{key}` |")]
        assert "containers mode refuses it: " in row, row
