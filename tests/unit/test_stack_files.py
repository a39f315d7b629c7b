"""The committed stack files (stacks/) need no root: none writes a hosts file, the local ones use *.localhost.

Issue 17: `make up` as a laptop user (docker group, no passwordless sudo) failed on /etc/hosts after
building everything, and the staging stack wrote the CI runner's /etc/hosts, so its state recorded a
block on a machine that was gone after the job.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config import parse

REPO = Path(__file__).resolve().parents[2]
STACK_FILES = sorted((REPO / "stacks").glob("Pulumi.*.yaml"))
# Stacks whose site runs on the machine that runs `pulumi up` (sandbox VMs or containers on 127.0.0.1).
ON_THIS_MACHINE = {"sandbox", "containers"}


def stack_config(path: Path) -> dict[str, Any]:
    raw = yaml.safe_load(path.read_text())["config"]
    return {key.removeprefix("wayshub:"): value for key, value in raw.items()}


def test_there_are_stack_files() -> None:
    assert {p.name for p in STACK_FILES} >= {"Pulumi.local.yaml", "Pulumi.staging.yaml", "Pulumi.prod.yaml"}


@pytest.mark.parametrize("path", STACK_FILES, ids=lambda p: p.name)
def test_no_committed_stack_writes_a_hosts_file(path: Path) -> None:
    # Said in the file itself, not left to the model's default, so the reader sees it and a change of
    # the default cannot turn it on.
    raw = stack_config(path)
    assert raw.get("hostsFile", {}).get("enabled") is False, f"{path.name}: set wayshub:hostsFile.enabled: false"
    assert parse(raw).hosts_file.enabled is False


@pytest.mark.parametrize("path", STACK_FILES, ids=lambda p: p.name)
def test_stacks_on_this_machine_use_a_localhost_domain(path: Path) -> None:
    config = parse(stack_config(path))
    if config.hosts.provider not in ON_THIS_MACHINE:
        pytest.skip(f"{config.hosts.provider}: the domain is the servers' own")
    # Browsers and curl (>= 7.85) send every *.localhost name to the loopback address without any hosts
    # entry or DNS record, and the site is published on 127.0.0.1: the printed URL opens as it is.
    assert config.domain.endswith(".localhost"), f"{path.name}: {config.domain} needs a hosts entry to open"
    published = config.sandbox.bind_address if config.hosts.provider == "sandbox" else config.containers.bind_address
    assert published == "127.0.0.1"


def with_project_defaults(raw: dict[str, Any]) -> dict[str, Any]:
    """The settings as the engine hands them to the program: Pulumi.yaml's declared defaults (`{}`, `[]`) for
    every key the stack leaves out."""
    declared = yaml.safe_load((REPO / "Pulumi.yaml").read_text())["config"]
    return {**{key: d["default"] for key, d in declared.items() if "default" in d}, **raw}


@pytest.mark.parametrize("path", STACK_FILES, ids=lambda p: p.name)
def test_every_stack_file_reads_with_the_projects_defaults_as_the_engine_hands_them(path: Path) -> None:
    """A default of Pulumi.yaml reaches the program as if set: an empty `sites: []` in containers mode must not
    read as a setting that mode refuses."""
    settings = with_project_defaults(stack_config(path))
    assert settings["sites"] == []
    parse(settings)
