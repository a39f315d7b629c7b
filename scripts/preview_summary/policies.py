"""The policy pack's verdicts (policies/, docs/policies.md) for the comment: `pulumi preview --json` leaves
them out of its JSON, so they come from the engine's event log (``--event-log``, one JSON event per line):
each ``policyEvent`` is one violation, with its policy, level, resource and message."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from .engine import Urn, scrub

# Mandatory violations first: they are what refuses the preview.
LEVEL_ORDER = {"mandatory": 0, "remediate": 1, "advisory": 2}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


@dataclass(frozen=True)
class Violation:
    level: str  # mandatory, advisory (or remediate)
    policy: str
    resource: str  # the resource's name (its URN's last part); "" for the stack as a whole
    description: str  # what the policy asks for
    message: str  # what to change: "wayshub:lb.tls: production needs HTTPS ..."


def read_events(source: TextIO) -> list[dict[str, Any]]:
    """The events of an ``--event-log`` file in the engine's order (``sequence``)."""
    events = []
    for number, line in enumerate(source, start=1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"event log line {number}: {err.msg}") from None
        if not isinstance(event, dict):
            raise ValueError(f"event log line {number}: expected a JSON object (an engine event)")
        events.append(event)
    return sorted(events, key=lambda event: int(event.get("sequence") or 0))


def violations(events: Iterable[Mapping[str, Any]]) -> list[Violation]:
    """Every ``policyEvent``, mandatory first. Its message is the policy's description, a line break and what
    the policy reported."""
    found = []
    for event in events:
        policy = event.get("policyEvent")
        if not isinstance(policy, Mapping):
            continue
        lines = [line.strip() for line in str(scrub(policy.get("message", ""))).strip().splitlines()]
        description, message = (lines[0], " ".join(lines[1:])) if len(lines) > 1 else ("", " ".join(lines))
        urn = policy.get("resourceUrn")
        found.append(
            Violation(
                level=str(policy.get("enforcementLevel", "advisory")),
                policy=str(policy.get("policyName", "")),
                resource=Urn.parse(str(urn)).name if urn else "",
                description=description,
                message=message,
            )
        )
    return sorted(found, key=lambda v: LEVEL_ORDER.get(v.level, len(LEVEL_ORDER)))


def section(found: Sequence[Violation]) -> list[str]:
    """The comment's "Policy violations" lines (none without violations)."""
    if not found:
        return []
    mandatory = sum(1 for v in found if v.level == "mandatory")
    counts = []
    if mandatory:
        counts.append(f"**{mandatory} mandatory** (the preview is refused until fixed)")
    if len(found) > mandatory:
        counts.append(f"{len(found) - mandatory} advisory")
    lines = ["#### Policy violations", "", f"{', '.join(counts)}; docs/policies.md says why.", ""]
    lines += ["| level | policy | resource | what to change |", "|---|---|---|---|"]
    for v in found:
        level = f"**{v.level}**" if v.level == "mandatory" else v.level
        resource = f"`{_cell(v.resource)}`" if v.resource else "the stack"
        lines.append(f"| {level} | `{_cell(v.policy)}` | {resource} | {_cell(v.message or v.description)} |")
    return [*lines, ""]
