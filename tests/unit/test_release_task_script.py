"""host/release-task.sh run here for real, with stub ``systemd-run``, ``systemctl`` and ``hostname`` on PATH: the
task runs once per release (a second run for a release that passed runs nothing), as the app's user in its
release folder with the release's env file and the app's sandbox; a failure exits 1 with one line (host, release,
how it ended) and the output's tail, and leaves no mark, so the next `up` runs it again."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest

from components.app.app_run import AppRun
from components.app.app_spec import read_app
from components.app.node_install import NodeChoice
from components.app.release import Release
from components.app.release_task import OUTPUT_LINES, task_command
from components.config import AppConfig

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "apps"
RID = "0123456789ab"
STUBS = {
    # Runs the unit's program (its last argument) as `--wait --pipe` would, and exits with its code.
    "systemd-run": '"${@: -1}"\n',
    # is-active: inactive (3); show -p Result: what the test says the unit ended with.
    "systemctl": 'case $1 in is-active) exit 3 ;; show) echo "${RESULT:-exit-code}" ;; esac\nexit 0\n',
    "hostname": "echo app1\n",
    # The journal: the lines it is handed, kept in a file.
    "systemd-cat": 'cat >> "$(dirname "$0")/../journal"\n',
}


def stub_host(tmp_path: Path, stubs: dict[str, str]) -> Path:
    """``tmp_path`` with ``bin/<tool>`` for each of ``stubs`` (its body after a line that logs the call to
    calls.log, which ``calls`` reads)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in stubs.items():
        (bin_dir / name).write_text(f'#!/bin/bash\necho "{name} $*" >> "{tmp_path}/calls.log"\n{body}')
        (bin_dir / name).chmod(0o755)
    (tmp_path / "calls.log").touch()
    return tmp_path


@pytest.fixture
def host(tmp_path: Path) -> Path:
    return stub_host(tmp_path, STUBS)


def release_with_task(host: Path, body: str) -> Path:
    release = host / "opt" / "releases" / RID
    (release / "app").mkdir(parents=True)
    (release / "task").write_text(f"#!/bin/sh\n{body}\n")
    (release / "task").chmod(0o755)
    return release


def run_task(host: Path, result: str = "") -> subprocess.CompletedProcess[str]:
    """The step's command as the engine runs it, with the app's folder moved under ``host`` (no sudo)."""
    spec = read_app(AppConfig(), FIXTURES / "plain")
    run = AppRun(app_name="shop", spec=spec, node=NodeChoice("apt"))
    words = shlex.split(task_command(run, Release(RID, None), 90))
    script = words[words.index("-c") + 1].replace("ROOT=/opt/shop\n", f"ROOT={host / 'opt'}\n", 1)
    env = {**os.environ, "PATH": f"{host / 'bin'}:{os.environ['PATH']}", "RESULT": result}
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env)


def calls(host: Path, tool: str) -> list[str]:
    return [line for line in (host / "calls.log").read_text().splitlines() if line.startswith(f"{tool} ")]


def test_a_task_that_passes_runs_once_per_release_in_the_apps_sandbox(host: Path) -> None:
    release = release_with_task(host, "echo migrated 3 tables")
    first = run_task(host)
    assert first.returncode == 0, first.stderr
    assert "migrated 3 tables" in first.stdout and f"release task of {RID} passed on app1" in first.stdout
    assert (release / "TASK_PASSED").read_text().startswith("app1 ")
    assert (host / "journal").read_text() == "migrated 3 tables\n", "its output is in the journal too"
    assert "systemd-cat -t shop-release-task" in calls(host, "systemd-cat")
    (run,) = calls(host, "systemd-run")
    for part in (
        "--wait --pipe",
        "--unit=shop-release-task.service",
        "-p User=shop",
        f"-p WorkingDirectory={release}/app",
        f"-p EnvironmentFile={release}/env",
        "-p RuntimeMaxSec=90",
        "-p ProtectSystem=strict",
        "-p SystemCallFilter=~@privileged",
    ):
        assert part in run, part
    again = run_task(host)
    assert again.returncode == 0 and "not run again" in again.stdout
    assert len(calls(host, "systemd-run")) == 1, "a release that passed its task never runs it again"


def test_a_failing_task_is_one_line_and_its_tail_and_runs_again_next_time(host: Path) -> None:
    release = release_with_task(host, 'i=0; while [ $i -lt 100 ]; do echo "line $i"; i=$((i+1)); done; exit 3')
    failed = run_task(host)
    assert failed.returncode == 1
    first, *tail = failed.stderr.splitlines()
    assert first == (
        f"wayshub:app.releaseTask failed on app1 for release {RID} (exit code 3): no app server switched to it; "
        "its last output:"
    )
    assert tail == [f"line {i}" for i in range(100 - OUTPUT_LINES, 100)]
    assert not (release / "TASK_PASSED").exists()
    assert "systemctl reset-failed shop-release-task.service" in calls(host, "systemctl")
    assert run_task(host).returncode == 1 and len(calls(host, "systemd-run")) == 2, "the next up runs it again"


def test_a_task_stopped_at_its_timeout_says_so(host: Path) -> None:
    release_with_task(host, "exit 1")
    failed = run_task(host, result="timeout")
    assert "(stopped after 90s, app.releaseTaskTimeoutSeconds)" in failed.stderr.splitlines()[0]


def test_a_release_without_its_task_script_is_refused(host: Path) -> None:
    (host / "opt" / "releases" / RID).mkdir(parents=True)
    failed = run_task(host)
    assert failed.returncode == 1 and "has no task script" in failed.stderr
    assert calls(host, "systemd-run") == []
