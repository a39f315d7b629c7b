"""Switch a live stack between command backends without running a single delete command.

    scripts/switch-commands --stack local --to pulumi-command [--dry-run]

Why: the two backends register command resources under different type tokens (our built-in
``pulumi-python:dynamic/wayshub:RemoteCommand`` vs pulumi-command's ``command:remote:Command``;
docs/commands.md), so every command resource gets a new URN. A plain `pulumi up` after changing
``wayshub:commands`` creates the new resources and then DELETES the old ones, running their delete
commands: the app's teardown, the nginx site's unpublish, the sandbox VMs' `docker rm`. The site goes down.

What this does instead:
1. exports the state and refuses (one line) a stack with pending operations (an interrupted `up`) or a
   target backend whose provider plugin is not installed;
2. previews the program with the new setting (a copy of the stack's config file, so nothing changes
   yet) and checks that the only deletes are re-typed resources: each deleted resource has a created
   twin of the same name under the new token. Anything else (a replace, a resource the program dropped,
   a protected resource) is refused: its delete would run, so that is a change for a plain `up` first;
3. marks exactly those old resources ``retainOnDelete`` in the exported state and imports it: the engine
   then drops them from the state without calling their provider (no delete command runs);
4. sets the backend setting in the stack's config and runs `up`: the new resources' create commands
   run (idempotent deploy steps: the same files again, the same release through the health-gated
   rolling switch), then the old ones leave the state.

It can be run again after a failed `up`: the marks stay, and the next run carries on.
``--dry-run`` stops after step 2 and prints the plan. Uses the `pulumi` on PATH and its environment
(PULUMI_BACKEND_URL, the passphrase), as `make` sets them.

The package, one job per module: :mod:`.plan` pairs the preview's deletes with their re-typed twins,
:mod:`.state` reads and edits the exported state and the stack's config file, :mod:`.switch` drives the
stack through the Automation API, :mod:`.cli` is the command line.
"""

from __future__ import annotations

from .cli import main
from .plan import NOT_PURE, SETTING, Plan, Step, describe, is_provider, plan_switch, urn_name, urn_type
from .state import Refused, config_with, pending_operations, protected, retain_on_delete, stack_file_of
from .switch import Switch, step_of

__all__ = [
    "NOT_PURE",
    "SETTING",
    "Plan",
    "Refused",
    "Step",
    "Switch",
    "config_with",
    "describe",
    "is_provider",
    "main",
    "pending_operations",
    "plan_switch",
    "protected",
    "retain_on_delete",
    "stack_file_of",
    "step_of",
    "urn_name",
    "urn_type",
]
