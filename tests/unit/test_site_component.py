"""The Site component (components/site/component.py) under Pulumi mocks: what the engine is told about it and
what hangs under it."""

from __future__ import annotations

from typing import Any

import pytest

from components.layout import SITE_TYPE
from components.site.inputs import plain_secrets
from tests.unit.test_command_backends import RECORDER, REPO, config_keys, run_program, to_python

__all__ = ["config_keys"]


def site_request(requests: dict[str, Any]) -> Any:
    return requests[f"site <{SITE_TYPE}>"]


def test_the_site_tells_the_engine_its_settings(config_keys: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    requests = run_program(REPO / "stacks" / "Pulumi.prod.yaml", "builtin", config_keys, monkeypatch)
    assert not to_python(site_request(requests).object), "no inputs: a changed setting is no step of its own"
    [props] = [to_python(o) for urn, o in RECORDER.outputs.items() if urn.split("::")[-2].endswith(SITE_TYPE)]
    settings = props["settings"]
    assert settings["hosts"]["provider"] == "existing" and settings["production"] is False
    assert settings["lb"]["failTimeout"] == "5s", "the stack file's spelling, defaults filled in"
    assert props["plainSecrets"] == []  # the mocks hand the program no engine config (tests/e2e/test_policies.py)


def test_every_resource_hangs_under_the_site_and_its_direct_children_say_where_they_were(
    config_keys: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    requests = run_program(REPO / "stacks" / "Pulumi.local.yaml", "builtin", config_keys, monkeypatch)
    site = site_request(requests)
    stack_urn = site.parent
    assert stack_urn.split("::")[-2] == "pulumi:pulumi:Stack", stack_urn
    at_the_top = [key for key, r in requests.items() if r.parent == stack_urn and r.type != SITE_TYPE]
    assert at_the_top == [], f"declared outside the Site: {at_the_top}"
    site_urn = next(iter({r.parent for r in requests.values() if r.parent.split("::")[-2].endswith(SITE_TYPE)}))
    children = [r for r in requests.values() if r.parent == site_urn]
    assert len(children) >= 6, [r.name for r in children]
    assert all(len(r.aliases) == 1 for r in children), [r.name for r in children if len(r.aliases) != 1]
    deeper = [r.name for r in requests.values() if r.parent not in (site_urn, stack_urn) and r.aliases]
    assert deeper == [], f"the engine derives these from their parents': {deeper}"


def test_plain_secrets_are_the_secret_settings_set_in_plain_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("components.site.inputs.is_config_secret", lambda key: key == "wayshub:appSecrets")
    names = ["domain", "appSecrets", "releaseKey", "sshPrivateKey", "tlsCertificate"]
    assert plain_secrets(names) == ("wayshub:releaseKey", "wayshub:sshPrivateKey")
