"""What ``pulumi refresh`` reads back on an app server (``remote.HostState``), and what repairs each.

``base``: the app's user and folder, the shipped Node binary and the release's code (lost: the user,
folders, Node and code are made again, then the release). ``release``: the release's folder and files
(read in its own folder, not through ``current``, so a moved link is one drift), the ``current`` link,
the unit file and its state (drifted: the health-gated switch runs again).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pulumi

from components.app.layout import (
    app_root,
    process_unit_file,
    process_unit_name,
    schedule_timer_name,
    schedule_unit_name,
    systemd_file,
    unit_file,
    unit_name,
)
from components.shell.host_state import Check

BASE = "base"
RELEASE = "release"
SCHEDULES = "schedules"  # components/app/schedules.py: the jobs' units and timers on their server
ROOT_FILE = "root:root"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def app_checks(
    app: str,
    release_id: str,
    build_id: str | None,
    node_binary: str | None,
    start_text: str | None,
    unit_text: str,
    env_text: pulumi.Output[str] | None,
    task_text: str | None = None,
    processes: Sequence[tuple[str, str, str, str | None]] = (),
    schedules: Sequence[tuple[str, str]] = (),
) -> list[Check]:
    """``build_id``/``start_text``/``env_text`` None: a pinned release (made by an earlier up), whose files
    are not known here; ``node_binary`` None: Node from an installer, wherever it puts it. ``processes``: the
    host's app.processes as (name, start script, unit text, health command's script or None); ``schedules``: app.schedules' scripts in the
    release as (name, script)."""
    root = app_root(app)
    current = f"{root}/current"
    checks = [
        Check("user", app, "present", BASE),
        Check("dir", root, f"755 {ROOT_FILE}", BASE),
        *([Check("exec", node_binary, "present", BASE)] if node_binary else []),
        *([Check("dir", f"{root}/code/{build_id}", f"755 {ROOT_FILE}", BASE)] if build_id else []),
        Check("dir", f"{root}/releases/{release_id}", f"755 {ROOT_FILE}", RELEASE),
        Check("link", current, f"{root}/releases/{release_id}", RELEASE),
        Check("content", unit_file(app), sha256(unit_text), RELEASE),
        Check("mode", unit_file(app), f"644 {ROOT_FILE}", RELEASE),
        Check("unit", unit_name(app), "enabled active", RELEASE),
    ]
    release = f"{root}/releases/{release_id}"
    if start_text is not None:
        checks += [
            Check("content", f"{release}/start", sha256(start_text), RELEASE),
            Check("mode", f"{release}/start", f"755 {ROOT_FILE}", RELEASE),
        ]
    if task_text is not None:  # app.releaseTask: the release's task script
        checks += [
            Check("content", f"{release}/task", sha256(task_text), RELEASE),
            Check("mode", f"{release}/task", f"755 {ROOT_FILE}", RELEASE),
        ]
    for name, start, unit, check in processes:
        if check is not None:
            checks.append(Check("content", f"{release}/processes/{name}.check", sha256(check), RELEASE))
        checks += [
            Check("content", f"{release}/processes/{name}", sha256(start), RELEASE),
            Check("content", process_unit_file(app, name), sha256(unit), RELEASE),
            Check("mode", process_unit_file(app, name), f"644 {ROOT_FILE}", RELEASE),
            Check("unit", process_unit_name(app, name), "enabled active", RELEASE),
        ]
    for name, script in schedules:
        checks += [
            Check("content", f"{release}/schedules/{name}", sha256(script), RELEASE),
            Check("mode", f"{release}/schedules/{name}", f"755 {ROOT_FILE}", RELEASE),
        ]
    if env_text is not None:
        checks += [
            Check("content", f"{release}/env", env_text.apply(sha256), RELEASE, secret=True),
            Check("mode", f"{release}/env", f"600 {ROOT_FILE}", RELEASE),
        ]
    return checks


def schedule_checks(app: str, jobs: Sequence[tuple[str, str, str]]) -> list[Check]:
    """The jobs' units and timers on their server, ``jobs`` as (name, unit text, timer text): drifted, the
    ``Schedules`` step writes them again."""
    checks = []
    for name, unit, timer in jobs:
        for file, text in ((schedule_unit_name(app, name), unit), (schedule_timer_name(app, name), timer)):
            checks += [
                Check("content", systemd_file(file), sha256(text), SCHEDULES),
                Check("mode", systemd_file(file), f"644 {ROOT_FILE}", SCHEDULES),
            ]
        checks.append(Check("unit", schedule_timer_name(app, name), "enabled active", SCHEDULES))
    return checks
