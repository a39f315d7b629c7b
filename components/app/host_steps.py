"""The command texts of ``NodeApp``'s steps on a host: host/base.sh, host/deploy.sh and host/teardown.sh.

Each is ``sudo bash -c`` of the script's UPPER_CASE inputs, host/lib.sh and the script itself (``host_script``,
components/hosts/survey.py). The Node step's host/node-<method>.sh is node_install.py's.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from components.app import layout
from components.app.app_run import AppRun
from components.app.layout import app_root, code_step, code_upload, node_step, unit_file, unit_name
from components.app.release import Release
from components.config.app import PROCESS_CHECK_TIMEOUT_SECONDS
from components.config.hosts import TAKEOVER_BACKUP_DIR
from components.shell.host_script import host_script
from components.shell.uploads import UPLOADS_LIB, upload_dir

JOURNAL_LINES = 40
# After taking a host over from a hand-run app: the hand-written nginx site may still hold it failed for
# nginx's default fail_timeout (10 s); the next batch waits that out.
TAKEOVER_SETTLE_SECONDS = 11.0
HOST_SCRIPTS = Path(__file__).resolve().parent / "host"


def _app_inputs(app: str) -> dict[str, str]:
    """What base.sh and teardown.sh both name: the app, our mark on what we made, its folder and unit."""
    return {
        "APP": app,
        "MARK": layout.owner_mark(app),
        "ROOT": app_root(app),
        "UNIT": unit_name(app),
        "UNIT_FILE": unit_file(app),
    }


def base_command(app: str) -> str:
    """Create the system user and folders (idempotent)."""
    return host_script(HOST_SCRIPTS / "base.sh", _app_inputs(app))


def teardown_command(app: str) -> str:
    """Remove everything ``NodeApp`` put on the host (idempotent: safe on a host that has none of it)."""
    inputs = {
        **_app_inputs(app),
        "ETC_DIR": f"/etc/{app}",
        "UPLOAD_DIRS": " ".join(upload_dir(step) for step in (code_step(app), node_step(app))),
    }
    return host_script(HOST_SCRIPTS / "teardown.sh", inputs)


def deploy_inputs(
    run: AppRun,
    release: Release,
    node_path: str,
    releases_kept: int,
    settle_seconds: float,
    takeover: bool = False,
    *,
    prepare: bool = False,
    server: str = "",
) -> dict[str, str]:
    """The UPPER_CASE inputs of host/deploy.sh (see its header); ``prepare``: only make the release folder;
    ``server``: the host's name, which decides the processes of app.processes it runs."""
    low, high = run.health.status_range
    build = release.build
    return {
        "APP": run.app_name,
        "RID": release.id,
        "PINNED": "0" if build else "1",
        "BUILD_ID": build.id if build else "",
        "UPLOAD": code_upload(run.app_name, build.id) if build else "",
        "NODE": node_path,
        "START_TEXT": run.start_text(),
        "UNIT_TEXT": run.unit_text(),
        "TASK_TEXT": run.task_text() or "",
        "PREPARE": "1" if prepare else "0",
        "PORT": str(run.port),
        "HEALTH_PATH": run.health.path,
        "STATUS_LOW": str(low),
        "STATUS_HIGH": str(high),
        "HEALTH_BODY": run.health.body_contains or "",
        "HEALTH_TIMEOUT": str(run.health.timeout_seconds),
        "HEALTH_INTERVAL": f"{run.health.interval_seconds:g}",
        "KEEP": str(releases_kept),
        "SETTLE": f"{settle_seconds:g}",
        "JOURNAL_LINES": str(JOURNAL_LINES),
        "PROBE_JS": (HOST_SCRIPTS / "probe.js").read_text(),
        "TAKEOVER": "1" if takeover else "0",
        "BACKUP": TAKEOVER_BACKUP_DIR,
        "TAKEOVER_SETTLE": f"{max(settle_seconds, TAKEOVER_SETTLE_SECONDS):g}",
        **process_inputs(run, server),
        **schedule_inputs(run),
    }


def schedule_inputs(run: AppRun) -> dict[str, str]:
    """host/deploy.sh's inputs for app.schedules: SCHEDULES names them, ``SCHEDULE_<name>_START`` is each one's
    script. Every host's release carries them. None without schedules."""
    if not run.schedules:
        return {}
    names = [name for name, _, _ in run.spec.schedules]
    return {"SCHEDULES": " ".join(names), **{f"SCHEDULE_{n}_START": run.schedule_start_text(n) for n in names}}


def process_inputs(run: AppRun, server: str) -> dict[str, str]:
    """host/deploy.sh's inputs for app.processes on ``server``: PROCESSES names them; each has its start script,
    unit, healthy seconds and health command's script (``PROCESS_<name>_START``, ``_UNIT``, ``_HEALTHY``, ``_CHECK``),
    and with a health command the app's sandbox it runs in (SANDBOX). None without processes."""
    names = run.process_names(server)
    if not run.processes:
        return {}
    inputs = {"PROCESSES": " ".join(names)}
    for name in names:
        inputs[f"PROCESS_{name}_START"] = run.process_start_text(name)
        inputs[f"PROCESS_{name}_UNIT"] = run.process_unit_text(name)
        inputs[f"PROCESS_{name}_HEALTHY"] = str(run.process(name).healthy_seconds)
        inputs[f"PROCESS_{name}_CHECK"] = run.process_check_text(name) or ""
    if any(inputs[f"PROCESS_{name}_CHECK"] for name in names):  # a health command runs in the app's sandbox
        inputs |= {"SANDBOX": run.sandbox_text(), "CHECK_TIMEOUT": str(PROCESS_CHECK_TIMEOUT_SECONDS)}
    return inputs


def deploy_command(inputs: Mapping[str, str]) -> str:
    """``sudo bash -c`` of host/deploy.sh with its inputs assigned first (each value quoted)."""
    return host_script(HOST_SCRIPTS / "deploy.sh", inputs, libs=[UPLOADS_LIB])
