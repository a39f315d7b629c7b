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
"""

from __future__ import annotations

import argparse
import copy
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pulumi import automation as auto

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pulumi_errors import last_line

from components.shell.command.backend import plugin_installed

SETTING = "wayshub:commands"
# The backends whose providers are plugins (the built-in ones run inside the program's process):
# backend name -> the resource plugin it needs.
PLUGIN_OF = {"pulumi-command": "command"}
# Components whose commands' create is not a re-runnable deploy step: a sandbox VM's create removes a
# container of this stack and runs a new one, its network's refuses an existing network.
NOT_RERUNNABLE = ("wayshub:hosts:SandboxVm$", "wayshub:hosts:SandboxNetwork$")
# Steps that run a delete command on a resource still in the state (besides a plain delete).
NOT_PURE = ": not a pure backend switch, run a plain `pulumi up` first"
REPLACING_OPS = {"replace", "create-replacement", "delete-replaced", "discard-replaced"}


class Refused(Exception):
    """The one line the user sees, and nothing was changed."""


@dataclass(frozen=True)
class Step:
    """One step of a preview: the operation, the resource's URN and whether it is a custom resource."""

    op: str
    urn: str
    custom: bool = True


def urn_type(urn: str) -> str:
    """The (parent-qualified) type of a URN: ``urn:pulumi:<stack>::<project>::<type>::<name>``."""
    return urn.split("::")[2]


def urn_name(urn: str) -> str:
    return urn.split("::", 3)[3]


def is_provider(urn: str) -> bool:
    return urn_type(urn).startswith("pulumi:providers:")


@dataclass
class Plan:
    """What a switch does: ``retyped`` maps each old URN to its new twin; ``problems`` refuse the switch."""

    retyped: dict[str, str] = field(default_factory=dict)
    creates: list[str] = field(default_factory=list)
    updates: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def plan_switch(steps: Iterable[Step]) -> Plan:
    """Pair every planned delete with the create of the same name under another type.

    A delete without such a twin (or a replace) would run a delete command that the switch has no
    business running: it becomes a problem. Providers come and go with no command run."""
    plan = Plan()
    steps = list(steps)
    created: dict[str, list[str]] = {}
    for step in steps:
        if step.op == "create" and not is_provider(step.urn):
            created.setdefault(urn_name(step.urn), []).append(step.urn)
    paired: set[str] = set()
    for step in steps:
        if step.op in REPLACING_OPS:
            plan.problems.append(f"{step.urn} would be replaced (its delete command would run){NOT_PURE}")
        elif step.op == "delete" and not is_provider(step.urn):
            twins = [u for u in created.get(urn_name(step.urn), []) if urn_type(u) != urn_type(step.urn)]
            if len(twins) != 1:
                plan.problems.append(
                    f"{step.urn} would be deleted with no new twin of that name (its delete would run){NOT_PURE}"
                )
                continue
            if urn_type(step.urn).startswith(NOT_RERUNNABLE):
                plan.problems.append(
                    f"{step.urn}: its create would make the sandbox VM or network again (docker rm + run), so a "
                    "sandbox stack cannot switch in place: destroy it and up it with the new setting"
                )
                continue
            plan.retyped[step.urn] = twins[0]
            paired.add(twins[0])
        elif step.op == "update" and step.custom and not is_provider(step.urn):
            plan.updates.append(step.urn)
    plan.creates = [s.urn for s in steps if s.op == "create" and s.urn not in paired]
    return plan


def pending_operations(deployment: Mapping[str, Any]) -> list[str]:
    """``"<type> <urn>"`` of each operation an interrupted `up` left in the state."""
    return [
        f"{op.get('type', '?')} {op.get('resource', {}).get('urn', '?')}"
        for op in deployment.get("pending_operations") or []
    ]


def protected(deployment: Mapping[str, Any], urns: Iterable[str]) -> list[str]:
    wanted = set(urns)
    return [r["urn"] for r in deployment.get("resources") or [] if r["urn"] in wanted and r.get("protect")]


def retain_on_delete(deployment: Mapping[str, Any], urns: Iterable[str]) -> dict[str, Any]:
    """A copy of ``deployment`` with ``retainOnDelete`` set on exactly ``urns`` (all of which must be there)."""
    wanted = set(urns)
    marked = copy.deepcopy(dict(deployment))
    found = set()
    for resource in marked.get("resources") or []:
        if resource["urn"] in wanted:
            resource["retainOnDelete"] = True
            found.add(resource["urn"])
    if missing := sorted(wanted - found):
        raise Refused(f"the state has no resource {missing[0]} (it changed while we looked): run again")
    return marked


def config_with(stack_file: Path, key: str, value: str) -> str:
    """The stack's config file text with ``key`` set to ``value`` (secrets and salt kept as they are)."""
    data = yaml.safe_load(stack_file.read_text()) if stack_file.exists() else None
    data = data or {}
    data.setdefault("config", {})
    data["config"] = {**(data["config"] or {}), key: value}
    return yaml.safe_dump(data, sort_keys=False)


def stack_file_of(work_dir: Path, stack: str) -> Path:
    project = yaml.safe_load((work_dir / "Pulumi.yaml").read_text()) or {}
    return work_dir / str(project.get("stackConfigDir") or ".") / f"Pulumi.{stack.rsplit('/', 1)[-1]}.yaml"


def step_of(event: auto.EngineEvent) -> Step | None:
    pre = event.resource_pre_event
    if pre is None:
        return None
    meta = pre.metadata
    state = meta.new or meta.old
    return Step(op=str(meta.op.value), urn=meta.urn, custom=bool(state.custom) if state else True)


def describe(plan: Plan, stack: str, current: str, target: str) -> list[str]:
    lines = [f"switch-commands: stack {stack}: {SETTING} {current} -> {target}"]
    lines.append(f"  {len(plan.retyped)} resources change type; the old ones leave the state, their delete never runs:")
    lines += [f"    {urn_name(old)}: {urn_type(old)} -> {urn_type(new)}" for old, new in sorted(plan.retyped.items())]
    if plan.creates:
        lines.append(f"  {len(plan.creates)} further resources are created:")
        lines += [f"    {urn_name(u)}: {urn_type(u)}" for u in plan.creates]
    if plan.updates:
        lines.append(f"  {len(plan.updates)} resources are updated (their update commands run):")
        lines += [f"    {urn_name(u)}: {urn_type(u)}" for u in plan.updates]
    return lines


@dataclass(frozen=True)
class Switch:
    """One switch of one stack (the Automation API's view of it)."""

    stack: auto.Stack
    work_dir: Path
    target: str
    setting: str = SETTING
    say: Callable[[str], None] = print

    def check_plugin(self) -> None:
        plugin = PLUGIN_OF.get(self.target)
        if plugin is None:
            return
        plugins = self.stack.workspace.list_plugins()
        if not any(p.name == plugin and str(p.kind) == "resource" for p in plugins) and not plugin_installed():
            raise Refused(
                f"{self.setting}={self.target}: the '{plugin}' resource plugin is not installed "
                f"(`pulumi plugin install resource {plugin}`); nothing was changed"
            )

    def current(self) -> str:
        try:
            return self.stack.get_config(self.setting).value
        except auto.CommandError:
            return "(unset)"

    def preview(self) -> list[Step]:
        """The engine's steps for the program with the new setting, from a copy of the stack's config."""
        steps: list[Step] = []
        text = config_with(stack_file_of(self.work_dir, self.stack.name), self.setting, self.target)
        with tempfile.TemporaryDirectory(prefix="switch-commands-") as tmp:
            config_file = Path(tmp) / "Pulumi.switch.yaml"
            config_file.write_text(text)
            try:
                self.stack.preview(config_file=str(config_file), on_event=lambda e: _add(steps, step_of(e)))
            except auto.CommandError as err:
                raise Refused(f"the preview with {self.setting}={self.target} failed: {last_line(err)}") from err
        return steps

    def run(self, dry_run: bool) -> Plan:
        exported = self.stack.export_stack()
        deployment = dict(exported.deployment or {})
        if pending := pending_operations(deployment):
            raise Refused(
                f"stack {self.stack.name} has {len(pending)} pending operations (an interrupted up: {pending[0]}): "
                "run `make recover` first; nothing was changed"
            )
        self.check_plugin()
        current = self.current()
        plan = plan_switch(self.preview())
        if plan.problems:
            raise Refused(f"{plan.problems[0]}; nothing was changed")
        if locked := protected(deployment, plan.retyped):
            raise Refused(f"{locked[0]} is protected: `pulumi state unprotect` it first; nothing was changed")
        for line in describe(plan, self.stack.name, current, self.target):
            self.say(line)
        if dry_run:
            self.say("switch-commands: dry run: nothing was changed")
            return plan
        self.stack.import_stack(
            auto.Deployment(version=exported.version, deployment=retain_on_delete(deployment, plan.retyped))
        )
        self.say(f"switch-commands: {len(plan.retyped)} old resources marked retainOnDelete")
        self.stack.set_config(self.setting, auto.ConfigValue(self.target))
        self.say(f"switch-commands: {self.setting}={self.target}; pulumi up")
        try:
            self.stack.up(on_output=self.say, color="never")
        except auto.CommandError as err:
            raise Refused(
                f"the up failed ({last_line(err)}); the old resources stay marked: fix it and run this again"
            ) from err
        left = {r["urn"] for r in (self.stack.export_stack().deployment or {}).get("resources") or []} & set(
            plan.retyped
        )
        if left:
            raise Refused(f"{sorted(left)[0]} is still in the state after the up: run this again")
        self.say(f"switch-commands: done: {len(plan.retyped)} resources now under {self.target}, no delete command ran")
        return plan


def _add(steps: list[Step], step: Step | None) -> None:
    if step is not None:
        steps.append(step)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Switch a live stack between command backends; no delete command runs."
    )
    parser.add_argument("--stack", required=True)
    parser.add_argument("--to", required=True, help="the backend to switch to (builtin, pulumi-command)")
    parser.add_argument("--dry-run", action="store_true", help="print what would change; change nothing")
    parser.add_argument("--cwd", default=".", help="the project folder (Pulumi.yaml)")
    parser.add_argument("--setting", default=SETTING, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.to == "auto":
        print("switch-commands: --to auto: name the backend to switch to (builtin or pulumi-command)", file=sys.stderr)
        return 2
    if shutil.which("pulumi") is None:
        print("switch-commands: no `pulumi` on PATH (make puts the engine there)", file=sys.stderr)
        return 2
    work_dir = Path(args.cwd).resolve()
    try:
        stack = auto.select_stack(stack_name=args.stack, work_dir=str(work_dir))
        Switch(stack, work_dir, args.to, args.setting).run(args.dry_run)
    except Refused as err:
        print(f"switch-commands: {err}", file=sys.stderr)
        return 1
    except auto.CommandError as err:
        print(f"switch-commands: {last_line(err)}", file=sys.stderr)
        return 1
    return 0
