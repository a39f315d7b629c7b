"""The wayshub policy pack: the production rules of ``rules`` as pulumi-policy resource validation policies
on the ``wayshub:index:Site`` component (docs/policies.md).

Run by the engine (``pulumi preview --policy-pack policies``) as ``python policies/`` in the pack's own venv
(``make policy-venv``; ``policies/python-shim`` says how our engine finds it). Each rule's level is its
default; a ``--policy-pack-config`` file overrides it (``{"production-node-pinned": "mandatory"}``).
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # run as `python policies/`: make the package importable from the project folder
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pulumi_policy import (
    EnforcementLevel,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from policies.rules import RULES, Rule, plain, violations

LEVELS = {"mandatory": EnforcementLevel.MANDATORY, "advisory": EnforcementLevel.ADVISORY}


def policy(rule: Rule) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        for message in violations(rule, args.resource_type, plain(args.props)):
            report_violation(message, None)

    return ResourceValidationPolicy(
        name=rule.name,
        description=rule.description,
        enforcement_level=LEVELS[rule.level],
        validate=validate,
    )


PolicyPack(name="wayshub-production", policies=[policy(rule) for rule in RULES])
