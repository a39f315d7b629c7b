"""Run one command on many hosts at once, over the components' SSH code (components/shell/ssh.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from components.shell import ssh
from ops.stack import OpsHost


@dataclass(frozen=True)
class HostResult:
    host: OpsHost
    result: ssh.CommandResult | None
    error: str = ""  # why the host could not be reached (then result is None)

    @property
    def ok(self) -> bool:
        return self.result is not None and self.result.exit_code == 0


def run_one(host: OpsHost, command: str, stdin: str | None = None, timeout: float = 120.0) -> HostResult:
    try:
        return HostResult(host, ssh.run(host.connection, command, stdin, timeout=timeout))
    except (ConnectionError, ssh.HostKeyMismatch, OSError, ValueError) as err:
        return HostResult(host, None, " ".join(str(err).split()) or type(err).__name__)


def run_all(hosts: Sequence[OpsHost], command: Callable[[OpsHost], str], timeout: float = 120.0) -> list[HostResult]:
    """``command(host)`` on every host in parallel; results in the hosts' order."""
    return run_commands([(host, command(host)) for host in hosts], timeout)


def run_commands(commands: Sequence[tuple[OpsHost, str]], timeout: float = 120.0) -> list[HostResult]:
    """Each ``(host, command)`` in parallel (a host may come more than once); results in the same order."""
    if not commands:
        return []
    with ThreadPoolExecutor(max_workers=min(16, len(commands))) as pool:
        return list(pool.map(lambda pair: run_one(pair[0], pair[1], timeout=timeout), commands))


def stream_lines(
    host: OpsHost, command: str, on_line: Callable[[str], None], stop: threading.Event | None = None
) -> int | None:
    """Run ``command`` and hand each output line to ``on_line`` as it arrives, until it ends (its exit
    code) or ``stop`` is set (None). A terminal is requested so the command ends when we hang up."""
    stop = stop or threading.Event()
    client = ssh.open_client(host.connection)
    try:
        channel = client.get_transport().open_session()  # type: ignore[union-attr]
        channel.get_pty(width=500)
        channel.exec_command(command)
        buffer = b""
        while not stop.is_set():
            if channel.recv_ready():
                buffer += channel.recv(65536)
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    on_line(line.decode("utf-8", "replace").rstrip("\r"))
            elif channel.exit_status_ready():
                if buffer:
                    on_line(buffer.decode("utf-8", "replace").rstrip("\r"))
                return channel.recv_exit_status()
            else:
                stop.wait(0.05)
        return None
    finally:
        client.close()
