"""``Schedules``: the app's scheduled jobs (``app.schedules``) on the one app server that runs them.

Every release carries each job's script (``schedules/<name>``, host/deploy.sh); the site's first app server
holds a systemd timer and a oneshot unit per job (``<app>@job-<name>``) that run the live release's script.
So a deploy changes nothing here: a run that is going keeps its release to its end, the next one starts from
the new release, and no switch starts, stops or repeats a run. This resource changes only when a job's name,
calendar or stop timeout does. A timer never starts a second run of its job while one is going.

When the jobs move to another server (the site's first changes) the resource is replaced, the old server's
jobs removed first (``delete_before_replace``): never a time when two servers run them. A removed job stops
(its timer at once; a running run with SIGTERM, killed after ``stopTimeoutSeconds``). Its program is
host/schedules.sh; refresh reads the units back (drift) and the next ``up`` rewrites them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.app.app_run import AppRun
from components.app.host_steps import HOST_SCRIPTS
from components.app.layout import schedule_timer_name
from components.app.state_checks import SCHEDULES, schedule_checks
from components.hosts import Host
from components.shell.command import remote
from components.shell.host_script import host_script


def schedules_inputs(run: AppRun, setting: str, names: list[str] | None = None) -> dict[str, str]:
    """The UPPER_CASE inputs of host/schedules.sh (see its header); ``names`` []: remove every job."""
    jobs = [s.name for s in run.schedules] if names is None else names
    inputs = {"APP": run.app_name, "JOBS": " ".join(jobs), "SETTING": setting}
    for name in jobs:
        inputs[f"JOB_{name}_UNIT"] = run.schedule_unit_text(name)
        inputs[f"JOB_{name}_TIMER"] = run.schedule_timer_text(name)
        inputs[f"JOB_{name}_CALENDAR"] = run.schedule(name).calendar
    return inputs


def schedules_command(run: AppRun, setting: str, names: list[str] | None = None) -> str:
    return host_script(HOST_SCRIPTS / "schedules.sh", schedules_inputs(run, setting, names))


@dataclass(frozen=True)
class SchedulesArgs:
    host: Host  # where the jobs run: the first app server of the site
    run: AppRun
    setting: str  # the setting error lines name (wayshub:app.schedules, or a site's)
    after: pulumi.Resource  # the host's release switch: its release carries the jobs' scripts


class Schedules(pulumi.ComponentResource):
    """The jobs of one site's app on one server; ``next_runs`` is each job's next run, as the host said."""

    def __init__(self, name: str, args: SchedulesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wayshub:app:Schedules", name, None, opts)
        run = args.run
        self.state = remote.HostState(
            f"{name}-state",
            pulumi.ResourceOptions(parent=self, depends_on=[args.host.ready]),
            connection=args.host.connection,
            host=args.host.name,
            checks=schedule_checks(
                run.app_name,
                [(s.name, run.schedule_unit_text(s.name), run.schedule_timer_text(s.name)) for s in run.schedules],
            ),
        )
        self.timers = remote.Command(
            f"{name}-timers",
            # Another server: the old one's jobs are removed before the new one's start.
            pulumi.ResourceOptions(parent=self, depends_on=[args.after, self.state], delete_before_replace=True),
            connection=args.host.connection,
            create=schedules_command(run, args.setting),
            delete=schedules_command(run, args.setting, []),
            triggers=[args.host.name],
            rerun_on=remote.repair_tokens(self.state, [SCHEDULES]),
        )
        self.host = args.host.name
        self.timer_names = [schedule_timer_name(run.app_name, s.name) for s in run.schedules]
        self.next_runs = self.timers.stdout
        self.register_outputs({"host": self.host, "timers": self.timer_names, "next_runs": self.next_runs})
