"""The release task (app.releaseTask, issue 32) in the resource graph the real program declares under the Pulumi
mocks: every app server makes the release folder first (its prepare step, all at once), the task runs on the
first app server once every folder is there, and no host switches before the task passed; the rolling order
of the switches is kept. A stack without a task, or a pinned release (a rollback), declares none of it."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from typing import Any

import pytest

from components.app import plan
from components.app.release import planned_build
from tests.unit.pulumi_mocks import MOCKS
from tests.unit.test_rollout_graph import (
    DEPENDENCIES,
    PINNED,
    checkpoint,
    deployed_before,
    program_config,
    run_program,
    stack_settings,
)

__all__ = ["checkpoint", "program_config"]  # fixtures, used by name below

SERVERS = ["app1", "app2", "app3"]
TASK = "node migrate.js --to latest"


@pytest.fixture(autouse=True)
def nothing_built(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The release as `up` would build it, without running npm: its id and tarball path from the source."""
    monkeypatch.setattr(plan, "build_code", planned_build)
    MOCKS.registered.clear()
    DEPENDENCIES.clear()
    yield


def settings(app: dict[str, Any]) -> dict[str, Any]:
    return {**stack_settings(SERVERS, 1), "app": {"nodeInstall": "apt", **app}}


def script_input(resource: str, name: str) -> str:
    """An UPPER_CASE input the step's command assigns before its script (``NAME='value'``), unquoted."""
    words = shlex.split(MOCKS.registered[resource].inputs["create"])
    script = words[words.index("-c") + 1]
    at = script.index(f"\n{name}=") + 1 if not script.startswith(f"{name}=") else 0
    lexer = shlex.shlex(script[at:], posix=True)
    lexer.whitespace_split = True
    return str(lexer.get_token()).removeprefix(f"{name}=")


def test_the_task_waits_for_every_folder_and_every_switch_waits_for_the_task(
    program_config: dict[str, Any], checkpoint: set[str]
) -> None:
    deployed_before(SERVERS, checkpoint)
    run_program(program_config, settings({"releaseTask": TASK}))
    prepares = {f"{s}-app-prepare" for s in SERVERS}
    releases = {f"{s}-app-release" for s in SERVERS}
    assert prepares | {"release-task", "release-task-run"} <= set(MOCKS.registered)
    assert prepares <= DEPENDENCIES["release-task-run"]
    # The task runs on the first app server, for the release every host prepared.
    connection = {s: MOCKS.registered[f"{s}-app-release"].inputs["connection"] for s in SERVERS}
    assert connection["app1"] != connection["app2"]
    assert MOCKS.registered["release-task-run"].inputs["connection"] == connection["app1"]
    assert script_input("release-task-run", "RID") == script_input("app2-app-prepare", "RID")
    for server in SERVERS:
        assert "release-task-run" in DEPENDENCIES[f"{server}-app-release"], server
        # The folders are made on every host at once: no prepare waits for a switch (or the task).
        assert not DEPENDENCIES[f"{server}-app-prepare"] & (releases | {"release-task-run"}), server
        assert script_input(f"{server}-app-prepare", "PREPARE") == "1"
        assert script_input(f"{server}-app-release", "PREPARE") == "0"
        assert script_input(f"{server}-app-prepare", "TASK_TEXT").endswith(f"\nexec {TASK}\n")
    # The rolling order of the switches is still there.
    assert "app1-app-release" in DEPENDENCIES["app2-app-release"]
    assert "app2-app-release" in DEPENDENCIES["app3-app-release"]


def test_the_task_runs_in_the_apps_sandbox(program_config: dict[str, Any]) -> None:
    run_program(program_config, settings({"releaseTask": TASK, "releaseTaskTimeoutSeconds": 90}))
    sandbox = script_input("release-task-run", "SANDBOX")
    unit = script_input("app1-app-release", "UNIT_TEXT")
    assert "ProtectSystem=strict" in sandbox and "SystemCallFilter=~@privileged" in sandbox
    assert sandbox in unit, "the unit and the task share one list of sandboxing lines"
    assert script_input("release-task-run", "TIMEOUT") == "90"


@pytest.mark.parametrize("app", [{}, {"releaseTask": TASK, "releasePin": PINNED}], ids=["no-task", "pinned"])
def test_without_a_task_or_for_a_pinned_release_nothing_of_it_is_declared(
    program_config: dict[str, Any], app: dict[str, Any]
) -> None:
    run_program(program_config, settings(app))
    assert {"app1-app-release", "app3-app-release"} <= set(MOCKS.registered)
    assert not [name for name in MOCKS.registered if "prepare" in name or "release-task" in name]
    assert not {"release-task-run", "app2-app-prepare"} & DEPENDENCIES["app1-app-release"]
