"""What both command modules share: logging, secret outputs, and how ``rerun_on`` reaches pulumi-command."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

import pulumi

from components.shell.command.backend import Logging
from components.shell.provider import RerunOn


def logs_output(logging: Logging | None) -> bool:
    """The built-in backend's ``log_output``: False only for ``Logging.NONE``."""
    return logging != Logging.NONE


def secret_outputs(logging: Logging | None, always: list[str], when_silent: list[str]) -> list[str]:
    """``additional_secret_outputs`` for a command: ``always``, plus ``when_silent`` if it logs nothing."""
    return always + (when_silent if logging == Logging.NONE else [])


def merged_opts(opts: pulumi.ResourceOptions | None, secrets: list[str]) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=secrets))


def rerun_digest(values: Sequence[object]) -> str:
    return hashlib.sha256(json.dumps(list(values), sort_keys=True, default=str).encode()).hexdigest()


def rerun_update(
    create: pulumi.Input[str] | None, update: pulumi.Input[str] | None, rerun_on: RerunOn
) -> pulumi.Input[str] | None:
    """pulumi-command re-runs ``update`` when any input changes: ``rerun_on`` becomes a digest in a trailing
    comment of the update command (``create`` when there is no update), so the same changes re-run it."""
    if isinstance(rerun_on, pulumi.Output):
        # Known only later: an empty list leaves ``update`` as it is, as a static empty one does.
        return pulumi.Output.all(rerun_on, create, update).apply(
            lambda got: (
                got[2]
                if not got[0]
                else f"{got[2] if got[2] is not None else (got[1] or '')}\n# wayshub rerun-on {rerun_digest(got[0])}"
            )
        )
    if not rerun_on:
        return update
    command = update if update is not None else create
    digest = pulumi.Output.all(*rerun_on).apply(rerun_digest)
    return pulumi.Output.concat(command or "", "\n# wayshub rerun-on ", digest)
