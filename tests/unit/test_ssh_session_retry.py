"""A session sshd closes before the command starts is opened again (the CI teardown "Socket is closed" under load);
one that fails after the command was sent is never run twice. ``open_client`` is replaced by fakes: the rest of
``ssh.run`` (session, exec, streams) is paramiko's own Channel API, driven by a fake transport."""

from __future__ import annotations

from typing import Any

import paramiko
import pytest

from components.shell import ssh

CONN = ssh.Connection(host="127.0.0.1", port=22, user="deploy", private_key="unused", host_key="ssh-ed25519 AAAA")


class FakeChannel:
    def __init__(self, log: list[str], exec_error: BaseException | None) -> None:
        self.log, self.exec_error = log, exec_error

    def settimeout(self, timeout: float) -> None:
        pass

    def update_environment(self, environment: dict[str, str]) -> None:
        pass

    def exec_command(self, command: str) -> None:
        if self.exec_error is not None:
            raise self.exec_error
        self.log.append(f"ran {command}")

    def makefile_stdin(self, mode: str) -> Any:
        return type("W", (), {"write": lambda self, data: None})()

    def makefile(self, mode: str) -> Any:
        return type("R", (), {"read": lambda self: b"out"})()

    def makefile_stderr(self, mode: str) -> Any:
        return type("R", (), {"read": lambda self: b""})()

    def shutdown_write(self) -> None:
        pass

    def recv_exit_status(self) -> int:
        return 0


class FakeClient:
    def __init__(self, log: list[str], open_error: BaseException | None, exec_error: BaseException | None) -> None:
        self.log, self.open_error, self.exec_error = log, open_error, exec_error

    def get_transport(self) -> Any:
        client = self

        class Transport:
            def is_active(self) -> bool:
                return True

            def open_session(self, timeout: float) -> FakeChannel:
                if client.open_error is not None:
                    raise client.open_error
                return FakeChannel(client.log, client.exec_error)

        return Transport()

    def close(self) -> None:
        self.log.append("closed")


def clients(
    monkeypatch: pytest.MonkeyPatch, plans: list[tuple[BaseException | None, BaseException | None]]
) -> list[str]:
    log: list[str] = []
    queue = [FakeClient(log, open_error, exec_error) for open_error, exec_error in plans]
    monkeypatch.setattr(ssh, "open_client", lambda conn: queue.pop(0))
    monkeypatch.setattr("components.shell.ssh.time.sleep", lambda seconds: None)
    return log


def test_a_session_closed_before_the_command_is_opened_again_and_the_command_runs_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log = clients(monkeypatch, [(OSError("Socket is closed"), None), (None, OSError("Socket is closed")), (None, None)])
    result = ssh.run(CONN, "true")
    assert (result.exit_code, result.stdout) == (0, "out")
    assert log == ["closed", "closed", "ran true", "closed"]


def test_it_gives_up_with_one_line_after_the_last_attempt(monkeypatch: pytest.MonkeyPatch) -> None:
    clients(monkeypatch, [(paramiko.SSHException("SSH session not active"), None)] * ssh.START_ATTEMPTS)
    with pytest.raises(ConnectionError, match=r"^deploy@127\.0\.0\.1:22: the SSH session closed before the command"):
        ssh.run(CONN, "true")


def test_a_failure_after_the_request_may_have_been_sent_is_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    log = clients(monkeypatch, [(None, paramiko.SSHException("Channel closed.")), (None, None)])
    with pytest.raises(paramiko.SSHException, match="Channel closed"):
        ssh.run(CONN, "true")
    assert log == ["closed"]
