"""The stack's exported state and config file, as a switch reads and edits them (plain data, no engine)."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml


class Refused(Exception):
    """The one line the user sees, and nothing was changed."""


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
