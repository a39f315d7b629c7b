"""Where the app lives on a server: the one place these paths are spelled (host/deploy.sh follows it)."""

from __future__ import annotations

from components.shell.uploads import upload_dir


def app_root(app: str) -> str:
    """``code/<build>``, ``node/<version>``, ``releases/<id>``, ``current``."""
    return f"/opt/{app}"


def owner_mark(app: str) -> str:
    """The file that says the app's user and unit on this host are ours (host/base.sh makes it, host/teardown.sh
    removes nothing without it): an app name that is already a user or unit of the system is never adopted."""
    return f"/var/lib/wayshub-infra/apps/{app}"


def node_path(app: str, version: str) -> str:
    """The shipped Node binary of ``version``."""
    return f"{app_root(app)}/node/{version}/bin/node"


def app_user(app: str) -> str:
    """The system user the app runs as (host/base.sh makes it)."""
    return app


def unit_name(app: str) -> str:
    return f"{app}.service"


def systemd_file(unit: str) -> str:
    """Where the units we write live."""
    return f"/etc/systemd/system/{unit}"


def unit_file(app: str) -> str:
    return systemd_file(unit_name(app))


def process_unit_name(app: str, process: str) -> str:
    """The unit of one of ``app.processes`` (an app name holds no ``@``: no other app's unit has this name)."""
    return f"{app}@{process}.service"


def schedule_unit_name(app: str, job: str) -> str:
    """The oneshot unit of one of ``app.schedules`` (``job-`` is never a process's name: those hold no ``-``)."""
    return f"{app}@job-{job}.service"


def schedule_timer_name(app: str, job: str) -> str:
    """The timer that starts it."""
    return f"{app}@job-{job}.timer"


def release_task_unit(app: str) -> str:
    """The transient unit the release task runs as (host/release-task.sh); its journal tag is the same name."""
    return f"{app}-release-task.service"


def process_unit_file(app: str, process: str) -> str:
    return systemd_file(process_unit_name(app, process))


def code_step(app: str) -> str:
    """The release code's upload step: its private folder's name (components/shell/uploads.py)."""
    return f"{app}-code"


def node_step(app: str) -> str:
    """The Node package's upload step."""
    return f"{app}-node"


def code_upload(app: str, build_id: str) -> str:
    return f"{upload_dir(code_step(app))}/{build_id}.tar.gz"


def node_upload(app: str, version: str) -> str:
    return f"{upload_dir(node_step(app))}/node-{version}.tgz"
