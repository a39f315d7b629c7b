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

import time
from collections.abc import Mapping
from typing import Any

import pulumi

# The engine's built-in function that returns every resource of a stack's last checkpoint by URN
# (pkg/resource/deploy/builtins.go).
READ_STACK_RESOURCES = "pulumi:pulumi:readStackResourceOutputs"
READ_ATTEMPTS = 4
READ_RETRY_SECONDS = 0.25


def checkpoint_resources() -> Mapping[str, Any] | None:
    """Every resource of this stack's last checkpoint, URN → ``{"type", "outputs"}`` (empty for a new stack);
    None when it cannot be read (said once here; each caller says what it does without it).

    The engine saves the checkpoint of the very update this program runs in while the program starts (the
    stack resource's step): a read that meets the file backend mid-write fails (``failed to load
    checkpoint: EOF``), so a failed read is tried again before it counts."""
    stack = f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}"
    error: Exception | None = None
    for attempt in range(READ_ATTEMPTS):
        if attempt:
            time.sleep(READ_RETRY_SECONDS * attempt)
        try:
            result = pulumi.runtime.invoke(READ_STACK_RESOURCES, {"stackName": stack})
        except Exception as err:  # the callers decide what an unreadable state means
            error = err
            continue
        return (result.value or {}).get("outputs") or {}
    pulumi.log.warn(f"cannot read the stack's last state ({error})")
    return None


def checkpoint_urns() -> frozenset[str] | None:
    """The URNs of this stack's last checkpoint (empty for a new stack); None when it cannot be read."""
    resources = checkpoint_resources()
    return None if resources is None else frozenset(resources)
