"""Scheduled jobs (app.schedules, issue 32) in the resource graph the real program declares under the Pulumi
mocks: every host's release carries the jobs' scripts, one step installs their units and timers on one server
(the first app server, or app.schedulesServer) after that server switched; its delete removes every job, and
moving it to another server is a replacement (triggers). A stack without schedules declares none of it; the
scripts are part of the release id, the calendar is not."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from tests.unit.pulumi_mocks import MOCKS
from tests.unit.test_processes_graph import SHOW, run_from_release
from tests.unit.test_release_task_graph import nothing_built, script_input, settings
from tests.unit.test_rollout_graph import DEPENDENCIES, program_config, run_program

__all__ = ["nothing_built", "program_config"]  # fixtures, used by name below

NIGHTLY = {"name": "nightly", "command": "node report.js --all", "calendar": "Mon..Fri 02:30", "stopTimeoutSeconds": 40}
PURGE = {"name": "purge", "command": "node purge.js", "calendar": "hourly"}


def delete_input(resource: str, name: str) -> str:
    """An UPPER_CASE input of the step's delete command, unquoted."""
    words = shlex.split(MOCKS.registered[resource].inputs["delete"])
    script = words[words.index("-c") + 1]
    line = next(line for line in script.splitlines() if line.startswith(f"{name}="))
    return shlex.split(line.removeprefix(f"{name}="))[0] if line != f"{name}=''" else ""


def test_every_release_carries_the_scripts_and_one_server_runs_the_timers(program_config: dict[str, Any]) -> None:
    run_program(program_config, settings({"schedules": [NIGHTLY, PURGE]}))
    for server in ("app1", "app2", "app3"):
        assert script_input(f"{server}-app-release", "SCHEDULES") == "nightly purge", server
        assert script_input(f"{server}-app-release", "SCHEDULE_nightly_START").endswith("\nexec node report.js --all\n")
    timers = MOCKS.registered["schedules-timers"].inputs
    assert timers["connection"] == MOCKS.registered["app1-app-release"].inputs["connection"]
    assert "app1-app-release" in DEPENDENCIES["schedules-timers"], "after the server runs the release"
    assert timers["triggers"] == ["app1"], "another server: a replacement"
    assert script_input("schedules-timers", "JOBS") == "nightly purge"
    assert script_input("schedules-timers", "JOB_nightly_CALENDAR") == "Mon..Fri 02:30"
    assert delete_input("schedules-timers", "JOBS") == "", "the delete removes every job"
    unit = script_input("schedules-timers", "JOB_nightly_UNIT")
    assert "Type=oneshot\n" in unit and "ExecStart=/opt/wayshub/current/schedules/nightly\n" in unit
    assert "TimeoutStopSec=40\n" in unit and "User=wayshub\n" in unit
    assert "ConditionPathExists=/opt/wayshub/current/schedules/nightly\n" in unit
    web = script_input("app1-app-release", "UNIT_TEXT")
    assert web[web.index("NoNewPrivileges=") : web.index("[Install]")].rstrip() in unit, "the web process's sandbox"
    timer = script_input("schedules-timers", "JOB_nightly_TIMER")
    assert "OnCalendar=Mon..Fri 02:30\n" in timer and "Unit=wayshub@job-nightly.service\n" in timer
    assert "Persistent" not in timer, "a missed time is not made up"


def test_schedules_server_picks_the_server(program_config: dict[str, Any]) -> None:
    run_program(program_config, settings({"schedules": [PURGE], "schedulesServer": "app2"}))
    timers = MOCKS.registered["schedules-timers"].inputs
    assert timers["connection"] == MOCKS.registered["app2-app-release"].inputs["connection"]
    assert timers["triggers"] == ["app2"]
    assert "app2-app-release" in DEPENDENCIES["schedules-timers"]


def test_without_schedules_nothing_is_declared_and_only_scripts_make_a_new_release(
    program_config: dict[str, Any],
) -> None:
    run_program(program_config, settings({}))
    assert not [name for name in MOCKS.registered if name.startswith("schedules")]
    assert "SCHEDULES=" not in MOCKS.registered["app1-app-release"].inputs["create"]
    plain = script_input("app1-app-release", "RID")
    MOCKS.registered.clear()
    run_program(program_config, settings({"schedules": [PURGE]}))
    with_job = script_input("app1-app-release", "RID")
    assert with_job != plain, "the scripts are part of the release"
    MOCKS.registered.clear()
    run_program(program_config, settings({"schedules": [{**PURGE, "calendar": "daily", "stopTimeoutSeconds": 9}]}))
    assert script_input("app1-app-release", "RID") == with_job, "when a job runs is not the release's"


def test_a_job_script_runs_in_its_releases_app_folder_with_its_release_id(
    program_config: dict[str, Any], tmp_path: Path
) -> None:
    run_program(program_config, settings({"schedules": [NIGHTLY]}))
    script = script_input("app1-app-release", "SCHEDULE_nightly_START")
    release = tmp_path / "releases" / "0123456789ab"
    ran = run_from_release(release, "schedules/nightly", script.replace("exec node report.js --all", SHOW))
    assert ran == f"{release / 'app'} 0123456789ab\n"
