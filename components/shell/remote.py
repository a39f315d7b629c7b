"""Commands and file copies on a host over SSH: ``RemoteCommand`` and ``CopyFileToRemote``."""

from __future__ import annotations

import hashlib
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paramiko
import pulumi
from pulumi.dynamic import CreateResult, Resource, UpdateResult

from components.shell import ssh
from components.shell.provider import CommandArgs, CommandProvider, RerunOn, command_props, rerun_list
from components.shell.ssh import CommandResult

REMOTE_TIMEOUT_SECONDS = 900


# What makes a host that host: where we reach it, as whom, and the key it proves itself with
# (a re-created VM has new host keys, and nothing of ours is on it yet).
HOST_IDENTITY = ("host", "port", "user", "host_key")
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's "known only after up" (pulumi.runtime.rpc)


def host_moved(olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
    """``["connection"]`` when the resource now lives on another (or a re-created) host: a replacement.

    In a preview the new connection may not be known yet (its VM is being re-created); that counts as
    moved, so the preview never promises less than `up` may do.
    """
    old, new = olds.get("connection"), news.get("connection")
    if not isinstance(old, dict) or not isinstance(new, dict):
        return ["connection"]
    if any(new.get(k) == UNKNOWN or old.get(k) != new.get(k) for k in HOST_IDENTITY):
        return ["connection"]
    return []


# A delete whose connection dropped mid-way (sshd closing it on a loaded machine, seen at teardown) runs again.
DELETE_ATTEMPTS = 3
DELETE_RETRY_SECONDS = 1.0


def host_is_gone(props: dict[str, Any]) -> bool:
    check = props["connection"].get("gone_if")
    if not check:
        return False
    return subprocess.run(["bash", "-c", check], capture_output=True, check=False).returncode == 0


def _connection(props: dict[str, Any]) -> ssh.Connection:
    return ssh.Connection.from_props(props["connection"])


class RemoteCommandProvider(CommandProvider):
    kind = "remote"

    def identity(self, props: dict[str, Any]) -> str:
        conn = _connection(props)
        return f"{props.get('name', 'command')}@{conn.host}:{conn.port}"

    def execute(self, props: dict[str, Any], command: str) -> CommandResult:
        environment = {str(k): str(v) for k, v in (props.get("environment") or {}).items()}
        return ssh.run(
            _connection(props), command, props.get("stdin"), timeout=REMOTE_TIMEOUT_SECONDS, environment=environment
        )

    def quiet_keys(self) -> tuple[str, ...]:
        return ("connection",)

    def moved(self, olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
        return host_moved(olds, news)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        if not props.get("delete") or host_is_gone(props):
            return
        # Every delete command is idempotent (it removes what is there; a missing file or unit is fine), so one
        # whose SSH connection dropped while it ran is run again on a new connection. A command that ran and
        # failed (CommandFailed) is not.
        for attempt in range(1, DELETE_ATTEMPTS + 1):
            try:
                self._run(props, "delete")
                return
            except (OSError, EOFError, paramiko.SSHException):
                if attempt == DELETE_ATTEMPTS:
                    raise
                time.sleep(DELETE_RETRY_SECONDS)


@dataclass(frozen=True, kw_only=True)
class RemoteCommandArgs(CommandArgs):
    """A :class:`CommandArgs` run over ``connection`` (``command.remote.ConnectionArgs``, as a plain dict)."""

    connection: pulumi.Input[dict[str, Any]]
    # Set on the SSH session (the server's sshd must accept them: AcceptEnv); stored only when given.
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)


class RemoteCommand(Resource, module="wayshub", name="RemoteCommand"):
    """The built-in backend of ``command.remote.Command`` (declare commands through that, not this)."""

    stdout: pulumi.Output[str]
    stderr: pulumi.Output[str]

    def __init__(self, name: str, args: RemoteCommandArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        props = {
            **command_props(name, args),
            "connection": args.connection,
            **({"environment": dict(args.environment)} if args.environment else {}),
        }
        super().__init__(RemoteCommandProvider(), name, props, opts)


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class CopyFileProvider(CommandProvider):
    """Uploads ``source`` to ``remote_path``; the content hash is the input that drives re-uploads."""

    kind = "copy"

    def identity(self, props: dict[str, Any]) -> str:
        conn = _connection(props)
        return f"copy {props['remote_path']}@{conn.host}:{conn.port}"

    def execute(self, props: dict[str, Any], command: str) -> CommandResult:
        raise NotImplementedError("CopyFileToRemote runs no commands")

    def _upload(self, props: dict[str, Any]) -> dict[str, Any]:
        source = props["source"]
        if props.get("sha256") is not None:
            actual = file_sha256(source)
            if actual != props["sha256"]:
                raise ValueError(f"{source} changed since the program read it (sha256 {actual})")
        elif not Path(source).is_file():
            raise FileNotFoundError(f"{source} (content {props.get('content_id')}) was not made before its upload")
        ssh.upload(_connection(props), source, props["remote_path"])
        return {**props, "stdout": "", "stderr": ""}

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=self.identity(props), outs=self._upload(props))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        if not self._changed(olds, news, self.rerun_keys()):
            return UpdateResult(outs={**news, "stdout": "", "stderr": ""})
        return UpdateResult(outs=self._upload(news))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """The uploaded file is left for the owner's delete command to clean up."""

    def extra_keys(self) -> tuple[str, ...]:
        return ("sha256", "content_id", "remote_path")

    def quiet_keys(self) -> tuple[str, ...]:
        return ("connection",)

    def moved(self, olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
        return host_moved(olds, news)


@dataclass(frozen=True)
class CopyFileToRemoteArgs:
    connection: pulumi.Input[dict[str, Any]]
    source: pulumi.Input[str]  # a local path (maybe known only once another resource has run)
    remote_path: pulumi.Input[str]
    # What names the file's content (a build id) when the file may not exist yet while the program runs
    # (a preview builds nothing): it then drives re-uploads instead of the file's sha256.
    content_id: pulumi.Input[str] | None = None
    # Replace the copy when one of these changes (stored only when given, as stacks already hold copies).
    triggers: Sequence[pulumi.Input[object]] = ()
    # Copy it again (in place) when one of these changes: a repair of the host (None and [] are the same).
    rerun_on: RerunOn = ()


class CopyFileToRemote(Resource, module="wayshub", name="CopyFileToRemote"):
    """The built-in backend of ``command.remote.CopyToRemote``: one local file copied to a host over SFTP,
    re-copied when its sha256 (or ``content_id``) changes."""

    sha256: pulumi.Output[str | None]
    content_id: pulumi.Output[str | None]

    def __init__(self, name: str, args: CopyFileToRemoteArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        by_content_id = args.content_id is not None
        props: dict[str, Any] = {
            "connection": args.connection,
            "source": args.source,
            "sha256": None if by_content_id else pulumi.Output.from_input(args.source).apply(file_sha256),
            **({"content_id": args.content_id} if by_content_id else {}),
            "remote_path": args.remote_path,
            **({"triggers": list(args.triggers)} if args.triggers else {}),
            "rerun_on": rerun_list(args.rerun_on),
            "stdout": None,
            "stderr": None,
        }
        super().__init__(CopyFileProvider(), name, props, opts)
