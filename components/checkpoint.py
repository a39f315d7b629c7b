"""The stack's last checkpoint as the program sees it: the URN of every resource, read once per run.

Read before any resource is declared, through the engine's built-in ``readStackResourceOutputs`` invoke (an
invoke, not a StackReference: it adds no step to a preview), so ``preview`` and ``up`` get the same answer.
Two decisions use it: which command backend a stack that does not set ``wayshub:commands`` keeps
(components/shell/command/backend.py), and which app servers already serve a release (components/app/rollout.py).
Only URNs leave this module: the outputs the engine sends along (secrets decrypted) are dropped here.
"""

from __future__ import annotations

import pulumi

# The engine's built-in function that returns every resource of a stack's last checkpoint by URN
# (pkg/resource/deploy/builtins.go).
READ_STACK_RESOURCES = "pulumi:pulumi:readStackResourceOutputs"


def checkpoint_urns() -> frozenset[str] | None:
    """The URNs of this stack's last checkpoint (empty for a new stack); None when it cannot be read."""
    stack = f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}"
    try:
        result = pulumi.runtime.invoke(READ_STACK_RESOURCES, {"stackName": stack})
    except Exception as err:  # the callers decide what an unreadable state means
        pulumi.log.warn(f"cannot read the stack's last state ({err})")
        return None
    return frozenset((result.value or {}).get("outputs") or {})
