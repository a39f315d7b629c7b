"""``AppRun``: how every app server runs the app: its start script, systemd unit and public environment.

Made from the stack's ``app`` settings and the app's folder (components/app/plan.py); the same for every
host, so every host of a release runs the same texts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from components.app.app_spec import AppSpec, can_exec
from components.app.layout import app_root, app_user, schedule_unit_name
from components.app.node_install import NodeChoice
from components.config import HealthConfig, ProcessConfig, ScheduleConfig
from components.render import render

STOP_TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class AppRun:
    """How every app server runs the app, from the stack's settings and the app's folder."""

    app_name: str
    spec: AppSpec
    node: NodeChoice
    port: int = 3000
    port_names: Sequence[str] = ("PORT",)
    env: Mapping[str, str] = field(default_factory=dict)
    health: HealthConfig = field(default_factory=HealthConfig)
    processes: Sequence[ProcessConfig] = ()
    schedules: Sequence[ScheduleConfig] = ()

    @property
    def root(self) -> str:
        return app_root(self.app_name)

    def start_text(self) -> str:
        return render(
            "start.sh.j2",
            app_name=self.app_name,
            origin=self.spec.start_from,
            command=self.spec.start,
            exec=self.spec.exec_start,
        )

    def task_text(self) -> str | None:
        """The release task's script (``app.releaseTask``), run like the start script from its release folder;
        None without a task."""
        if self.spec.task is None:
            return None
        return render(
            "start.sh.j2",
            app_name=self.app_name,
            origin=self.spec.task_from,
            command=self.spec.task,
            exec=can_exec(self.spec.task),
            task=True,
        )

    def process_names(self, server: str) -> list[str]:
        """The processes of ``app.processes`` that run on ``server`` (each on all the app's servers by default)."""
        return [p.name for p in self.processes if not p.servers or server in p.servers]

    @staticmethod
    def _folder_script(label: str, commands: Sequence[tuple[str, str, str]], name: str, folder: str) -> str | None:
        """The script of ``name`` in ``commands`` (the spec's (name, command line, origin) of one setting), kept
        one folder down in the release (``folder``) and run from it like the start script; None when absent."""
        found = next(((c, o) for n, c, o in commands if n == name), None)
        if found is None:
            return None
        command, origin = found
        return render(
            "start.sh.j2", app_name=label, origin=origin, command=command, exec=can_exec(command), folder=folder
        )

    def process_start_text(self, name: str) -> str:
        """A process's start script, run from the release folder like the web process's."""
        text = self._folder_script(f"{self.app_name}@{name}", self.spec.processes, name, f"processes/{name}")
        assert text is not None, name
        return text

    def process_check_text(self, name: str) -> str | None:
        """A process's health command's script (``processes/<name>.check``), None without one."""
        label = f"{self.app_name}@{name} health check"
        return self._folder_script(label, self.spec.process_checks, name, f"processes/{name}.check")

    def process_unit_text(self, name: str) -> str:
        return render(
            "wayshub.service.j2",
            app_name=self.app_name,
            process=name,
            description=f"{self.app_name} process {name} (managed by wayshub-infra)",
            user=app_user(self.app_name),
            root=self.root,
            stop_timeout_seconds=self.process(name).stop_timeout_seconds,
        )

    def process(self, name: str) -> ProcessConfig:
        return next(p for p in self.processes if p.name == name)

    def processes_text(self) -> str:
        """Everything of ``app.processes`` a release runs, in one text (part of the release id)."""
        return "".join(
            f"{p.name} on {','.join(p.servers) or 'all'} healthy {p.healthy_seconds}s\n"
            f"{self.process_start_text(p.name)}{self.process_unit_text(p.name)}{self.process_check_text(p.name) or ''}"
            for p in self.processes
        )

    def schedule(self, name: str) -> ScheduleConfig:
        return next(s for s in self.schedules if s.name == name)

    def schedule_start_text(self, name: str) -> str:
        """A scheduled job's script in the release (``schedules/<name>``), run like the start script."""
        text = self._folder_script(f"{self.app_name} job {name}", self.spec.schedules, name, f"schedules/{name}")
        assert text is not None, name
        return text

    def schedules_text(self) -> str:
        """The jobs' scripts every release carries (part of the release id); when they run is not the release's
        but the timers' (components/app/schedules.py)."""
        return "".join(f"{name}\n{self.schedule_start_text(name)}" for name, _, _ in self.spec.schedules)

    def schedule_unit_text(self, name: str) -> str:
        """The job's oneshot unit: it runs ``current/schedules/<name>`` when its timer says."""
        return render(
            "schedule.service.j2",
            app_name=self.app_name,
            job=name,
            description=f"{self.app_name} job {name} (managed by wayshub-infra)",
            user=app_user(self.app_name),
            root=self.root,
            stop_timeout_seconds=self.schedule(name).stop_timeout_seconds,
        )

    def schedule_timer_text(self, name: str) -> str:
        return render(
            "schedule.timer.j2",
            job=name,
            description=f"{self.app_name} job {name}: when it runs (managed by wayshub-infra)",
            calendar=self.schedule(name).calendar,
            service=schedule_unit_name(self.app_name, name),
        )

    def unit_text(self) -> str:
        return render(
            "wayshub.service.j2",
            app_name=self.app_name,
            description=f"{self.app_name} Node app (managed by wayshub-infra)",
            user=app_user(self.app_name),
            root=self.root,
            stop_timeout_seconds=STOP_TIMEOUT_SECONDS,
        )

    @staticmethod
    def sandbox_text() -> str:
        """The unit's sandboxing lines, which the release task runs under too (``systemd-run -p``)."""
        return render("app-sandbox.j2")

    def public_env(self) -> dict[str, str]:
        """The env file's values but the secrets (the port variables win)."""
        return {"NODE_ENV": "production", **self.env, **{name: str(self.port) for name in self.port_names}}
