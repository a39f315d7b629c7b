"""``LocalCommand``: a command run where ``pulumi up`` runs (docker CLI calls, builds)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.dynamic import Resource

from components.shell.provider import CommandArgs, CommandProvider, command_props
from components.shell.ssh import CommandResult

LOCAL_TIMEOUT_SECONDS = 1800


class LocalCommandProvider(CommandProvider):
    kind = "local"

    def identity(self, props: dict[str, Any]) -> str:
        return f"local:{props.get('name', 'command')}"

    def execute(self, props: dict[str, Any], command: str) -> CommandResult:
        env = {**os.environ, **{str(k): str(v) for k, v in (props.get("environment") or {}).items()}}
        completed = subprocess.run(
            ["bash", "-c", command],
            input=props.get("stdin") or "",
            capture_output=True,
            text=True,
            env=env,
            timeout=LOCAL_TIMEOUT_SECONDS,
            check=False,
        )
        return CommandResult(completed.returncode, completed.stdout, completed.stderr)


@dataclass(frozen=True, kw_only=True)
class LocalCommandArgs(CommandArgs):
    """A :class:`CommandArgs` run by bash where `pulumi up` runs, with extra ``environment``."""

    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)


class LocalCommand(Resource, module="wayshub", name="LocalCommand"):
    """The built-in backend of ``command.local.Command`` (declare commands through that, not this)."""

    stdout: pulumi.Output[str]
    stderr: pulumi.Output[str]

    def __init__(self, name: str, args: LocalCommandArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        props = {**command_props(name, args), "environment": dict(args.environment)}
        super().__init__(LocalCommandProvider(), name, props, opts)
