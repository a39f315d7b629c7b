"""Every make target that runs the engine asks scripts/state-backend first, with what it is about to do."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHECK = "scripts/state-backend check --stack 'x'"


def dry_run(target: str) -> list[str]:
    """`make -n target`: the commands it would run (ENGINE= keeps it from finding or building an engine)."""
    if shutil.which("make") is None:
        pytest.skip("no make on PATH")
    ran = subprocess.run(
        ["make", "-n", "-C", str(REPO), target, "STACK=x", "ENGINE=", "TO=file:///tmp/y"],
        env={"PATH": "/usr/bin:/bin", "PULUMI_BACKEND_URL": "file:///tmp/x", "HOME": "/tmp"},
        capture_output=True,
        text=True,
        check=True,
    )
    return ran.stdout.splitlines()


@pytest.mark.parametrize(
    ("target", "how"),
    [
        ("up", " --write"),
        ("refresh", " --write"),
        ("destroy", " --write"),
        ("rollback", " --write"),
        ("unpin", " --write"),
        ("state-move", " --write"),
        ("recover", " --recover"),
        ("preview", ""),
    ],
)
def test_the_state_check_runs_before_the_engine(target: str, how: str) -> None:
    lines = dry_run(target)
    checks = [i for i, line in enumerate(lines) if CHECK in line]
    assert checks, f"make {target} never checks the state backend: {lines}"
    assert lines[checks[0]].rstrip().endswith(CHECK + how), lines[checks[0]]
    engine = [i for i, line in enumerate(lines) if "pulumi --non-interactive" in line or "scripts/rollback" in line]
    assert engine and checks[0] < engine[0], f"the check must come before the engine runs: {lines}"
