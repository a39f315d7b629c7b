"""``LocalCommand``: a command run where ``pulumi up`` runs (docker CLI calls, builds)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.dynamic import Resource

from components.shell.provider import CommandProvider
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


@dataclass(frozen=True)
class LocalCommandArgs:
    """``create`` runs on create, ``update`` (default: ``create``) when inputs change, ``delete`` on delete."""

    create: pulumi.Input[str]
    update: pulumi.Input[str] | None = None
    delete: pulumi.Input[str] | None = None
    stdin: pulumi.Input[str] | None = None
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    triggers: Sequence[pulumi.Input[object]] = ()
    rerun_on: Sequence[pulumi.Input[object]] = ()
    log_output: bool = True
    delete_before_replace: bool = False


class LocalCommand(Resource, module="wayshub", name="LocalCommand"):
    """A local command as a resource; ``stdout`` is its output (empty when ``log_output`` is off)."""

    stdout: pulumi.Output[str]
    stderr: pulumi.Output[str]

    def __init__(self, name: str, args: LocalCommandArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        props: dict[str, Any] = {
            "name": name,
            "create": args.create,
            "update": args.update,
            "delete": args.delete,
            "stdin": args.stdin,
            "environment": dict(args.environment),
            "triggers": list(args.triggers),
            "rerun_on": list(args.rerun_on),
            "log_output": args.log_output,
            "delete_before_replace": args.delete_before_replace,
            "stdout": None,
            "stderr": None,
        }
        secret_outputs = [] if args.log_output else ["stdout", "stderr"]
        opts = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(additional_secret_outputs=["stdin", "environment", *secret_outputs])
        )
        super().__init__(LocalCommandProvider(), name, props, opts)
