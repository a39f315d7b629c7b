"""Which resources a backend switch re-types: every planned delete paired with its twin under the new token.

Pure functions over the preview's steps; a step that would run a delete command is a problem that refuses
the switch.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from components.layout import SITE_TYPE

SETTING = "wayshub:commands"
# Components whose commands' create is not a re-runnable deploy step: a sandbox VM's create removes a
# container of this stack and runs a new one, its network's refuses an existing network (each under the Site,
# or at the stack's top in a stack made before it).
NOT_RERUNNABLE = ("wayshub:hosts:SandboxVm$", "wayshub:hosts:SandboxNetwork$")
# Steps that run a delete command on a resource still in the state (besides a plain delete).
NOT_PURE = ": not a pure backend switch, run a plain `pulumi up` first"
REPLACING_OPS = {"replace", "create-replacement", "delete-replaced", "discard-replaced"}


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
            if urn_type(step.urn).removeprefix(f"{SITE_TYPE}$").startswith(NOT_RERUNNABLE):
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
