"""Drive the real Pulumi CLI from tests: a throwaway local file backend, JSON output parsed."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class PulumiCli:
    """A Pulumi CLI bound to one project folder and one state folder."""

    workdir: Path
    env: dict[str, str]

    def run(self, *args: str, check: bool = True, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["pulumi", *args, "--non-interactive"],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"pulumi {' '.join(args)} exited {result.returncode}\n--- stdout\n{result.stdout[-6000:]}"
                f"\n--- stderr\n{result.stderr[-6000:]}"
            )
        return result

    def json(self, *args: str, check: bool = True) -> Any:
        return json.loads(self.run(*args, "--json", check=check).stdout)

    def outputs(self) -> dict[str, Any]:
        return dict(self.json("stack", "output", "--show-secrets"))

    def preview_steps(self) -> list[dict[str, Any]]:
        """The engine's planned steps for this stack (pulumi preview --json)."""
        return list(self.json("preview", "--diff")["steps"])

    def up_summary(self) -> dict[str, int]:
        """`pulumi up` and the engine's own count of operations, from the last update's history."""
        self.run("up", "--yes", "--skip-preview")
        history = self.json("stack", "history")
        return dict(history[0]["resourceChanges"])


def engine_env(state_dir: Path, home_dir: Path) -> dict[str, str]:
    """Environment for the CLI: the engine built by scripts/ensure-pulumi first on PATH, local state."""
    bin_dir = subprocess.run(
        [str(REPO / "scripts" / "ensure-pulumi")], capture_output=True, text=True, check=True
    ).stdout.strip()
    # The venv's python first: the language host we build runs `python3` from PATH (see README).
    path = ":".join(p for p in (bin_dir, str(REPO / "venv" / "bin"), os.environ["PATH"]) if p)
    state_dir.mkdir(parents=True, exist_ok=True)
    home_dir.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "PATH": path,
        "PULUMI_BACKEND_URL": f"file://{state_dir}",
        "PULUMI_HOME": str(home_dir),
        "PULUMI_CONFIG_PASSPHRASE": "wayshub-test-passphrase",
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK": "true",
        "PYTHONPATH": str(REPO),
    }


def urn_of(cli: PulumiCli, name: str) -> str:
    """The URN of the one resource called ``name`` in the stack's state."""
    state = json.loads(cli.run("stack", "export").stdout)
    urns = [r["urn"] for r in state["deployment"]["resources"] if r["urn"].endswith(f"::{name}")]
    assert len(urns) == 1, f"expected one resource named {name}, found {urns}"
    return str(urns[0])
