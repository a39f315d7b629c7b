"""host/schedules.sh run here for real, with stub ``systemctl``, ``systemd-analyze`` and ``hostname`` on PATH and
the unit folder under tmp: every calendar is checked on the host before anything changes (one line naming the
setting and the job); units and timers are written, the timers enabled; an unchanged job's timer is not
restarted; a job no longer listed stops (timer, then its running run) and its files go; a file of the same
name that we did not write is never touched."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

from components.app.app_run import AppRun
from components.app.app_spec import read_app
from components.app.node_install import NodeChoice
from components.app.schedules import schedules_command
from components.config import AppConfig
from tests.unit.test_release_task_script import stub_host

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "apps"
SETTING = "wayshub:app.schedules"
STUBS = {
    # `calendar X`: refuses what says "never" (as a host's systemd refuses a form it does not know).
    "systemd-analyze": 'case $2 in *never*) echo "Failed to parse calendar specification" >&2; exit 1 ;; esac\n',
    # show -p ActiveState of a job's unit: "activating" (a run is going); NextElapse…: a time.
    "systemctl": 'case "$1 $3" in "show ActiveState") echo activating ;; "show NextElapseUSecRealtime") echo "Mon 2026-12-07 02:30:00 UTC" ;; esac\nexit 0\n',
    "hostname": "echo app1\n",
}


@pytest.fixture
def host(tmp_path: Path) -> Path:
    (tmp_path / "units").mkdir()
    return stub_host(tmp_path, STUBS)


def run_script(
    host: Path, jobs: list[dict[str, Any]], names: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    config = AppConfig.model_validate({"name": "shop", "schedules": jobs})
    run = AppRun(
        app_name="shop",
        spec=read_app(config, FIXTURES / "plain"),
        node=NodeChoice("apt"),
        schedules=config.schedules,
    )
    (host / "calls.log").write_text("")
    words = shlex.split(schedules_command(run, SETTING, names))
    script = words[words.index("-c") + 1].replace("dir=/etc/systemd/system\n", f"dir={host / 'units'}\n", 1)
    env = {**os.environ, "PATH": f"{host / 'bin'}:{os.environ['PATH']}"}
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env)


def calls(host: Path, tool: str = "systemctl") -> list[str]:
    return [line for line in (host / "calls.log").read_text().splitlines() if line.startswith(f"{tool} ")]


def units(host: Path) -> list[str]:
    return sorted(path.name for path in (host / "units").iterdir())


NIGHTLY = {"name": "nightly", "command": "node report.js", "calendar": "daily"}
PURGE = {"name": "purge", "command": "node purge.js", "calendar": "hourly"}


def test_jobs_are_installed_and_their_timers_enabled_and_an_unchanged_timer_is_not_restarted(host: Path) -> None:
    ran = run_script(host, [NIGHTLY, PURGE])
    assert ran.returncode == 0, ran.stderr
    assert units(host) == [
        "shop@job-nightly.service",
        "shop@job-nightly.timer",
        "shop@job-purge.service",
        "shop@job-purge.timer",
    ]
    assert "OnCalendar=daily\n" in (host / "units" / "shop@job-nightly.timer").read_text()
    assert "systemctl daemon-reload" in calls(host)
    assert "systemctl restart shop@job-nightly.timer" in calls(host)
    assert "systemctl enable shop@job-purge.timer" in calls(host)
    assert "job nightly: next run Mon 2026-12-07 02:30:00 UTC" in ran.stdout
    assert calls(host, "systemd-analyze") == ["systemd-analyze calendar daily", "systemd-analyze calendar hourly"]
    # The same again: no reload, no restart (a restarted timer is harmless, but nothing changed).
    again = run_script(host, [NIGHTLY, PURGE])
    assert again.returncode == 0, again.stderr
    assert "systemctl daemon-reload" not in calls(host)
    assert not [c for c in calls(host) if c.startswith("systemctl restart")]
    assert "systemctl start shop@job-nightly.timer" in calls(host)
    # Another calendar: that timer starts again from it.
    changed = run_script(host, [{**NIGHTLY, "calendar": "weekly"}, PURGE])
    assert changed.returncode == 0, changed.stderr
    assert [c for c in calls(host) if c.startswith("systemctl restart")] == ["systemctl restart shop@job-nightly.timer"]


def test_a_calendar_the_host_refuses_stops_before_anything_changes(host: Path) -> None:
    assert run_script(host, [{**NIGHTLY, "calendar": "weekly"}, PURGE]).returncode == 0
    # A form this machine accepts that the host's systemd does not: the stub refuses what holds "Sun".
    stub = host / "bin" / "systemd-analyze"
    stub.write_text(stub.read_text().replace("*never*", "*Sun*"))
    failed = run_script(host, [{**NIGHTLY, "calendar": "monthly"}, {**PURGE, "calendar": "Sun 10:00"}])
    assert failed.returncode == 1
    assert failed.stderr.count("\n") == 1 and failed.stderr.startswith(
        f"{SETTING}: job purge: 'Sun 10:00' is not a calendar expression systemd on app1 accepts: Failed to parse"
    ), failed.stderr
    assert "OnCalendar=weekly\n" in (host / "units" / "shop@job-nightly.timer").read_text(), "nightly is untouched"
    assert calls(host) == [], "nothing changed"


def test_a_job_no_longer_listed_stops_and_goes_and_the_delete_removes_all_but_what_is_not_ours(host: Path) -> None:
    assert run_script(host, [NIGHTLY, PURGE]).returncode == 0
    (host / "units" / "shop@job-theirs.timer").write_text("[Timer]\nOnCalendar=daily\n")
    fewer = run_script(host, [NIGHTLY])
    assert fewer.returncode == 0, fewer.stderr
    assert units(host) == ["shop@job-nightly.service", "shop@job-nightly.timer", "shop@job-theirs.timer"]
    stop = calls(host)
    assert stop.index("systemctl disable --now shop@job-purge.timer") < stop.index(
        "systemctl stop shop@job-purge.service"
    )
    assert "job purge: stopping its running run (SIGTERM; killed after its stop timeout)" in fewer.stdout
    assert not [c for c in stop if "nightly" in c and ("stop" in c or "disable" in c)], "a listed job is left alone"
    gone = run_script(host, [NIGHTLY], names=[])
    assert gone.returncode == 0, gone.stderr
    assert units(host) == ["shop@job-theirs.timer"], "the delete removes every job of ours, nothing else"
    assert "systemctl stop shop@job-nightly.service" in calls(host)


def test_a_unit_of_the_same_name_that_is_not_ours_is_refused(host: Path) -> None:
    (host / "units" / "shop@job-nightly.service").write_text("[Service]\nExecStart=/bin/true\n")
    ran = run_script(host, [NIGHTLY])
    assert ran.returncode == 1
    assert "shop@job-nightly.service exists and was not made by wayshub-infra: nothing changed" in ran.stderr
    assert (host / "units" / "shop@job-nightly.service").read_text() == "[Service]\nExecStart=/bin/true\n"
