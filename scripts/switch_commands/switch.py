"""``Switch``: one backend switch of one stack through the Automation API: check, preview, mark, set, up."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pulumi import automation as auto

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from pulumi_errors import last_line

from components.shell.command.backend import plugin_installed

from .plan import SETTING, Plan, Step, describe, plan_switch
from .state import Refused, config_with, pending_operations, protected, retain_on_delete, stack_file_of

# The backends whose providers are plugins (the built-in ones run inside the program's process):
# backend name -> the resource plugin it needs.
PLUGIN_OF = {"pulumi-command": "command"}


def step_of(event: auto.EngineEvent) -> Step | None:
    pre = event.resource_pre_event
    if pre is None:
        return None
    meta = pre.metadata
    state = meta.new or meta.old
    return Step(op=str(meta.op.value), urn=meta.urn, custom=bool(state.custom) if state else True)


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
