"""Repair what a killed engine can leave in a local (``file://``) state folder: torn ``.attrs`` files.

The file backend (gocloud's fileblob) writes each state file atomically (a temp file, then a rename), but
the ``<file>.attrs`` metadata beside it is truncated and then written in place. An engine killed between the
two (a closed laptop lid, ``kill -9`` during an ``up``) leaves an empty or cut-off ``.attrs`` file, and every
later command on the stack fails with ``failed to load checkpoint: EOF``. The metadata is only a content
type and a checksum; a missing ``.attrs`` file is read as the defaults, so removing a torn one loses nothing.
``make recover`` runs this before ``pulumi cancel`` (docs/operate.md). Other backends are left alone.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def torn_attrs(state_dir: Path) -> list[Path]:
    """``.attrs`` files under ``state_dir`` that are not a whole JSON object."""
    torn = []
    for path in sorted(state_dir.rglob("*.attrs")):
        try:
            json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError):
            torn.append(path)
    return torn


def repair(state_dir: Path) -> list[Path]:
    """Remove the torn ``.attrs`` files; return what was removed."""
    removed = torn_attrs(state_dir)
    for path in removed:
        path.unlink()
    return removed


def state_dir_of(backend_url: str | None) -> Path | None:
    """The folder of a ``file://`` backend URL; None for any other backend."""
    if not backend_url or not backend_url.startswith("file://"):
        return None
    return Path(os.path.expanduser(backend_url.removeprefix("file://").split("?", 1)[0]))


def main() -> int:
    state_dir = state_dir_of(os.environ.get("PULUMI_BACKEND_URL"))
    if state_dir is None or not state_dir.is_dir():
        return 0
    for path in repair(state_dir):
        print(f"removed {path}: torn by an engine that was killed while writing it (metadata only)", file=sys.stderr)
    return 0
