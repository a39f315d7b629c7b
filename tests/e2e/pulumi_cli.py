"""Drive the real Pulumi CLI from tests: a throwaway local file backend, JSON output parsed."""

from __future__ import annotations

import json
import os
import shutil
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
            ["pulumi", "--non-interactive", *args],
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
        return self.up_with_summary()[0]

    def up_with_summary(self) -> tuple[dict[str, int], str]:
        """``up_summary`` and what the `up` printed (its warnings, for a test's message)."""
        result = self.run("up", "--yes", "--skip-preview")
        history = self.json("stack", "history")
        return dict(history[0]["resourceChanges"]), result.stdout + result.stderr


@dataclass(frozen=True)
class UpResult:
    """An `up` that may fail: its exit code, output, and the engine's event log."""

    returncode: int
    output: str
    events: list[dict[str, Any]]

    def started(self, name: str) -> int | None:
        """Index of the first event where the engine began a step on resource ``name``."""
        return self._first("resourcePreEvent", name)

    def finished(self, name: str) -> int | None:
        return self._first("resOutputsEvent", name)

    def _first(self, kind: str, name: str) -> int | None:
        for index, event in enumerate(self.events):
            meta = event.get(kind, {}).get("metadata", {})
            if meta.get("urn", "").endswith(f"::{name}") and meta.get("op") != "same":
                return index
        return None


def up_with_events(cli: PulumiCli, event_log: Path) -> UpResult:
    event_log.unlink(missing_ok=True)
    # --event-log is the engine's event stream (what the Automation API reads); the CLI shows the
    # flag only with PULUMI_DEBUG_COMMANDS set.
    with_events = PulumiCli(cli.workdir, {**cli.env, "PULUMI_DEBUG_COMMANDS": "true"})
    result = with_events.run("up", "--yes", "--skip-preview", "--event-log", str(event_log), check=False)
    events = [json.loads(line) for line in event_log.read_text().splitlines() if line.strip()]
    return UpResult(result.returncode, result.stdout + result.stderr, events)


def events_env(cli: PulumiCli) -> dict[str, str]:
    """The CLI's environment with ``--event-log`` accepted (shown only with PULUMI_DEBUG_COMMANDS)."""
    return {**cli.env, "PULUMI_DEBUG_COMMANDS": "true"}


def read_events(event_log: Path) -> list[dict[str, Any]]:
    """The engine's events written so far; a last line still being written is left for the next read.

    The engine writes each event to the log (unbuffered) before it shows it, so a running `up` can be
    followed event by event."""
    try:
        text = event_log.read_text()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.split("\n")[:-1] if line.strip()]


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


def copy_program(project: Path) -> None:
    """The real program, as a user's checkout has it (components come from PYTHONPATH)."""
    project.mkdir(parents=True)
    shutil.copy(REPO / "__main__.py", project)
    shutil.copytree(REPO / "app", project / "app", ignore=shutil.ignore_patterns("node_modules"))
    text = (REPO / "Pulumi.yaml").read_text().replace("virtualenv: venv", f"virtualenv: {REPO / 'venv'}")
    text = text.replace("path: plugins", f"path: {REPO / 'plugins'}")  # our dynamic-provider plugin
    (project / "Pulumi.yaml").write_text(text)
