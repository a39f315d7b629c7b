"""The command line (``scripts/switch-commands``): a refusal is one line on stderr and exit 1, a usage error exit 2."""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from pulumi import automation as auto
from pulumi_errors import last_line

from .plan import SETTING
from .state import Refused
from .switch import Switch


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Switch a live stack between command backends; no delete command runs."
    )
    parser.add_argument("--stack", required=True)
    parser.add_argument("--to", required=True, help="the backend to switch to (builtin, pulumi-command)")
    parser.add_argument("--dry-run", action="store_true", help="print what would change; change nothing")
    parser.add_argument("--cwd", default=".", help="the project folder (Pulumi.yaml)")
    parser.add_argument("--setting", default=SETTING, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.to == "auto":
        print("switch-commands: --to auto: name the backend to switch to (builtin or pulumi-command)", file=sys.stderr)
        return 2
    if shutil.which("pulumi") is None:
        print("switch-commands: no `pulumi` on PATH (make puts the engine there)", file=sys.stderr)
        return 2
    work_dir = Path(args.cwd).resolve()
    try:
        stack = auto.select_stack(stack_name=args.stack, work_dir=str(work_dir))
        Switch(stack, work_dir, args.to, args.setting).run(args.dry_run)
    except Refused as err:
        print(f"switch-commands: {err}", file=sys.stderr)
        return 1
    except auto.CommandError as err:
        print(f"switch-commands: {last_line(err)}", file=sys.stderr)
        return 1
    return 0
