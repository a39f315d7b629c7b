"""``remote.Command``, ``remote.CopyToRemote``, ``remote.ConnectionArgs``: pulumi-command's names and shapes.

Each call declares the resource of the chosen backend (:mod:`components.shell.command.backend`): our
built-in dynamic resource (``components.shell.remote``) or ``pulumi_command.remote.*``, with the same
name, options and secrets. docs/commands.md lists where the two behave differently.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_command

from components.shell import host_state, ssh, uploads
from components.shell import remote as builtin
from components.shell.command import backend
from components.shell.command.backend import Logging
from components.shell.command.common import logs_output, merged_opts, rerun_update, secret_outputs
from components.shell.command.preview_asset import PREVIEW_OPTS, preview_source
from components.shell.provider import RerunOn

RemoteCommandResource = builtin.RemoteCommand | pulumi_command.remote.Command
CopyToRemoteResource = builtin.CopyFileToRemote | pulumi_command.remote.CopyToRemote
PER_DIAL_SECONDS = 10  # our SSH client's connect timeout per attempt; pulumi-command's per_dial_timeout


@dataclass(frozen=True, kw_only=True)
class ConnectionArgs:
    """pulumi-command's ``ConnectionArgs`` (host, port, user, private_key, host_key), plus ours:

    - ``dial_timeout_seconds``: how long to keep dialling (a VM still booting);
    - ``known_hosts_file``: without ``host_key``, the file that must list the server's key (default
      ~/.ssh/known_hosts): the built-in backend refuses any key it does not list;
    - ``gone_if``: a local command that succeeds only when the host no longer exists (a removed sandbox
      VM): deleting a resource there has nothing left to do.
    The private key is always made secret.
    """

    host: pulumi.Input[str]
    port: pulumi.Input[int] = 22
    user: pulumi.Input[str] = "root"
    private_key: pulumi.Input[str] | None = None
    host_key: pulumi.Input[str] | None = None
    dial_timeout_seconds: float = 60.0
    known_hosts_file: str | None = None
    gone_if: str | None = None

    def builtin(self) -> pulumi.Output[dict[str, Any]]:
        """The built-in backend's ``connection`` input (the same keys and order stacks already hold)."""
        return pulumi.Output.from_input({**self.builtin_plain(), "private_key": pulumi.Output.secret(self.private_key)})

    def builtin_plain(self) -> dict[str, Any]:
        """:meth:`builtin` as a dict of inputs, the private key as given."""
        return {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "private_key": self.private_key,
            "host_key": self.host_key,
            "dial_timeout_seconds": self.dial_timeout_seconds,
            "gone_if": self.gone_if,
            **({"known_hosts_file": self.known_hosts_file} if self.known_hosts_file else {}),
        }

    def pulumi_command(self) -> pulumi_command.remote.ConnectionArgs:
        """pulumi-command's form. It checks a host key only when given one, so without ``host_key`` the key
        the known_hosts file lists is passed, and a server it does not list is refused (UnknownHostKey):
        never a connection without a host key to check."""
        host_key = self.host_key
        if host_key is None:
            known = Path(self.known_hosts_file) if self.known_hosts_file else ssh.KNOWN_HOSTS
            host_key = pulumi.Output.all(self.host, self.port).apply(
                lambda hp: require_known_host_key(str(hp[0]), int(hp[1]), known)
            )
        return pulumi_command.remote.ConnectionArgs(
            host=self.host,
            port=self.port,
            user=self.user,
            private_key=None if self.private_key is None else pulumi.Output.secret(self.private_key),
            host_key=host_key,
            per_dial_timeout=PER_DIAL_SECONDS,
            dial_error_limit=max(1, math.ceil(self.dial_timeout_seconds / PER_DIAL_SECONDS)),
        )


def known_host_key(host: str, port: int, path: Path) -> str | None:
    """The first key ``path`` lists for the server, as ``"<type> <base64>"``."""
    keys = ssh.known_host_keys(host, port, path)
    return " ".join(keys[0]) if keys else None


class UnknownHostKey(ValueError):
    """A server with no pinned host key that the known_hosts file does not list either."""


def require_known_host_key(host: str, port: int, path: Path) -> str:
    """The key ``path`` lists for the server, else UnknownHostKey naming both."""
    key = known_host_key(host, port, path.expanduser())
    if key is None:
        raise UnknownHostKey(f"{host}:{port} is not in {path} and has no pinned host key: refusing to connect")
    return key


def Command(
    resource_name: str,
    opts: pulumi.ResourceOptions | None = None,
    *,
    connection: ConnectionArgs,
    create: pulumi.Input[str] | None = None,
    update: pulumi.Input[str] | None = None,
    delete: pulumi.Input[str] | None = None,
    environment: Mapping[str, pulumi.Input[str]] | None = None,
    stdin: pulumi.Input[str] | None = None,
    triggers: Sequence[pulumi.Input[object]] | None = None,
    logging: Logging | None = None,
    rerun_on: RerunOn = (),
) -> RemoteCommandResource:
    """A command on a host over SSH (pulumi-command's ``remote.Command``).

    ``triggers`` replace it; ``rerun_on`` (ours) re-runs ``update`` in place when one of its values changes.
    ``logging=Logging.NONE``: the command handles secrets; its stdout, stderr and stdin are kept secret and
    a failure shows no output.
    """
    secrets = secret_outputs(logging, ["connection"], ["stdout", "stderr", "stdin"])
    if backend.current() == "builtin":
        opts = merged_opts(opts, secrets)
        return builtin.RemoteCommand(
            resource_name,
            builtin.RemoteCommandArgs(
                connection=connection.builtin(),
                create=create or "",
                update=update,
                delete=delete,
                stdin=stdin,
                environment=dict(environment or {}),
                triggers=list(triggers or []),
                rerun_on=rerun_on,
                log_output=logs_output(logging),
                delete_before_replace=bool(opts.delete_before_replace),
            ),
            opts,
        )
    return pulumi_command.remote.Command(
        resource_name,
        connection=connection.pulumi_command(),
        create=create,
        update=rerun_update(create, update, rerun_on),
        delete=delete,
        environment=dict(environment) if environment else None,
        stdin=stdin,
        triggers=list(triggers) if triggers else None,
        logging=pulumi_command.remote.Logging(logging.value) if logging else None,
        add_previous_output_in_env=False,
        opts=merged_opts(opts, theirs(secrets)),
    )


def CopyToRemote(
    resource_name: str,
    opts: pulumi.ResourceOptions | None = None,
    *,
    connection: ConnectionArgs,
    source: pulumi.Input[pulumi.FileAsset],
    remote_path: pulumi.Input[str],
    triggers: Sequence[pulumi.Input[object]] | None = None,
    content_id: pulumi.Input[str] | None = None,
    rerun_on: RerunOn = (),
) -> CopyToRemoteResource:
    """One local file to ``remote_path`` (pulumi-command's ``remote.CopyToRemote`` with a ``FileAsset``).

    ``content_id`` (ours) names the file's content when the file may not exist while the program runs (a
    preview builds nothing): the built-in backend then re-copies when it changes instead of hashing the
    file; pulumi-command gets it as a trigger. ``rerun_on`` (ours): values whose change copies the file
    again (the built-in backend in place; pulumi-command through ``triggers``, a replacement).
    ``remote_path`` must be in an upload step's private folder (components/shell/uploads.py), never /tmp.
    """
    if isinstance(remote_path, str) and not uploads.is_private(remote_path):
        raise ValueError(
            f"{resource_name}: {remote_path} is not in a private upload folder ({uploads.UPLOAD_ROOT}/<step>/)"
        )
    if backend.current() == "builtin":
        opts = merged_opts(opts, ["connection"])
        return builtin.CopyFileToRemote(
            resource_name,
            builtin.CopyFileToRemoteArgs(
                connection=connection.builtin(),
                source=pulumi.Output.from_input(source).apply(asset_path),
                remote_path=remote_path,
                content_id=content_id,
                triggers=list(triggers or []),
                rerun_on=rerun_on,
            ),
            opts,
        )
    given: pulumi.Input[pulumi.Asset] = source
    theirs_connection = connection.pulumi_command()
    if pulumi.runtime.is_dry_run():  # the file may not exist yet: preview_asset.py
        given, opts = preview_source(source), pulumi.ResourceOptions.merge(opts, PREVIEW_OPTS)
    return pulumi_command.remote.CopyToRemote(
        resource_name,
        connection=theirs_connection,
        source=given,
        remote_path=remote_path,
        triggers=copy_triggers(
            [where(theirs_connection), *(triggers or []), *([content_id] if content_id is not None else [])], rerun_on
        ),
        opts=opts,
    )


def where(connection: pulumi_command.remote.ConnectionArgs) -> pulumi.Output[str]:
    """``"host <user>@<host>:<port> <host key>"``, a copy's first trigger on pulumi-command: its copy does not copy
    again when only the connection changes, so a re-created VM (new port, new key) would miss the file."""
    return pulumi.Output.all(connection.user, connection.host, connection.port, connection.host_key).apply(
        lambda v: f"host {v[0]}@{v[1]}:{v[2]} {v[3] or ''}".rstrip()
    )


def copy_triggers(static: list[pulumi.Input[object]], rerun_on: RerunOn) -> pulumi.Input[list[object]] | None:
    """pulumi-command's ``triggers`` for a copy: ``static`` then the ``rerun_on`` values (None when none)."""
    if isinstance(rerun_on, pulumi.Output):
        return pulumi.Output.all(pulumi.Output.all(*static), rerun_on).apply(
            lambda got: [*got[0], *got[1]] or None  # type: ignore[arg-type,return-value]
        )
    return [*static, *rerun_on] or None


def theirs(secrets: list[str]) -> list[str]:
    """The secret outputs to ask pulumi-command for: its SDK makes ``connection`` secret itself."""
    return [name for name in secrets if name != "connection"]


def asset_path(asset: pulumi.FileAsset) -> str:
    if not isinstance(asset, pulumi.FileAsset):
        raise TypeError(f"the built-in backend copies files (pulumi.FileAsset), not {type(asset).__name__}")
    return str(asset.path)


def HostState(
    resource_name: str,
    opts: pulumi.ResourceOptions | None = None,
    *,
    connection: ConnectionArgs,
    host: str,
    checks: Sequence[host_state.Check],
) -> host_state.HostState:
    """What ``host`` should hold, read back by ``pulumi refresh`` in one SSH round trip (ours, with either
    backend: pulumi-command's resources cannot read). Feed ``repair_tokens(state, [component])`` to the
    ``rerun_on`` of the commands that make a component, so the next ``up`` repairs what drifted."""
    return host_state.HostState(resource_name, host_state.HostStateArgs(host, connection.builtin(), checks), opts)


def repair_tokens(state: host_state.HostState, components: Sequence[str]) -> pulumi.Output[list[str]]:
    """``rerun_on`` values for ``components``' repairs on the host of ``state`` (none before the first)."""
    return state.repairs.apply(lambda repairs: host_state.repair_token(repairs, components))


def rerun_with(values: Sequence[pulumi.Input[object]], tokens: pulumi.Output[list[str]]) -> pulumi.Output[list[object]]:
    """``values`` then ``tokens``, as one ``rerun_on`` list."""
    return pulumi.Output.all(pulumi.Output.all(*values), tokens).apply(lambda got: [*got[0], *got[1]])
