"""Roll every app server back to its previous release through Pulumi's Automation API (scripts/rollback).

    scripts/rollback --stack local           (make rollback)
    scripts/rollback --stack local --unpin   (make unpin: back to deploying the release built from app/)

Pins ``wayshub:app.releasePin`` in the stack's config to the one previous release every server shares (the
stack outputs ``releases`` and ``previous_releases``), then runs a rolling `up`. The previous release is
still on every server (wayshub:app.releasesKept), so this is a symlink switch per host, health-gated and
one batch at a time like any release change. In containers mode the previous release's image (the stack
output ``release_images``) runs again in each server's other slot, health-gated, one server at a time. ``--unpin`` removes the pin and runs `up` again.

The project is the current folder (its Pulumi.yaml); uses the `pulumi` on PATH and its environment
(PULUMI_BACKEND_URL, the passphrase), as `make` sets them. A failure is one line on stderr and exit 1.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pulumi import automation as auto
from pulumi_errors import last_line

PIN = "wayshub:app.releasePin"
CURRENT = "releases"
PREVIOUS = "previous_releases"


class Refused(Exception):
    """The one line the user sees (after ``rollback: ``)."""


def rollback_target(current: Sequence[str], previous: Sequence[str]) -> str:
    """The release to pin: the previous release, which every server must share (and have)."""
    targets = set(previous)
    if len(targets) != 1 or "" in targets:
        raise Refused(f"servers do not share one previous release (current {current}, previous {previous})")
    return targets.pop()


def output_list(outputs: Mapping[str, auto.OutputValue], name: str, stack: str) -> list[str]:
    """A list-of-strings stack output (one entry per app server)."""
    if name not in outputs:
        raise Refused(f"stack {stack} has no output '{name}' (has it been deployed? make up)")
    value: Any = outputs[name].value
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Refused(f"stack {stack}: output '{name}' is not a list of release ids: {value!r}")
    return value


def say_now(line: str) -> None:
    """A line on stdout at once (the up's progress reads live through a pipe too)."""
    print(line, flush=True)


def rollback(stack: auto.Stack, unpin: bool, say: Callable[[str], None] = say_now) -> None:
    """Pin the previous release (or, with ``unpin``, remove the pin), then a rolling `up`."""
    if unpin:
        stack.remove_config(PIN, path=True)
    else:
        outputs = stack.outputs()
        current = output_list(outputs, CURRENT, stack.name)
        previous = output_list(outputs, PREVIOUS, stack.name)
        target = rollback_target(current, previous)
        say(f"rollback: pinning {PIN}={target} (servers are on {sorted(set(current))})")
        stack.set_config(PIN, auto.ConfigValue(target), path=True)
    stack.up(on_output=say, color="never")
    if not unpin:
        say(f"rollback: done. To deploy app/ again: scripts/rollback --stack {stack.name} --unpin")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Roll every app server back to its previous release.")
    parser.add_argument("--stack", required=True)
    parser.add_argument("--unpin", action="store_true", help="remove the pin and deploy the app/ release again")
    args = parser.parse_args(argv)
    if shutil.which("pulumi") is None:
        print("rollback: no `pulumi` on PATH (make puts the engine there)", file=sys.stderr)
        return 2
    try:
        stack = auto.select_stack(stack_name=args.stack, work_dir=os.getcwd())
        rollback(stack, args.unpin)
    except Refused as err:
        print(f"rollback: {err}", file=sys.stderr)
        return 1
    except auto.CommandError as err:
        print(f"rollback: {last_line(err)}", file=sys.stderr)
        return 1
    return 0
