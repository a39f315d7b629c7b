"""``NodeApp``: the user's Node app on one server, run by systemd, switched release by release.

Steps on the host, each a resource so a preview names what changes: app user and folders → Node
(the official binary shipped from here, or the distro's) → the release's code uploaded → deploy:
make the release folder (code, command line, env file, Node, unit), switch ``current`` atomically,
restart, and prove that the NEW process serves the health path (else switch back and fail with the
unit's journal). The unit is the same text for every release and runs everything through
``current``, so a host whose turn has not come is untouched and a rollback restores all of it.
Each step's program is a script in ``host/``: base.sh, node-<method>.sh, deploy.sh; teardown.sh on delete
(host_steps.py and node_install.py make their command texts).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi

from components.app.app_run import AppRun
from components.app.env_file import env_file_text
from components.app.host_steps import base_command, deploy_command, deploy_inputs, teardown_command
from components.app.layout import code_step, code_upload, node_path, node_step, node_upload
from components.app.node_dist import architecture, package_tarball
from components.app.node_install import install_command
from components.app.release import Release
from components.app.state_checks import BASE, RELEASE, app_checks
from components.hosts import Host
from components.shell.command import remote
from components.shell.provider import RerunOn
from components.shell.uploads import upload_dir_command


def release_step_name(app: str) -> str:
    """The release step's resource name under the ``NodeApp`` named ``app``."""
    return f"{app}-release"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class NodeAppArgs:
    host: Host
    run: AppRun
    release: Release
    # Secret values (wayshub:appSecrets): the env file then travels and is stored as a secret.
    secret_env: pulumi.Input[Mapping[str, str]] | None = None
    releases_kept: int = 3
    # Wait after the health check before the next batch may restart: the LB's fail_timeout, so nginx
    # has taken this host back before it loses another one.
    settle_seconds: float = 0.0
    # Resources whose completion must come first (the previous host's health gate, for rolling updates).
    after: Sequence[pulumi.Resource] = ()
    # hosts.takeover: stop a process of someone else's that holds the app's port, right before the switch.
    takeover: bool = False
    # app.releaseTask: first only make the release folder (``prepare``); the switch is declared by ``switch``,
    # once the task that waits for every host's folder is declared (components/app/release_task.py).
    prepare: bool = False


class NodeApp(pulumi.ComponentResource):
    """The app on one host; ``backend`` is ``private_address:port`` once the host is healthy.

    With ``args.prepare`` its release folder is made by a step of its own (``prepare``) and the switch waits
    until the caller calls ``switch(after)``; else the constructor declares the switch after ``args.after``."""

    def __init__(self, name: str, args: NodeAppArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wayshub:app:NodeApp", name, None, opts)
        conn = args.host.connection
        run, release = args.run, args.release
        on_host = pulumi.ResourceOptions(parent=self, depends_on=[args.host.ready])
        self.env_text = (
            pulumi.Output.secret(args.secret_env).apply(lambda secrets: env_file_text(run, secrets))
            if args.secret_env is not None
            else pulumi.Output.from_input(env_file_text(run, {}))
        )
        # What refresh reads back; a drifted part re-runs the steps that make it (docs/drift.md).
        built = release.build is not None
        self.state = remote.HostState(
            f"{name}-state",
            on_host,
            connection=conn,
            host=args.host.name,
            checks=app_checks(
                run.app_name,
                release.id,
                release.build.id if release.build else None,
                node_path(run.app_name, run.node.version or "") if run.node.method == "binary" else None,
                run.start_text() if built else None,
                run.unit_text(),
                self.env_text if built else None,
                run.task_text() if built else None,
                [
                    (n, run.process_start_text(n), run.process_unit_text(n), run.process_check_text(n))
                    for n in run.process_names(args.host.name)
                ]
                if built
                else [],
                [(n, run.schedule_start_text(n)) for n, _, _ in run.spec.schedules] if built else [],
            ),
        )
        base_repairs = remote.repair_tokens(self.state, [BASE])

        self.base = remote.Command(
            f"{name}-base",
            pulumi.ResourceOptions(parent=self, depends_on=[args.host.ready, self.state]),
            connection=conn,
            create=base_command(run.app_name),
            delete=teardown_command(run.app_name),
            rerun_on=base_repairs,
        )
        after_base = pulumi.ResourceOptions(parent=self, depends_on=[self.base, self.state])
        self.node = self._declare_node(name, args, after_base, base_repairs)
        self.node_path = self.node.stdout.apply(lambda out: out.strip().splitlines()[-1])

        self.upload: remote.CopyToRemoteResource | None = None
        if release.build is not None:
            self.upload = remote.CopyToRemote(
                f"{name}-upload",
                private_folder(f"{name}-upload-dir", after_base, conn, code_step(run.app_name), base_repairs),
                connection=conn,
                source=pulumi.FileAsset(str(release.build.tarball)),
                remote_path=code_upload(run.app_name, release.build.id),
                # Named by the build id, not the tarball's bytes: a preview builds nothing (no
                # tarball yet) and must show exactly what `up` will do.
                content_id=release.build.id,
                rerun_on=base_repairs,
            )
        self._name, self._args = name, args
        self._uploads: list[pulumi.Resource] = [self.upload] if self.upload else []
        self.prepare: remote.RemoteCommandResource | None = None
        if args.prepare and release.build is not None:
            self.prepare = remote.Command(
                f"{name}-prepare",
                pulumi.ResourceOptions(parent=self, depends_on=[self.node, *self._uploads]),
                connection=conn,
                create=self._deploy_command(prepare=True),
                stdin=self.env_text,
                rerun_on=self._rerun_on(),
            )
        if not args.prepare:
            self.switch(args.after)

    def _deploy_command(self, *, prepare: bool) -> pulumi.Output[str]:
        args = self._args
        return self.node_path.apply(
            lambda node: deploy_command(
                deploy_inputs(
                    args.run,
                    args.release,
                    node,
                    args.releases_kept,
                    args.settle_seconds,
                    args.takeover,
                    prepare=prepare,
                    server=args.host.name,
                )
            )
        )

    def _rerun_on(self) -> RerunOn:
        return remote.rerun_with(
            [self._args.release.id, self.env_text.apply(_digest)], remote.repair_tokens(self.state, [BASE, RELEASE])
        )

    def switch(self, after: Sequence[pulumi.Resource]) -> NodeApp:
        """Declare the release step (switch, restart, health gate) after ``after`` and the host's own steps."""
        name, args = self._name, self._args
        self.deploy = remote.Command(
            release_step_name(name),
            # stdout is a secret: after a takeover it holds the command lines of the processes stopped, which
            # may carry passwords (the release ids on its first line are public again below).
            pulumi.ResourceOptions(
                parent=self,
                depends_on=[self.node, *self._uploads, *([self.prepare] if self.prepare else []), *after],
                additional_secret_outputs=["stdout"],
            ),
            connection=args.host.connection,
            create=self._deploy_command(prepare=False),
            # The env file (secrets included, then a secret Output) goes by stdin, only into a new release
            # folder; the command's output (release ids, or the failure and journal tail) is logged.
            stdin=self.env_text,
            rerun_on=self._rerun_on(),
        )
        # stdout: "<release> <previous release>" (previous empty on a first deploy), then what a takeover did.
        first_line = pulumi.Output.unsecret(self.deploy.stdout.apply(lambda out: (out.splitlines() or [""])[0]))
        self.release_id = first_line.apply(lambda line: (line.split() or [""])[0])
        self.previous_release = first_line.apply(lambda line: [*line.split(), "", ""][1])
        self.takeover_notes = self.deploy.stdout.apply(lambda out: out.splitlines()[1:])
        self.backend = args.host.endpoint(args.run.port)
        self.register_outputs(
            {
                "backend": self.backend,
                "release_id": self.release_id,
                "previous_release": self.previous_release,
                "node_path": self.node_path,
                "drift_restored": self.state.restored,
            }
        )
        return self

    def _declare_node(
        self, name: str, args: NodeAppArgs, opts: pulumi.ResourceOptions, repairs: pulumi.Output[list[str]]
    ) -> remote.RemoteCommandResource:
        """The node this host runs: the official binary shipped from here, or an installer's."""
        conn, run = args.host.connection, args.run
        choice = run.node
        if choice.method != "binary":
            return remote.Command(
                f"{name}-node", opts, connection=conn, create=install_command(choice), rerun_on=repairs
            )
        version = choice.version or ""
        arch = remote.Command(f"{name}-arch", opts, connection=conn, create="uname -m")
        uploaded = node_upload(run.app_name, version)
        upload = remote.CopyToRemote(
            f"{name}-node-upload",
            private_folder(f"{name}-node-upload-dir", opts, conn, node_step(run.app_name), repairs),
            connection=conn,
            source=arch.stdout.apply(
                lambda machine: pulumi.FileAsset(str(package_tarball(version, architecture(machine))))
            ),
            remote_path=uploaded,
            rerun_on=repairs,
        )
        return remote.Command(
            f"{name}-node",
            pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[upload])),
            connection=conn,
            create=install_command(choice, app_name=run.app_name, upload=uploaded),
            rerun_on=repairs,
        )


def private_folder(
    name: str, opts: pulumi.ResourceOptions, conn: remote.ConnectionArgs, step: str, repairs: pulumi.Output[list[str]]
) -> pulumi.ResourceOptions:
    """The step that makes an upload's private folder (components/shell/uploads.py); ``opts`` made to wait for it."""
    folder = remote.Command(name, opts, connection=conn, create=upload_dir_command(step), rerun_on=repairs)
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[folder]))
