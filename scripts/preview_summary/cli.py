"""The command line (``scripts/preview-summary``): read the preview JSON from a file or stdin, write the
comment to stdout; a bad input or option is one line on stderr and exit 2."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .comment import DEFAULT_MAX_CHARS, default_marker, summarize
from .engine import read_preview
from .policies import Violation, read_events, violations

MIN_MAX_CHARS = 1_000


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="preview-summary", description="Markdown for a pull request from `pulumi preview --diff --json`."
    )
    parser.add_argument("file", nargs="?", help="the preview JSON (default: standard input)")
    parser.add_argument("--stack", required=True, help="the stack the preview is of (heading and marker)")
    parser.add_argument(
        "--max-chars", type=int, default=DEFAULT_MAX_CHARS, help="cut the comment to this size; 0: no limit"
    )
    parser.add_argument(
        "--marker",
        default=None,
        help="hidden first line that finds the comment again (default: <!-- wayshub-preview:STACK -->; '' for none)",
    )
    parser.add_argument("--commit", help="the commit previewed, shown in the comment")
    parser.add_argument("--details-url", help="where the full output is (the run's artifact), linked when cut")
    parser.add_argument(
        "--events", help="the same preview's engine event log (--event-log): the policy pack's violations"
    )
    args = parser.parse_args(argv)
    if 0 < args.max_chars < MIN_MAX_CHARS:
        parser.error(f"--max-chars must be 0 (no limit) or at least {MIN_MAX_CHARS}")
    try:
        if args.file and args.file != "-":
            with open(args.file, encoding="utf-8") as source:
                preview = read_preview(source)
        else:
            preview = read_preview(sys.stdin)
        found: list[Violation] = []
        if args.events:
            with open(args.events, encoding="utf-8") as source:
                found = violations(read_events(source))
    except (OSError, ValueError) as err:  # json.JSONDecodeError is a ValueError
        print(f"preview-summary: {err}", file=sys.stderr)
        return 2
    marker = default_marker(args.stack) if args.marker is None else args.marker
    sys.stdout.write(
        summarize(preview, args.stack, args.max_chars, marker or None, args.commit, args.details_url, found)
    )
    return 0
