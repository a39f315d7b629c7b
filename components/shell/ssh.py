"""SSH sessions to hosts, for the remote command and file resources (paramiko underneath).

A host key can be pinned (``host_key`` = ``"<type> <base64>"``, as in a known_hosts line without the
host name); without a pin the key must be in a known_hosts file (``known_hosts_file``, default
~/.ssh/known_hosts). A server that presents any other key is refused before any command or secret is sent.
Every failure names the user and the host it was for.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paramiko

_KEY_CLASSES: tuple[type[paramiko.PKey], ...] = (
    paramiko.Ed25519Key,
    paramiko.ECDSAKey,
    paramiko.RSAKey,
)


# paramiko's transport logs every failed handshake at ERROR, its traceback line by line (a VM still booting:
# "Error reading SSH protocol banner"); with no logging set up Python prints those on stderr, where the
# engine shows them in `make up`. open_client retries and reports a failure itself, in one line, so they
# go nowhere.
_TRANSPORT_LOG = logging.getLogger("paramiko.transport")
_TRANSPORT_LOG.addHandler(logging.NullHandler())
_TRANSPORT_LOG.propagate = False


class HostKeyMismatch(Exception):
    """The server's host key is not the pinned one: possibly a man in the middle."""


@dataclass(frozen=True)
class Connection:
    """How to reach a host over SSH. ``private_key`` is the key text (OpenSSH/PEM)."""

    host: str
    port: int
    user: str
    private_key: str
    host_key: str | None = None
    dial_timeout_seconds: float = 60.0
    known_hosts_file: str | None = None

    @classmethod
    def from_props(cls, props: dict[str, Any]) -> Connection:
        """From the plain dict a dynamic provider receives, or a resource's connection as the state holds it:
        ours (``private_key``) or pulumi-command's (``privateKey``, ``hostKey``, as its schema spells them)."""
        return cls(
            host=str(props["host"]),
            port=int(props["port"]),
            user=str(props["user"]),
            private_key=str(props.get("private_key") or props["privateKey"]),
            host_key=props.get("host_key") or props.get("hostKey") or None,
            dial_timeout_seconds=float(props.get("dial_timeout_seconds") or 60.0),
            known_hosts_file=props.get("known_hosts_file") or None,
        )

    @property
    def address(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"


@dataclass(frozen=True)
class CommandResult:
    exit_code: int
    stdout: str
    stderr: str


def load_private_key(text: str) -> paramiko.PKey:
    """Parse an OpenSSH or PEM private key of any type paramiko knows."""
    errors: list[str] = []
    for key_class in _KEY_CLASSES:
        try:
            return key_class.from_private_key(io.StringIO(text))
        except (paramiko.SSHException, ValueError) as err:
            errors.append(f"{key_class.__name__}: {err}")
    raise ValueError("not a usable SSH private key (" + "; ".join(errors) + ")")


KNOWN_HOSTS = Path("~/.ssh/known_hosts")


def known_host_keys(host: str, port: int, path: Path) -> list[list[str]]:
    """The keys a known_hosts file lists for ``host`` (``[host]:port`` unless port 22)."""
    if not path.is_file():
        return []
    known = paramiko.HostKeys(str(path))
    entry = known.lookup(host if port == 22 else f"[{host}]:{port}")
    if entry is None:
        return []
    return [[name, entry[name].get_base64()] for name in entry.keys()]  # noqa: SIM118 - SubDict has no items()


class _PinnedHostKey(paramiko.MissingHostKeyPolicy):
    """Accept only the pinned host key or, without a pin, one listed in the known_hosts file."""

    def __init__(
        self, expected: str | None, port: int, user: str | None = None, known_hosts: str | None = None
    ) -> None:
        self._expected = expected.split()[:2] if expected else None
        self._port = port
        self._as = f" as {user}" if user else ""
        self._known_hosts = Path(known_hosts) if known_hosts else KNOWN_HOSTS

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        # paramiko names a host on another port than 22 "[host]:port", as known_hosts does.
        if hostname.startswith("[") and "]:" in hostname:
            hostname = hostname[1:].rsplit("]:", 1)[0]
        presented = [key.get_name(), key.get_base64()]
        if self._expected is not None:
            if presented != self._expected:
                raise HostKeyMismatch(
                    f"host key of {hostname}:{self._port} is {presented[0]} {presented[1][:16]}..., "
                    f"not the pinned {self._expected[0]} {self._expected[1][:16]}...: refusing to connect{self._as}"
                )
            return
        known = known_host_keys(hostname, self._port, self._known_hosts.expanduser())
        if presented in known:
            return
        what = "is a different key than the one in" if known else "is not in"
        # No `ssh-keyscan >> known_hosts` advice: that trusts whatever answers now, attacker included.
        raise HostKeyMismatch(
            f"host key of {hostname}:{self._port} ({presented[0]} {fingerprint(key)}) {what} "
            f"{self._known_hosts}: refusing to connect{self._as}; verify it out of band before trusting it: "
            f"on the server's console (or in its cloud-init output) `ssh-keygen -lf {_key_file(presented[0])}` "
            "must print this fingerprint; "
            "then pin the public key line read there (hostKey, or a line in the known_hosts file; docs/hosts.md)"
        )


def _key_file(key_type: str) -> str:
    """Where sshd keeps its host key of ``key_type`` on a Debian/Ubuntu server."""
    kind = "ecdsa" if key_type.startswith("ecdsa") else key_type.removeprefix("ssh-")
    return f"/etc/ssh/ssh_host_{kind}_key.pub"


def fingerprint(key: paramiko.PKey) -> str:
    """The key's fingerprint as `ssh-keygen -lf` prints it (``SHA256:…``)."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")


def _describe(error: Exception) -> str:
    """One line for why a connection attempt failed."""
    if isinstance(error, paramiko.ssh_exception.NoValidConnectionsError):
        return "nothing answers on that port (connection refused): is the server up and sshd running?"
    if isinstance(error, TimeoutError):
        return "no answer (timed out): is the server up, and the address and port right?"
    return " ".join(str(error).split()) or type(error).__name__


def open_client(conn: Connection) -> paramiko.SSHClient:
    """Connect, retrying until ``dial_timeout_seconds`` (a VM may still be booting, or its login key
    may still be on its way: cloud-init writes it during boot). A wrong host key is refused at once."""
    deadline = time.monotonic() + conn.dial_timeout_seconds
    key = load_private_key(conn.private_key)
    last_error: Exception | None = None
    while True:
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(_PinnedHostKey(conn.host_key, conn.port, conn.user, conn.known_hosts_file))
        try:
            client.connect(
                conn.host,
                port=conn.port,
                username=conn.user,
                pkey=key,
                look_for_keys=False,
                allow_agent=False,
                timeout=10,
                banner_timeout=10,
                auth_timeout=10,
            )
            return client
        except HostKeyMismatch:
            client.close()
            raise
        except (OSError, paramiko.SSHException, EOFError) as err:
            client.close()
            last_error = err
            if time.monotonic() >= deadline:
                within = f"within {conn.dial_timeout_seconds:.0f}s"
                if isinstance(err, paramiko.AuthenticationException):
                    raise ConnectionError(
                        f"{conn.address} did not accept our SSH key ({key.get_name()} {key.fingerprint}) {within}: "
                        f"add its public key (pulumi stack output ssh_public_key) to ~{conn.user}/.ssh/authorized_keys "
                        "on the server, or set wayshub:sshPrivateKey to a key it accepts"
                    ) from err
                raise ConnectionError(
                    f"cannot reach {conn.address} over SSH {within}: {_describe(last_error)}"
                ) from err
            time.sleep(1.0)


def run(
    conn: Connection,
    command: str,
    stdin: str | bytes | None = None,
    timeout: float = 900.0,
    environment: dict[str, str] | None = None,
) -> CommandResult:
    """Run one command line on the host; return its exit code and output. ``environment`` is sent with
    the session (sshd keeps only what its ``AcceptEnv`` allows)."""
    client, channel = _start(conn, command, timeout, environment)
    try:
        channel_stdin = channel.makefile_stdin("wb")
        channel_stdout = channel.makefile("r")
        channel_stderr = channel.makefile_stderr("r")
        if stdin is not None:
            channel_stdin.write(stdin)
        channel.shutdown_write()
        out = channel_stdout.read().decode("utf-8", "replace")
        err = channel_stderr.read().decode("utf-8", "replace")
        code = channel.recv_exit_status()
        return CommandResult(code, out, err)
    finally:
        client.close()


# A connection that sshd closes between login and the command (its MaxStartups drops connections at random
# when many open at once: two LBs' steps, a busy machine) fails with "Socket is closed" or "SSH session not
# active" before the command starts: connect again, a few times.
START_ATTEMPTS = 4


def _start(
    conn: Connection, command: str, timeout: float, environment: dict[str, str] | None
) -> tuple[paramiko.SSHClient, paramiko.Channel]:
    """A logged-in client and a channel running ``command``. While the session fails before the server has the
    command (opening it, or writing the request), it is tried again on a new connection: nothing ran yet, so
    nothing runs twice. A failure after the request was written is never retried."""
    for attempt in range(1, START_ATTEMPTS + 1):
        client = open_client(conn)
        failure: BaseException
        try:
            channel = _session(client, timeout, environment)
        except (OSError, EOFError, paramiko.SSHException) as err:
            failure = err
        else:
            try:
                channel.exec_command(command)
                return client, channel
            except OSError as err:  # paramiko's "Socket is closed": the request was never written
                failure = err
            except BaseException:
                client.close()
                raise
        client.close()
        if attempt == START_ATTEMPTS:
            raise ConnectionError(
                f"{conn.address}: the SSH session closed before the command started, {attempt} times: "
                f"{' '.join(str(failure).split()) or type(failure).__name__}"
            ) from failure
        time.sleep(1.0)
    raise AssertionError("unreachable")


def _session(client: paramiko.SSHClient, timeout: float, environment: dict[str, str] | None) -> paramiko.Channel:
    transport = client.get_transport()
    if transport is None or not transport.is_active():
        raise paramiko.SSHException("SSH session not active")
    channel = transport.open_session(timeout=30)
    channel.settimeout(timeout)
    if environment:
        channel.update_environment(environment)
    return channel


def upload(conn: Connection, local_path: str, remote_path: str) -> None:
    """Copy one local file to ``remote_path`` over SFTP."""
    client = open_client(conn)
    try:
        with client.open_sftp() as sftp:
            sftp.put(local_path, remote_path)
    finally:
        client.close()
