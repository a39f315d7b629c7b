"""How much of a stack's state the dynamic resources' pickled providers take (issue #16, item 3).

Every dynamic resource stores ``__provider`` (its provider object, pickled by dill and base64-encoded;
encrypted like a secret when the resource has secret inputs) in both its inputs and its outputs. Measured
from ``pulumi stack export``: the bytes of those values as the state file holds them, against the bytes of
the resources themselves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

PROVIDER_KEY = "__provider"
DYNAMIC_PREFIX = "pulumi-python:dynamic"


@dataclass(frozen=True)
class StateSize:
    resources: int
    dynamic: int
    resource_bytes: int  # every resource, as JSON
    provider_bytes: int  # every __provider value (inputs and outputs), as JSON
    encrypted_providers: int  # stored as a secret (ciphertext): not shared even when the pickle is the same

    @property
    def share(self) -> float:
        return self.provider_bytes / self.resource_bytes if self.resource_bytes else 0.0

    def describe(self) -> str:
        per = self.provider_bytes / self.dynamic if self.dynamic else 0
        return (
            f"{self.resources} resources ({self.dynamic} dynamic) take {self.resource_bytes:,} bytes of state; "
            f"the pickled providers (`{PROVIDER_KEY}`, in inputs and outputs) {self.provider_bytes:,} bytes of it "
            f"({100 * self.share:.1f} %, {per:.0f} bytes per dynamic resource; {self.encrypted_providers} of "
            f"{2 * self.dynamic} stored encrypted)"
        )


def _size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":")))


def measure(export: dict[str, Any]) -> StateSize:
    """``export``: the JSON of ``pulumi stack export``."""
    resources = export.get("deployment", {}).get("resources") or []
    dynamic = [r for r in resources if str(r.get("type", "")).startswith(DYNAMIC_PREFIX)]
    providers = [
        r[part][PROVIDER_KEY] for r in dynamic for part in ("inputs", "outputs") if PROVIDER_KEY in r.get(part, {})
    ]
    return StateSize(
        resources=len(resources),
        dynamic=len(dynamic),
        resource_bytes=sum(_size(r) for r in resources),
        provider_bytes=sum(_size(p) for p in providers),
        encrypted_providers=sum(1 for p in providers if isinstance(p, dict) and "ciphertext" in p),
    )
