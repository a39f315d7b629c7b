"""``NodeApp``: the user's Node app on one server, run by systemd, switched release by release.

Steps on the host, each a resource so a preview names what changes: app user and folders → Node
(the official binary shipped from here, or the distro's) → the release's code uploaded → deploy:
make the release folder (code, command line, env file, Node, unit), switch ``current`` atomically,
restart, and prove that the NEW process serves the health path (else switch back and fail with the
unit's journal). The unit is the same text for every release and runs everything through
``current``, so a host whose turn has not come is untouched and a rollback restores all of it.
Each step's program is a script in ``host/``: base.sh, node-<method>.sh, deploy.sh; teardown.sh on delete.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pulumi

from components.app.app_spec import AppSpec
from components.app.layout import app_root, code_upload, node_path, node_upload, unit_file, unit_name
from components.app.node_dist import architecture, package_tarball
from components.app.node_install import NodeChoice, install_command
from components.app.release import Build, Release, release_id
from components.app.state_checks import BASE, RELEASE, app_checks
from components.config import HealthConfig
from components.hosts import Host
from components.hosts.survey import BACKUP_DIR, host_script
from components.render import render
from components.shell.command import remote

JOURNAL_LINES = 40
# After taking a host over from a hand-run app: the hand-written nginx site may still hold it failed for
# nginx's default fail_timeout (10 s); the next batch waits that out.
TAKEOVER_SETTLE_SECONDS = 11.0
STOP_TIMEOUT_SECONDS = 10
HOST_SCRIPTS = Path(__file__).resolve().parent / "host"


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

    def unit_text(self) -> str:
        return render(
            "wayshub.service.j2",
            app_name=self.app_name,
            description=f"{self.app_name} Node app (managed by wayshub-infra)",
            user=self.app_name,
            root=self.root,
            stop_timeout_seconds=STOP_TIMEOUT_SECONDS,
        )

    def public_env(self) -> dict[str, str]:
        """The env file's values but the secrets (the port variables win)."""
        return {"NODE_ENV": "production", **self.env, **{name: str(self.port) for name in self.port_names}}


# Characters a bare (unquoted) value may hold: systemd's parser keeps them as they are. Anything else,
# and the empty value, is double-quoted.
_BARE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:,@+=%")
# Inside double quotes systemd's EnvironmentFile parser (src/basic/env-file.c) drops a backslash before
# exactly these four and keeps every other byte as it is: newlines, spaces, '#', quotes, Unicode.
_ESCAPED_IN_QUOTES = {"\\": "\\\\", '"': '\\"', "$": "\\$", "`": "\\`"}


def _quote_env(value: str) -> str:
    """A value as systemd's EnvironmentFile reads it back byte for byte.

    Bare, systemd would drop a backslash (``back\\slash`` → ``backslash``), strip leading and trailing
    spaces, join the next line to a value ending in a backslash, and end the value at a newline (the
    rest becoming a variable of its own). Double-quoted and escaped it does none of that
    (tests/e2e/test_app_env_and_sandboxing.py reads each value back from the running app). NUL cannot
    be carried at all: components/config/app.py refuses it, and so does this."""
    if "\0" in value:
        raise ValueError("an environment value cannot hold a NUL character")
    if value and all(c in _BARE for c in value):
        return value
    return '"' + "".join(_ESCAPED_IN_QUOTES.get(c, c) for c in value) + '"'


def env_file_text(run: AppRun, secrets: Mapping[str, str]) -> str:
    """The release's env file. (WAYSHUB_RELEASE comes from the start script: the env file stays the same
    text from release to release, so a preview shows it only when the environment really changes.)"""
    values = {**run.public_env(), **secrets}
    return "".join(f"{key}={_quote_env(value)}\n" for key, value in sorted(values.items()))


def plan_release(run: AppRun, build: Build, secrets: Mapping[str, str], salt: str) -> Release:
    """The release every host switches to: its id covers code, Node, command, env, unit and secrets."""
    parts = [
        build.id,
        run.node.describe(),
        run.start_text(),
        run.unit_text(),
        env_file_text(run, {}),
        str(sorted(secrets)),
    ]
    return Release(release_id(parts, secrets, salt), build)


def base_command(app: str) -> str:
    """Create the system user and folders (idempotent)."""
    return host_script(HOST_SCRIPTS / "base.sh", {"APP": app, "ROOT": app_root(app)})


def teardown_command(app: str) -> str:
    """Remove everything ``NodeApp`` put on the host (idempotent: safe on a host that has none of it)."""
    inputs = {
        "APP": app,
        "ROOT": app_root(app),
        "UNIT": unit_name(app),
        "UNIT_FILE": unit_file(app),
        "ETC_DIR": f"/etc/{app}",
    }
    return host_script(HOST_SCRIPTS / "teardown.sh", inputs)


def deploy_inputs(
    run: AppRun, release: Release, node_path: str, releases_kept: int, settle_seconds: float, takeover: bool = False
) -> dict[str, str]:
    """The UPPER_CASE inputs of host/deploy.sh (see its header)."""
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
        "BACKUP": BACKUP_DIR,
        "TAKEOVER_SETTLE": f"{max(settle_seconds, TAKEOVER_SETTLE_SECONDS):g}",
    }


def deploy_command(inputs: Mapping[str, str]) -> str:
    """``sudo bash -c`` of host/deploy.sh with its inputs assigned first (each value quoted)."""
    return host_script(HOST_SCRIPTS / "deploy.sh", inputs)


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


class NodeApp(pulumi.ComponentResource):
    """The app on one host; ``backend`` is ``private_address:port`` once the host is healthy."""

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
                after_base,
                connection=conn,
                source=pulumi.FileAsset(str(release.build.tarball)),
                remote_path=code_upload(run.app_name, release.build.id),
                # Named by the build id, not the tarball's bytes: a preview builds nothing (no
                # tarball yet) and must show exactly what `up` will do.
                content_id=release.build.id,
                rerun_on=base_repairs,
            )
        uploads = [self.upload] if self.upload else []
        self.deploy = remote.Command(
            release_step_name(name),
            pulumi.ResourceOptions(parent=self, depends_on=[self.node, *uploads, *args.after]),
            connection=conn,
            create=self.node_path.apply(
                lambda node: deploy_command(
                    deploy_inputs(run, release, node, args.releases_kept, args.settle_seconds, args.takeover)
                )
            ),
            # The env file (secrets included, then a secret Output) goes by stdin, only into a new release
            # folder; the command's output (release ids, or the failure and journal tail) is logged.
            stdin=self.env_text,
            rerun_on=remote.rerun_with(
                [release.id, self.env_text.apply(_digest)], remote.repair_tokens(self.state, [BASE, RELEASE])
            ),
        )
        # stdout: "<release> <previous release>" (previous empty on a first deploy), then what a takeover did.
        first_line = self.deploy.stdout.apply(lambda out: (out.splitlines() or [""])[0])
        self.release_id = first_line.apply(lambda line: (line.split() or [""])[0])
        self.previous_release = first_line.apply(lambda line: [*line.split(), "", ""][1])
        self.takeover_notes = self.deploy.stdout.apply(lambda out: out.splitlines()[1:])
        self.backend = args.host.endpoint(run.port)
        self.register_outputs(
            {
                "backend": self.backend,
                "release_id": self.release_id,
                "previous_release": self.previous_release,
                "node_path": self.node_path,
                "drift_restored": self.state.restored,
            }
        )

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
            opts,
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
