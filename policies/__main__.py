"""The wayshub policy pack: the production rules of ``rules`` as pulumi-policy stack validation policies on the
``wayshub:index:Site`` component's outputs ``settings`` and ``plainSecrets`` (docs/policies.md): a component's
outputs are what a stack policy sees of it, in a preview too.

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
    StackValidationArgs,
    StackValidationPolicy,
)

from policies.rules import RULES, SITE_TYPE, Rule, plain, violations

READ = ("settings", "plainSecrets")  # the Site's outputs the rules take (policies/rules.py)
LEVELS = {"mandatory": EnforcementLevel.MANDATORY, "advisory": EnforcementLevel.ADVISORY}


def policy(rule: Rule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        # Only what the rules read: in a preview other values (other resources', the Site's releases) are
        # unknown, and reading one stops the policy ("can't be known during preview").
        for resource in (r for r in args.resources if r.resource_type == SITE_TYPE):
            props = {key: plain(resource.props[key]) for key in READ if key in resource.props}
            for message in violations(rule, resource.resource_type, props):
                report_violation(message, resource.urn)

    return StackValidationPolicy(
        name=rule.name,
        description=rule.description,
        enforcement_level=LEVELS[rule.level],
        validate=validate,
    )


PolicyPack(name="wayshub-production", policies=[policy(rule) for rule in RULES])
