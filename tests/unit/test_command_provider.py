"""The command resources' life cycle, with the providers called directly (no engine)."""

from __future__ import annotations

from typing import Any

import pytest

from components.shell.local import LocalCommandProvider
from components.shell.provider import OperationFailed
from components.shell.remote import RemoteCommandProvider
from components.shell.ssh import CommandResult

CONNECTION = {
    "host": "127.0.0.1",
    "port": 2221,
    "user": "wayshub",
    "private_key": "k",
    "host_key": None,
    "dial_timeout_seconds": 60,
}


def remote(**changes: Any) -> dict[str, Any]:
    props: dict[str, Any] = {"name": "x", "connection": dict(CONNECTION), "create": "true", "triggers": []}
    for key, value in changes.items():
        if key in CONNECTION:
            props["connection"][key] = value
        else:
            props[key] = value
    return props


@pytest.mark.parametrize(
    ("change", "changes", "replaces"),
    [
        ({}, False, []),
        ({"create": "echo new"}, True, []),
        ({"stdin": "new file text"}, True, []),
        ({"rerun_on": ["release-2"]}, True, []),
        ({"triggers": ["v2"]}, True, ["triggers"]),
        ({"dial_timeout_seconds": 5}, True, []),
        ({"private_key": "rotated"}, True, []),
        ({"port": 2222}, True, ["connection"]),
        ({"host": "127.0.0.2"}, True, ["connection"]),
        ({"host_key": "ssh-ed25519 AAAAnew"}, True, ["connection"]),
        ({"host_key": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"}, True, ["connection"]),
    ],
)
def test_diff_replaces_only_for_triggers_or_another_host(
    change: dict[str, Any], changes: bool, replaces: list[str]
) -> None:
    diff = RemoteCommandProvider().diff("id", remote(), remote(**change))
    assert (diff.changes, diff.replaces) == (changes, replaces)


class RecordingRemote(RemoteCommandProvider):
    def __init__(self) -> None:
        super().__init__()
        self.ran: list[str] = []

    def execute(self, props: dict[str, Any], command: str) -> CommandResult:
        self.ran.append(command)
        return CommandResult(0, "ran\n", "")


def test_a_connection_not_known_until_up_counts_as_moved() -> None:
    unknown = remote()
    unknown["connection"] = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
    diff = RemoteCommandProvider().diff("id", remote(), unknown)
    assert (diff.changes, diff.replaces) == (True, ["connection"])


def test_a_new_connection_detail_runs_nothing_on_the_host() -> None:
    provider = RecordingRemote()
    olds = {**remote(), "stdout": "before\n", "stderr": ""}
    outs = provider.update("id", olds, remote(dial_timeout_seconds=5)).outs
    assert provider.ran == []
    assert outs is not None and outs["stdout"] == "before\n" and outs["connection"]["dial_timeout_seconds"] == 5


def test_a_changed_command_reruns_update_or_create() -> None:
    provider = RecordingRemote()
    provider.update("id", remote(), remote(create="echo a", update="echo b"))
    provider.update("id", remote(), remote(create="echo c"))
    assert provider.ran == ["echo b", "echo c"]


def test_local_command_runs_and_reports_failure_with_output_unless_hidden() -> None:
    provider = LocalCommandProvider()
    created = provider.create({"name": "t", "create": "printf out; printf err >&2", "stdin": None})
    assert (created.outs or {})["stdout"] == "out"
    with pytest.raises(OperationFailed, match=r"^local:t: create failed with exit code 3:\ncause$"):
        provider.create({"name": "t", "create": "echo cause >&2; exit 3"})
    with pytest.raises(OperationFailed, match=r"output hidden") as hidden:
        provider.create({"name": "t", "create": "echo s3cr3t >&2; exit 3", "log_output": False})
    assert "s3cr3t" not in str(hidden.value)


def test_logging_off_hides_a_failure_but_keeps_the_outputs_as_pulumi_command_does() -> None:
    # (They are secret outputs then: tests/unit/test_command_backends.py.)
    quiet = LocalCommandProvider().create({"name": "t", "create": "printf out; printf err >&2", "log_output": False})
    assert ((quiet.outs or {})["stdout"], (quiet.outs or {})["stderr"]) == ("out", "err")


def test_an_unexpected_error_is_one_line_naming_the_step_type_and_place() -> None:
    with pytest.raises(OperationFailed, match=r"^remote create: KeyError: 'connection' \(at remote\.py:\d+\)$"):
        RemoteCommandProvider().create({"name": "t", "create": "true"})


def test_local_command_feeds_stdin_and_environment() -> None:
    out = LocalCommandProvider().create(
        {"name": "t", "create": 'cat; printf "$GREETING"', "stdin": "in;", "environment": {"GREETING": "hi"}}
    )
    assert (out.outs or {})["stdout"] == "in;hi"


def test_a_long_failure_keeps_its_first_line_and_the_end_of_its_output() -> None:
    script = "echo 'release r1 failed its health check' >&2; for i in $(seq 1000); do echo \"journal line $i\" >&2; done; exit 1"
    with pytest.raises(OperationFailed) as failed:
        LocalCommandProvider().create({"name": "t", "create": script})
    lines = str(failed.value).splitlines()
    assert lines[:3] == ["local:t: create failed with exit code 1:", "release r1 failed its health check", "[...]"]
    assert lines[-1] == "journal line 1000"
    assert len(str(failed.value)) < 4100


class DroppingRemote(RemoteCommandProvider):
    """sshd closes the connection ``drops`` times while the command runs, then it runs to the end."""

    def __init__(self, drops: int, exit_code: int = 0) -> None:
        super().__init__()
        self.drops, self.exit_code, self.ran = drops, exit_code, 0

    def execute(self, props: dict[str, Any], command: str) -> CommandResult:
        self.ran += 1
        if self.ran <= self.drops:
            raise OSError("Socket is closed")
        return CommandResult(self.exit_code, "", "rm: cannot remove" if self.exit_code else "")


def test_a_delete_whose_connection_drops_runs_again_and_a_failed_one_does_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("components.shell.remote.DELETE_RETRY_SECONDS", 0)
    dropped_twice = DroppingRemote(drops=2)
    dropped_twice.delete("id", remote(delete="rm -f /etc/nginx/tls/site.key"))
    assert dropped_twice.ran == 3  # idempotent: run again on a new connection until it completes
    always = DroppingRemote(drops=99)
    with pytest.raises(OperationFailed, match="Socket is closed"):
        always.delete("id", remote(delete="rm -f x"))
    assert always.ran == 3
    failed = DroppingRemote(drops=0, exit_code=1)
    with pytest.raises(OperationFailed, match="cannot remove"):
        failed.delete("id", remote(delete="rm -f x"))
    assert failed.ran == 1  # it ran and failed: not again
