"""``local.Command``: a command run where ``pulumi up`` runs, with pulumi-command's name and arguments."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_command

from components.shell import local as builtin
from components.shell.command import backend
from components.shell.command.backend import Logging
from components.shell.command.common import logs_output, merged_opts, rerun_update, secret_outputs
from components.shell.provider import RerunOn

LocalCommandResource = builtin.LocalCommand | pulumi_command.local.Command


def Command(
    resource_name: str,
    opts: pulumi.ResourceOptions | None = None,
    *,
    create: pulumi.Input[str] | None = None,
    update: pulumi.Input[str] | None = None,
    delete: pulumi.Input[str] | None = None,
    environment: Mapping[str, pulumi.Input[str]] | None = None,
    stdin: pulumi.Input[str] | None = None,
    triggers: Sequence[pulumi.Input[object]] | None = None,
    logging: Logging | None = None,
    rerun_on: RerunOn = (),
) -> LocalCommandResource:
    """A local command run by bash (pulumi-command's ``local.Command`` with ``interpreter=["bash", "-c"]``).

    ``stdin`` and ``environment`` are always kept secret in the state (they may carry keys); with
    ``logging=Logging.NONE`` stdout and stderr are too, and a failure shows no output.
    """
    opts = merged_opts(opts, secret_outputs(logging, ["stdin", "environment"], ["stdout", "stderr"]))
    if backend.current() == "builtin":
        return builtin.LocalCommand(
            resource_name,
            builtin.LocalCommandArgs(
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
    return pulumi_command.local.Command(
        resource_name,
        create=create,
        update=rerun_update(create, update, rerun_on),
        delete=delete,
        environment=dict(environment) if environment else None,
        stdin=stdin,
        triggers=list(triggers) if triggers else None,
        logging=pulumi_command.local.Logging(logging.value) if logging else None,
        interpreter=["bash", "-c"],
        add_previous_output_in_env=False,
        opts=opts,
    )
