"""`make ssh` and `make exec`: a shell on one host, or one command on every app host.

A command (``CMD``) runs through components/shell/ssh.py like every deploy step. The interactive shell
needs a terminal, so it runs OpenSSH's client with the stack's key in a 0600 file inside a private
(0700) temporary folder, and the pinned host key in a known_hosts file next to it; the folder is
removed when the shell ends, however it ends.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from components.app.layout import app_root, unit_name
from components.shell import ssh
from ops.fanout import HostResult, run_commands
from ops.stack import OpsHost, OpsSite


def known_hosts_line(conn: ssh.Connection) -> str:
    """The pinned host key as a known_hosts line (``[host]:port`` unless port 22)."""
    if not conn.host_key:
        return ""
    name = conn.host if conn.port == 22 else f"[{conn.host}]:{conn.port}"
    return f"{name} {' '.join(conn.host_key.split()[:2])}\n"


def in_site(site: OpsSite, command: str) -> str:
    """``command`` (a shell line, as written) run in the site's app folder, with ``WAYSHUB_APP`` and
    ``WAYSHUB_UNIT`` naming its app and systemd unit (``make exec SITE=…``, ``make ssh SITE=…``)."""
    app = site.app.name
    return (
        f"export WAYSHUB_APP={shlex.quote(app)} WAYSHUB_UNIT={shlex.quote(unit_name(app))}\n"
        f"cd {shlex.quote(app_root(app))} || exit\n{command}"
    )


SITE_SHELL = 'exec "${SHELL:-/bin/sh}" -l'  # the login shell, started in the site's folder


def ssh_argv(conn: ssh.Connection, key_file: Path, known_hosts: Path) -> list[str]:
    """OpenSSH's client for ``conn``: only our key, only the pinned (or the configured) host keys."""
    return [
        "ssh",
        "-i",
        str(key_file),
        "-p",
        str(conn.port),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "IdentityAgent=none",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        f"UserKnownHostsFile={known_hosts}",
        "-o",
        "GlobalKnownHostsFile=/dev/null",
        "-o",
        "CheckHostIP=no",
        "-o",
        f"ConnectTimeout={max(1, int(conn.dial_timeout_seconds))}",
        "-l",
        conn.user,
        "-t",
        conn.host,
    ]


@contextmanager
def key_files(conn: ssh.Connection) -> Iterator[tuple[Path, Path]]:
    """The private key (0600) and known_hosts in a private temporary folder, removed on the way out."""
    folder = Path(tempfile.mkdtemp(prefix="wayshub-ssh-"))  # mode 0700
    try:
        key_file = folder / "id"
        descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(conn.private_key if conn.private_key.endswith("\n") else conn.private_key + "\n")
        if conn.host_key:
            known_hosts = folder / "known_hosts"
            known_hosts.write_text(known_hosts_line(conn))
        else:
            known_hosts = Path(conn.known_hosts_file or str(ssh.KNOWN_HOSTS)).expanduser()
        yield key_file, known_hosts
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _hang_up(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def interactive(host: OpsHost, site: OpsSite | None = None) -> int:
    """An interactive login shell on ``host`` (in ``site``'s app folder); returns its exit code."""
    previous = {sig: signal.signal(sig, _hang_up) for sig in (signal.SIGTERM, signal.SIGHUP)}
    remote = [in_site(site, SITE_SHELL)] if site else []
    try:
        with key_files(host.connection) as (key_file, known_hosts):
            return subprocess.run([*ssh_argv(host.connection, key_file, known_hosts), *remote], check=False).returncode
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def report(results: Sequence[HostResult]) -> str:
    """Each host's output, every line prefixed with the host; a last line per host that failed."""
    width = max((len(r.host.name) for r in results), default=0)
    lines: list[str] = []
    for outcome in results:
        prefix = outcome.host.name.ljust(width) + " | "
        if outcome.result is None:
            lines.append(prefix + f"unreachable: {outcome.error}")
            continue
        text = outcome.result.stdout + outcome.result.stderr
        lines.extend(prefix + line for line in text.splitlines())
        if outcome.result.exit_code != 0:
            lines.append(prefix + f"exit {outcome.result.exit_code}")
    return "\n".join(lines)


def run_on(hosts: Sequence[OpsHost], command: str) -> tuple[list[HostResult], str]:
    """``command`` (a shell line, run as the login user) on every host in parallel."""
    return run_on_each([(host, command) for host in hosts])


def run_on_each(commands: Sequence[tuple[OpsHost, str]]) -> tuple[list[HostResult], str]:
    """Each host's own command line (run as the login user), in parallel."""
    results = run_commands(commands, timeout=900)
    return results, report(results)
