"""Pulumi.yaml's `config:` section and docs/config.md are generated from the models: committed = generated."""

from __future__ import annotations

from pathlib import Path

import yaml

from components import config_reference
from components.config import KEYS, SEPARATE_SETTINGS, StackConfig, fields_by_key

REPO = Path(__file__).resolve().parents[2]


def test_pulumi_yaml_and_the_config_reference_are_what_the_models_generate() -> None:
    stale = config_reference.drifted(REPO)
    assert stale == [], f"{', '.join(stale)} differ from components/config/: run scripts/config-docs"


def test_pulumi_yaml_declares_every_section_with_the_engine_rules() -> None:
    declared = yaml.safe_load((REPO / "Pulumi.yaml").read_text())["config"]
    assert list(declared) == list(KEYS)
    for key, field in fields_by_key(StackConfig).items():
        # A required setting has no default, so the engine itself names it when a stack lacks it.
        assert ("default" in declared[key]) is not field.is_required(), key
    # The settings read on their own stay undeclared: declared without a default, every stack would need them.
    assert not set(SEPARATE_SETTINGS) & set(declared)


def test_the_reference_shows_the_defaults_the_code_uses() -> None:
    rows = {s.key: s.default for s in config_reference.settings()}
    lb = StackConfig.model_validate(
        {"domain": "a.test", "hosts": {"appServers": [{"name": "a"}], "lbServer": {"name": "lb"}}}
    ).lb
    assert (rows["lb.maxFails"], rows["lb.failTimeout"]) == (f"`{lb.max_fails}`", f"`{lb.fail_timeout}`")
    assert rows["rollout.batchSize"] == "`1`"
    assert rows["domain"] == "— (required)"
