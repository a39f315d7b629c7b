"""scripts/rollback_release.py: which release a rollback pins, what it asks of the stack and in which order,
and that a failure is one line on stderr (the real engine: tests/e2e/test_rollout.py)."""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import rollback_release
from pulumi_errors import last_line
from rollback_release import PIN, Refused, rollback, rollback_target

OLD, NEW = "a" * 12, "b" * 12


@dataclass
class FakeStack:
    """The few calls of an ``auto.Stack`` a rollback makes, recorded in order."""

    outputs_: dict[str, Any] = field(default_factory=dict)
    name: str = "local"
    calls: list[tuple[Any, ...]] = field(default_factory=list)

    def outputs(self) -> dict[str, auto.OutputValue]:
        return {k: auto.OutputValue(value=v, secret=False) for k, v in self.outputs_.items()}

    def set_config(self, key: str, value: auto.ConfigValue, *, path: bool = False) -> None:
        self.calls.append(("set", key, value.value, path))

    def remove_config(self, key: str, *, path: bool = False) -> None:
        self.calls.append(("rm", key, path))

    def up(self, **kwargs: Any) -> None:
        self.calls.append(("up",))
        kwargs["on_output"]("Updating (local)")


def test_the_target_is_the_previous_release_every_server_shares() -> None:
    assert rollback_target([NEW, NEW], [OLD, OLD]) == OLD


@pytest.mark.parametrize("previous", [[OLD, NEW], ["", ""], [OLD, ""], []])
def test_servers_without_one_shared_previous_release_are_refused(previous: list[str]) -> None:
    with pytest.raises(Refused, match="servers do not share one previous release"):
        rollback_target([NEW, NEW], previous)


def test_rollback_pins_the_previous_release_then_runs_up() -> None:
    stack = FakeStack({"releases": [NEW, NEW], "previous_releases": [OLD, OLD]})
    said: list[str] = []
    rollback(stack, unpin=False, say=said.append)  # type: ignore[arg-type]
    assert stack.calls == [("set", PIN, OLD, True), ("up",)]
    assert said == [
        f"rollback: pinning {PIN}={OLD} (servers are on ['{NEW}'])",
        "Updating (local)",
        "rollback: done. To deploy app/ again: scripts/rollback --stack local --unpin",
    ]


def test_unpin_removes_the_pin_then_runs_up() -> None:
    stack = FakeStack()
    said: list[str] = []
    rollback(stack, unpin=True, say=said.append)  # type: ignore[arg-type]
    assert stack.calls == [("rm", PIN, True), ("up",)]
    assert said == ["Updating (local)"]


def test_a_refused_rollback_changes_no_config_and_runs_no_up() -> None:
    stack = FakeStack({"releases": [NEW, OLD], "previous_releases": [OLD, ""]})
    with pytest.raises(Refused):
        rollback(stack, unpin=False, say=lambda _: None)  # type: ignore[arg-type]
    assert stack.calls == []


def test_a_stack_without_the_outputs_is_one_line() -> None:
    with pytest.raises(Refused, match="stack local has no output 'releases'"):
        rollback(FakeStack(), unpin=False, say=lambda _: None)  # type: ignore[arg-type]


def test_a_pulumi_failure_is_one_line_on_stderr_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    result = auto.CommandResult(
        stdout="Updating (local)\n",
        stderr="warning: something\nerror: no stack named 'nope' found\n",
        code=255,
    )

    def select_stack(**_: Any) -> None:
        raise auto.CommandError(result)

    monkeypatch.setattr(shutil, "which", lambda _: "/usr/bin/pulumi")
    monkeypatch.setattr(auto, "select_stack", select_stack)
    assert rollback_release.main(["--stack", "nope"]) == 1
    captured = capsys.readouterr()
    assert captured.err == "rollback: error: no stack named 'nope' found\n"
    assert last_line(auto.CommandError(result)) == "error: no stack named 'nope' found"


def test_an_error_on_the_stderr_label_line_is_kept() -> None:
    # What `select_stack` of a missing stack raises: the one stderr line shares the "stderr:" label's line.
    result = auto.CommandResult(stdout="", stderr="error: no stack named 'nope' found", code=6)
    assert last_line(auto.StackNotFoundError(result)) == "error: no stack named 'nope' found"
    assert last_line(auto.CommandError(auto.CommandResult(stdout="", stderr="", code=1))) == "(no output)"
