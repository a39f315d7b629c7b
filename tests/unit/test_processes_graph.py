"""More processes (app.processes, issue 32) in what the real program hands each host's release step, under the
Pulumi mocks: a process runs on the servers it names (each host's step lists only its own), with its start
script, a unit of its own (sandboxed as the web process's, its stop timeout) and its healthy seconds; a stack
without processes hands nothing new, and processes are part of the release id."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from tests.unit.pulumi_mocks import MOCKS
from tests.unit.test_release_task_graph import nothing_built, script_input, settings
from tests.unit.test_rollout_graph import program_config, run_program

__all__ = ["nothing_built", "program_config"]  # fixtures, used by name below

WORKER = {"name": "worker", "command": "node worker.js --queue orders", "servers": ["app2"], "stopTimeoutSeconds": 45}
MAILER = {"name": "mailer", "command": "node mailer.js", "healthySeconds": 12}


def inputs_of(step: str) -> list[str]:
    """The names of the UPPER_CASE inputs a step's command assigns."""
    create = MOCKS.registered[step].inputs["create"]
    return [name for name in ("PROCESSES", "PROCESS_worker_START", "PROCESS_mailer_UNIT") if f"{name}=" in create]


def test_each_host_gets_the_processes_it_runs_with_their_scripts_and_units(program_config: dict[str, Any]) -> None:
    run_program(program_config, settings({"processes": [WORKER, MAILER]}))
    assert script_input("app1-app-release", "PROCESSES") == "mailer"
    assert script_input("app2-app-release", "PROCESSES") == "worker mailer"
    assert script_input("app2-app-release", "PROCESS_worker_START").endswith("\nexec node worker.js --queue orders\n")
    unit = script_input("app2-app-release", "PROCESS_worker_UNIT")
    assert "ExecStart=/opt/wayshub/current/processes/worker\n" in unit and "TimeoutStopSec=45\n" in unit
    assert "SyslogIdentifier=wayshub-worker\n" in unit and "User=wayshub\n" in unit
    web = script_input("app2-app-release", "UNIT_TEXT")
    sandbox = web[web.index("NoNewPrivileges=") : web.index("[Install]")]
    assert sandbox in unit, "a process runs under the web process's sandbox"
    assert script_input("app2-app-release", "PROCESS_mailer_HEALTHY") == "12"
    assert script_input("app1-app-release", "PROCESS_mailer_HEALTHY") == "12"
    assert "PROCESS_worker_START" not in inputs_of("app1-app-release"), "app1 runs no worker"


def test_a_stack_without_processes_hands_its_hosts_nothing_of_them(program_config: dict[str, Any]) -> None:
    run_program(program_config, settings({}))
    assert inputs_of("app1-app-release") == [] and inputs_of("app2-app-release") == []
    plain = script_input("app1-app-release", "RID")
    MOCKS.registered.clear()
    run_program(program_config, settings({"processes": [MAILER]}))
    assert script_input("app1-app-release", "RID") != plain, "the processes are part of the release"


def test_a_process_script_runs_in_its_releases_app_folder_with_its_release_id(
    program_config: dict[str, Any], tmp_path: Path
) -> None:
    run_program(program_config, settings({"processes": [WORKER]}))
    script = script_input("app2-app-release", "PROCESS_worker_START")
    release = tmp_path / "releases" / "0123456789ab"
    ran = run_from_release(release, "processes/worker", script.replace("exec node worker.js --queue orders", SHOW))
    assert ran == f"{release / 'app'} 0123456789ab\n"


# Instead of the command: where the script runs it, and the release id it hands it.
SHOW = 'echo "$PWD $WAYSHUB_RELEASE"'


def run_from_release(release: Path, where: str, script: str) -> str:
    """What ``script`` prints when it sits at ``where`` in ``release`` (whose app folder exists)."""
    (release / "app").mkdir(parents=True)
    (release / where).parent.mkdir(parents=True, exist_ok=True)
    (release / where).write_text(script)
    return subprocess.run(["sh", str(release / where)], capture_output=True, text=True, check=True).stdout


def test_a_health_command_rides_in_the_release_and_runs_in_the_apps_sandbox(program_config: dict[str, Any]) -> None:
    checked = {**MAILER, "healthCommand": "node mailer.js --ping"}
    run_program(program_config, settings({"processes": [checked]}))
    check = script_input("app1-app-release", "PROCESS_mailer_CHECK")
    assert check.endswith("\nexec node mailer.js --ping\n")
    assert 'release=$(dirname "$release") # processes/mailer.check is one folder down' in check
    web = script_input("app1-app-release", "UNIT_TEXT")
    assert script_input("app1-app-release", "SANDBOX").strip() in web, "the app's sandbox"
    assert script_input("app1-app-release", "CHECK_TIMEOUT") == "30"
    with_check = script_input("app1-app-release", "RID")
    MOCKS.registered.clear()
    run_program(program_config, settings({"processes": [MAILER]}))
    assert script_input("app1-app-release", "PROCESS_mailer_CHECK") == ""
    assert "SANDBOX=" not in MOCKS.registered["app1-app-release"].inputs["create"]
    assert script_input("app1-app-release", "RID") != with_check, "the health command is part of the release"
