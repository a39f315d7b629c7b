"""The stack's last checkpoint as the program sees it: every resource by URN, one engine invoke per reader.

Read before any resource is declared, through the engine's built-in ``readStackResourceOutputs`` invoke (an
invoke, not a StackReference: it adds no step to a preview), so ``preview`` and ``up`` get the same answer.
It decides which command backend a stack that does not set ``wayshub:commands`` keeps
(components/shell/command/backend.py), which app servers already serve a release (components/app/rollout.py),
and in containers mode which slot serves (components/containers/rollout.py).
Containers mode also reads outputs from it (which slot serves, the recent releases' images); the others
take only URNs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

# The engine's built-in function that returns every resource of a stack's last checkpoint by URN
# (pkg/resource/deploy/builtins.go).
READ_STACK_RESOURCES = "pulumi:pulumi:readStackResourceOutputs"


def checkpoint_resources() -> Mapping[str, Any] | None:
    """Every resource of this stack's last checkpoint, URN → ``{"type", "outputs"}`` (empty for a new stack);
    None when it cannot be read (said once here; each caller says what it does without it)."""
    stack = f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}"
    try:
        result = pulumi.runtime.invoke(READ_STACK_RESOURCES, {"stackName": stack})
    except Exception as err:  # the callers decide what an unreadable state means
        pulumi.log.warn(f"cannot read the stack's last state ({err})")
        return None
    return (result.value or {}).get("outputs") or {}


def checkpoint_urns() -> frozenset[str] | None:
    """The URNs of this stack's last checkpoint (empty for a new stack); None when it cannot be read."""
    resources = checkpoint_resources()
    return None if resources is None else frozenset(resources)
