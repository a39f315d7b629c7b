"""The e2e harness (tests/e2e/pulumi_cli.py) reads the Automation API's engine events and errors right:
events are built here the way the SDK builds them from the engine's stream (``EngineEvent.from_json``)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from pulumi import automation as auto
from pulumi.automation._cmd import CommandResult
from pulumi.automation.errors import create_command_error

from tests.e2e.pulumi_cli import (
    FAILED,
    FINISHED,
    NO_CLIENT_LIMITS,
    STARTED,
    PulumiFailed,
    Ran,
    Step,
    changes_of,
    returncode_of,
    stack_file_text,
    step_of,
    text,
)

STACK = "urn:pulumi:e2e::wayshub::wayshub:hosts:AppServer$pulumi-python:dynamic:Resource"


def urn(name: str) -> str:
    return f"{STACK}::{name}"


def event(kind: str, op: str, name: str, sequence: int = 0, **state: Any) -> auto.EngineEvent:
    new = {"type": "pulumi-python:dynamic:Resource", "urn": urn(name), "custom": True, **state}
    metadata = {"op": op, "urn": urn(name), "type": new["type"], "provider": "", "new": new}
    return auto.EngineEvent.from_json({"sequence": sequence, "timestamp": 0, kind: {"metadata": metadata}})


def steps(*events: auto.EngineEvent) -> tuple[Step, ...]:
    return tuple(s for s in (step_of(e) for e in events) if s is not None)


def test_each_step_event_kind_maps_to_its_step() -> None:
    pre = step_of(event("resourcePreEvent", "update", "app1-app-release", inputs={"rerun_on": ["r1"]}))
    assert pre == Step(STARTED, "update", urn("app1-app-release"), {"rerun_on": ["r1"]}, True)
    assert pre.name == "app1-app-release"
    assert pre.type == "wayshub:hosts:AppServer$pulumi-python:dynamic:Resource"
    done = step_of(event("resOutputsEvent", "same", "lb-site"))
    assert (done and (done.kind, done.op, done.name)) == (FINISHED, "same", "lb-site")
    failed = step_of(event("resOpFailedEvent", "create", "lb-site"))
    assert failed and failed.kind == FAILED


def test_a_delete_step_takes_its_inputs_from_the_old_state() -> None:
    old = {"type": "t", "urn": urn("gone"), "custom": False, "inputs": {"a": 1}}
    metadata = {"op": "delete", "urn": urn("gone"), "type": "t", "provider": "", "old": old}
    step = step_of(
        auto.EngineEvent.from_json({"sequence": 1, "timestamp": 0, "resourcePreEvent": {"metadata": metadata}})
    )
    assert step == Step(STARTED, "delete", urn("gone"), {"a": 1}, False)


def test_planned_steps_leave_out_the_default_providers_as_preview_json_does() -> None:
    provider = "urn:pulumi:e2e::wayshub::pulumi:providers:pulumi-python::default"
    versioned = "urn:pulumi:e2e::wayshub::pulumi:providers:command::default_1_0_1"
    explicit = "urn:pulumi:e2e::wayshub::pulumi:providers:command::ours"
    made = [Step(STARTED, "create", u) for u in (provider, versioned, explicit, urn("lb-site"))]
    assert [s.default_provider for s in made] == [True, True, False, False]
    assert [s.name for s in Ran(0, "", "", events=tuple(made)).steps] == ["ours", "lb-site"]


def test_events_that_are_not_steps_are_left_out() -> None:
    diagnostic = auto.EngineEvent.from_json(
        {"sequence": 2, "timestamp": 0, "diagnosticEvent": {"message": "m", "color": "never", "severity": "info"}}
    )
    summary = auto.EngineEvent.from_json(
        {"sequence": 3, "timestamp": 0, "summaryEvent": {"resourceChanges": {"same": 3}, "policyPacks": {}}}
    )
    assert step_of(diagnostic) is None and step_of(summary) is None


def test_started_and_finished_find_the_first_step_that_is_not_same() -> None:
    ran = Ran(
        0,
        "",
        "",
        events=steps(
            event("resourcePreEvent", "same", "app2-app-release"),
            event("resourcePreEvent", "update", "app1-app-release"),
            event("resOutputsEvent", "update", "app1-app-release"),
            event("resourcePreEvent", "update", "app2-app-release"),
            event("resOutputsEvent", "update", "app2-app-release"),
            event("resOutputsEvent", "same", "lb-site"),
            event("resOutputsEvent", "read", "app1-node"),
        ),
    )
    assert (ran.started("app1-app-release"), ran.finished("app1-app-release")) == (1, 2)
    assert ran.started("app2-app-release") == 3, "the same step of app2 is not its start"
    assert ran.started("lb-site") is None and ran.finished("lb-site") is None
    assert ran.changed() == {"app1-app-release", "app2-app-release"}
    assert [s.name for s in ran.steps] == ["app2-app-release", "app1-app-release", "app2-app-release"]


def test_the_engine_counts_come_as_plain_op_names() -> None:
    summary = auto.UpdateSummary(
        kind="update",
        start_time=None,  # type: ignore[arg-type]
        message="",
        environment={},
        config={},
        result="succeeded",
        resource_changes={auto.OpType.SAME: 11, "update": 1},  # type: ignore[dict-item]  # history JSON gives str
    )
    changes = changes_of(summary)
    assert changes == {"same": 11, "update": 1} and set(changes) == {"same", "update"}
    assert changes_of(None) == {}


@pytest.mark.parametrize("code", [1, 255, -9])
def test_a_failed_command_keeps_its_exit_code(code: int) -> None:
    error = create_command_error(CommandResult(stdout="Updating\n error: one line", stderr="", code=code))
    assert isinstance(error, auto.CommandError)
    assert returncode_of(error) == code


def test_a_checked_failure_carries_what_the_engine_printed() -> None:
    ran = Ran(255, "Updating (e2e):\nerror: wayshub:hosts: one line\n", "warning: w\n")
    failed = PulumiFailed("up", ran)
    assert isinstance(failed, AssertionError) and failed.ran is ran
    assert "exited 255" in str(failed) and "error: wayshub:hosts: one line" in str(failed)
    assert ran.output == "Updating (e2e):\nerror: wayshub:hosts: one line\nwarning: w\n"
    assert text(["a", "  error: b"]) + text(["error: c"]) == "a\n  error: b\nerror: c\n", "no line runs into the next"


def test_stack_files_of_load_tests_have_no_per_client_limits_unless_they_set_them() -> None:
    def lb(config: dict[str, object], **extra: object) -> object:
        return yaml.safe_load(stack_file_text(config, **extra))["config"].get("wayshub:lb")

    assert lb({"wayshub:domain": "x.test"}) == {"limits": NO_CLIENT_LIMITS}
    assert lb({"wayshub:lb": {"tls": "self-signed"}}) == {"tls": "self-signed", "limits": NO_CLIENT_LIMITS}
    assert lb({"wayshub:lb": {"limits": {"burst": 5}}}) == {"limits": {"burst": 5}}
    assert lb({"wayshub:lb": "fast"}) == "fast", "a bad value stays as the test wrote it"
    assert yaml.safe_load(stack_file_text({}, secretsprovider="passphrase"))["secretsprovider"] == "passphrase"
