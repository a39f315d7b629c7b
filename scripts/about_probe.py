"""How scripts/about asks this machine: run a command without changing anything, and say why a piece is missing.

Shared by scripts/about.py (the report) and scripts/about_engine.py (the engine's lines).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TIMEOUT = float(os.environ.get("WAYSHUB_ABOUT_TIMEOUT", "15"))


class Missing(Exception):
    """A piece that is not there (or does not answer): its message is the line's text."""


def run(argv: Sequence[str], env: dict[str, str] | None = None, partial: bool = False) -> str:
    """A command's stdout; :class:`Missing` saying why when it is not installed, hangs or fails (with
    ``partial``, a failed command's stdout still counts when it printed one)."""
    try:
        done = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=TIMEOUT, env=env, cwd=REPO, check=False
        )
    except FileNotFoundError:
        raise Missing("not installed") from None
    except PermissionError:
        raise Missing(f"{argv[0]} cannot be run by this user") from None
    except subprocess.TimeoutExpired:
        raise Missing(f"no answer from `{' '.join(argv[:2])}` in {TIMEOUT:g} s") from None
    if done.returncode != 0 and not (partial and done.stdout.strip()):
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise Missing(lines[-1] if lines else f"`{' '.join(argv[:2])}` exited {done.returncode}")
    return done.stdout.strip()


def shown(path: Path | str) -> str:
    """A path as short as it reads: relative to the repository when inside it."""
    try:
        return str(Path(path).relative_to(REPO))
    except ValueError:
        return str(path)
