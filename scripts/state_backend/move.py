"""Move a stack's state from one backend to another (a folder to the team's PostgreSQL, and back).

``pulumi stack export`` from the source, ``stack init`` (the stack file's passphrase salt is kept) and ``stack
import`` in the target, then the target's copy is read back and compared, resource by resource. The source
keeps its copy (nothing is deleted): remove it with `pulumi stack rm` once the moved stack previews no change.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from state_backend.backend_url import Backend, BackendError


def pulumi(url: str, project_dir: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    """A pulumi CLI command on the backend at ``url`` (``env``: the engine's environment, else ours)."""
    env = {**(os.environ if env is None else env), "PULUMI_BACKEND_URL": url}
    result = subprocess.run(
        ["pulumi", "--non-interactive", *args], cwd=project_dir, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()] or ["(no output)"]
        raise BackendError(f"pulumi {args[0]} {args[1]} on {Backend(url).redacted()}: {lines[-1].strip()}")
    return result.stdout


def urns(exported: dict[str, Any]) -> list[str]:
    return [str(r["urn"]) for r in exported.get("deployment", {}).get("resources") or []]


def move(stack: str, source: str, target: str, project_dir: Path, env: Mapping[str, str] | None = None) -> list[str]:
    def run(url: str, *args: str) -> str:
        return pulumi(url, project_dir, *args, env=env)

    if Backend(source).url == Backend(target).url:
        raise BackendError("TO: is the backend the stack is on already")
    exported_text = run(source, "stack", "export", "--stack", stack)
    exported = json.loads(exported_text)
    there = {s["name"] for s in json.loads(run(target, "stack", "ls", "--json"))}
    if stack in there:
        theirs = json.loads(run(target, "stack", "export", "--stack", stack))
        if urns(theirs):
            raise BackendError(
                f"TO: {Backend(target).redacted()} holds stack {stack} already, with {len(urns(theirs))} "
                "resources: nothing was moved (remove that copy first if it is the stale one)"
            )
    else:
        run(target, "stack", "init", stack)
    with tempfile.TemporaryDirectory(prefix="wayshub-move.") as folder:
        dump = Path(folder) / "state.json"
        dump.write_text(exported_text)
        dump.chmod(0o600)
        run(target, "stack", "import", "--stack", stack, "--file", str(dump))
    moved = json.loads(run(target, "stack", "export", "--stack", stack))
    if urns(moved) != urns(exported):
        raise BackendError(f"the moved stack {stack} differs from the source's: the source is left as it was")
    return [
        f"stack {stack}: {len(urns(moved))} resources moved from {Backend(source).redacted()} "
        f"to {Backend(target).redacted()}; the source keeps its copy"
    ]
