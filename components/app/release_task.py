"""``ReleaseTask``: the app's release task (``app.releaseTask``, e.g. database migrations), once per new release.

It runs on one app server (the first of the site's) after every app server has made the release folder
(``NodeApp.prepare``) and before any switches to it (every ``NodeApp.switch`` waits for it). If it fails, the
``up`` fails with one line (host, release, exit code) and the output's tail, and nothing switches; the next
``up`` runs it again. A release that passed it is marked on that host (``TASK_PASSED`` in its folder), so a
repair or a second ``up`` does not run it twice; a preview runs nothing. A pinned release (``make rollback``)
runs no task: it passed its own when it was new. Its program is host/release-task.sh (docs/app.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from components.app.app_run import AppRun
from components.app.host_steps import HOST_SCRIPTS
from components.app.layout import release_task_unit
from components.app.release import Release
from components.hosts import Host
from components.shell.command import remote
from components.shell.host_script import host_script

OUTPUT_LINES = 40


def task_inputs(run: AppRun, release: Release, timeout_seconds: int) -> dict[str, str]:
    """The UPPER_CASE inputs of host/release-task.sh (see its header)."""
    return {
        "APP": run.app_name,
        "RID": release.id,
        "UNIT": release_task_unit(run.app_name),
        "ROOT": run.root,
        "SANDBOX": run.sandbox_text(),
        "TIMEOUT": str(timeout_seconds),
        "OUTPUT_LINES": str(OUTPUT_LINES),
    }


def task_command(run: AppRun, release: Release, timeout_seconds: int) -> str:
    return host_script(HOST_SCRIPTS / "release-task.sh", task_inputs(run, release, timeout_seconds))


@dataclass(frozen=True)
class ReleaseTaskArgs:
    host: Host  # where it runs: the first app server of the site
    run: AppRun
    release: Release
    timeout_seconds: int
    # Every app server's prepare step: the task waits until each has the release folder.
    prepared: Sequence[pulumi.Resource]


class ReleaseTask(pulumi.ComponentResource):
    """The release task of one site's app; ``output`` is what it printed (the last lines)."""

    def __init__(self, name: str, args: ReleaseTaskArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wayshub:app:ReleaseTask", name, None, opts)
        self.run = remote.Command(
            f"{name}-run",
            pulumi.ResourceOptions(parent=self, depends_on=[args.host.ready, *args.prepared]),
            connection=args.host.connection,
            create=task_command(args.run, args.release, args.timeout_seconds),
            # A new release runs it (the command names the release); the same release again does not.
        )
        self.host = args.host.name
        self.output = self.run.stdout
        # In the up's log: what the task printed (its last lines) when it ran, or that it had run already.
        self.output.apply(lambda out: pulumi.log.info(out.rstrip("\n"), resource=self) if out.strip() else None)
        self.register_outputs({"host": self.host, "output": self.output})
