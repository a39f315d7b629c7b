"""What an `up` restored after drift (docs/drift.md): the ``restored`` lines of every host's state resource
that the up changed (its ``modified`` time at or after ``since``), one line each.

    pulumi stack export | scripts/drift-report --since 2026-11-28T13:00:00Z      (`make up` runs it)
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import sys
from collections.abc import Iterable, Mapping
from typing import Any

STATE_TYPE = ":HostState"


def timestamp(text: str) -> datetime.datetime:
    """An RFC 3339 time as the engine writes it (nanoseconds cut to what Python keeps)."""
    text = re.sub(r"(\.\d{6})\d+", r"\1", text.strip()).replace("Z", "+00:00")
    moment = datetime.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def restored(resources: Iterable[Mapping[str, Any]], since: datetime.datetime) -> list[str]:
    lines: list[str] = []
    for resource in resources:
        if not str(resource.get("type", "")).endswith(STATE_TYPE) or not resource.get("modified"):
            continue
        if timestamp(str(resource["modified"])) < since:
            continue
        lines += [f"restored: {line}" for line in (resource.get("outputs") or {}).get("restored") or []]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--since", required=True, help="when the up started (RFC 3339, UTC)")
    args = parser.parse_args(argv)
    exported = json.load(sys.stdin)
    for line in restored(exported.get("deployment", {}).get("resources") or [], timestamp(args.since)):
        print(line)
    return 0
