"""``NodeApp``: the Node app on one server, run by systemd, switched release by release.

Steps on the host, each a resource so a preview names what changes: install Node → app user and
folders → systemd unit and env file (their text is the input, so ``preview --diff`` shows the lines)
→ upload the release tarball → unpack, switch ``current`` atomically, restart, wait for ``/health``
to report the new release (else fail with the unit's journal), keep the newest releases.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi

from components.app.node_install import install_lines
from components.app.release import Release
from components.hosts import Host
from components.render import render
from components.shell import (
    CopyFileToRemote,
    CopyFileToRemoteArgs,
    RemoteCommand,
    RemoteCommandArgs,
    cmd,
    fail,
    install_from_stdin,
    sudo_script,
)

JOURNAL_LINES = 40


@dataclass(frozen=True)
class NodeAppArgs:
    host: Host
    release: Release
    app_name: str = "wayshub"
    port: int = 3000
    entrypoint: str = "server.js"
    node_install: str = "apt"
    node_version: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    # Secret values (wayshub:appSecrets): the env file then travels and is stored as a secret.
    secret_env: pulumi.Input[Mapping[str, str]] | None = None
    health_timeout_seconds: int = 60
    releases_kept: int = 3
    # Wait after the health gate before the next batch may restart: the LB's fail_timeout, so nginx
    # has taken this host back before it loses another one.
    settle_seconds: float = 0.0
    # Resources whose completion must come first (the previous host's health gate, for rolling updates).
    after: Sequence[pulumi.Resource] = ()


@dataclass(frozen=True)
class AppPaths:
    root: str
    releases: str
    current: str
    env_file: str
    unit_file: str
    upload: str

    @classmethod
    def of(cls, app_name: str, release_id: str) -> AppPaths:
        root = f"/opt/{app_name}"
        return cls(
            root=root,
            releases=f"{root}/releases",
            current=f"{root}/current",
            env_file=f"/etc/{app_name}/{app_name}.env",
            unit_file=f"/etc/systemd/system/{app_name}.service",
            upload=f"/tmp/{app_name}-{release_id}.tar.gz",
        )


def env_file_text(args: NodeAppArgs, secrets: Mapping[str, str]) -> str:
    values = {"NODE_ENV": "production", "HOST": "0.0.0.0", **args.env, **secrets, "PORT": str(args.port)}  # noqa: S104
    return "".join(f"{key}={value}\n" for key, value in sorted(values.items()))


def unit_text(args: NodeAppArgs, node_path: str) -> str:
    paths = AppPaths.of(args.app_name, args.release.id)
    return render(
        "wayshub.service.j2",
        app_name=args.app_name,
        description=f"{args.app_name} Node app (managed by wayshub-infra)",
        user=args.app_name,
        working_directory=paths.current,
        node_path=node_path,
        env_file=paths.env_file,
        entrypoint=args.entrypoint,
    )


def base_lines(app: str) -> list[str]:
    """Create the system user and folders (idempotent)."""
    paths = AppPaths.of(app, "")
    return [
        f"id -u {cmd(app)} >/dev/null 2>&1 || useradd --system --home-dir {cmd(paths.root)} --shell /usr/sbin/nologin {cmd(app)}",
        cmd("install", "-d", "-m", "0755", paths.root, paths.releases),
        cmd("install", "-d", "-m", "0750", "-g", app, f"/etc/{app}"),
    ]


def teardown_lines(app: str) -> list[str]:
    """Remove everything ``NodeApp`` put on the host (idempotent: safe on a host that has none of it)."""
    paths = AppPaths.of(app, "")
    unit = f"{app}.service"
    return [
        f"systemctl disable --now {cmd(unit)} >/dev/null 2>&1 || true",
        cmd("rm", "-f", paths.unit_file),
        "systemctl daemon-reload",
        cmd("rm", "-rf", paths.root, f"/etc/{app}"),
        f"if id -u {cmd(app)} >/dev/null 2>&1; then {cmd('userdel', app)}; fi",
    ]


def health_probe(node_path: str, port: int) -> str:
    """A command that, given the expected release id as its last argument, exits 0 only when /health
    answers 200 with that release (node is on every app server, curl may not be)."""
    probe = (
        "const [port, want] = process.argv.slice(1);"
        "require('http').get({host: '127.0.0.1', port, path: '/health', timeout: 2000}, r => {"
        "let b=''; r.on('data', d => b += d); r.on('end', () => {"
        "try { process.exit(r.statusCode === 200 && JSON.parse(b).version === want ? 0 : 1) }"
        " catch (e) { process.exit(1) } }) }).on('error', () => process.exit(1))"
    )
    return cmd(node_path, "-e", probe, str(port))


def deploy_lines(args: NodeAppArgs, node_path: str) -> list[str]:
    """Switch to the release, restart, and gate on /health; on failure roll back and fail loudly.

    Prints ``<release> <previous release>`` on success. A failing release leaves the host on its
    previous release (switched back and restarted) and exits 1 with the unit's journal tail.
    """
    app, rid = args.app_name, args.release.id
    paths = AppPaths.of(app, rid)
    unit = f"{app}.service"
    seconds = args.health_timeout_seconds
    if args.release.tarball is None:  # pinned: the release must already be on the host
        unpack = [
            '[ -d "$releases/$rid" ] || '
            + fail(
                f"wayshub:app.releasePin: release {rid} is not on this host (it keeps the last {args.releases_kept})"
            ),
        ]
    else:
        unpack = [
            'if [ ! -d "$releases/$rid" ]; then',
            '  rm -rf "$releases/$rid.partial" && mkdir -p "$releases/$rid.partial"',
            f'  tar -xzf {cmd(paths.upload)} -C "$releases/$rid.partial" --no-same-owner',
            '  mv "$releases/$rid.partial" "$releases/$rid"',
            "fi",
            f"rm -f {cmd(paths.upload)}",
        ]
    return [
        f"releases={cmd(paths.releases)}; current={cmd(paths.current)}; rid={cmd(rid)}; unit={cmd(unit)}",
        'previous=$(basename "$(readlink "$current" 2>/dev/null)" 2>/dev/null || true)',
        *unpack,
        # Atomic switch: a new symlink renamed over the old one.
        'switch() { touch "$releases/$1"; ln -sfn "$releases/$1" "$current.new" && mv -T "$current.new" "$current"; }',
        f'healthy() {{ {health_probe(node_path, args.port)} "$1"; }}',
        f'wait_healthy() {{ local deadline=$((SECONDS + {seconds})); until healthy "$1"; do [ "$SECONDS" -lt "$deadline" ] || return 1; sleep 0.5; done; }}',
        'switch "$rid"',
        'systemctl enable "$unit" >/dev/null 2>&1',
        'systemctl restart "$unit"',
        'if ! wait_healthy "$rid"; then',
        f'  journal=$(journalctl -u "$unit" -n {JOURNAL_LINES} --no-pager 2>&1 || true)',
        '  if [ -n "$previous" ] && [ "$previous" != "$rid" ] && [ -d "$releases/$previous" ]; then',
        '    switch "$previous"; systemctl restart "$unit"',
        '    if wait_healthy "$previous"; then outcome="rolled back to $previous (healthy)"',
        '    else outcome="rolled back to $previous, which is not healthy either"; fi',
        '  else outcome="no previous release to roll back to"; fi',
        f'  echo "{app} on $(hostname): /health did not report release $rid within {seconds}s; $outcome. Journal:" >&2',
        '  printf "%s\\n" "$journal" >&2',
        "  exit 1",
        "fi",
        # Only a host that was serving before can have been marked failed by nginx; a first deploy
        # has no traffic to protect, so it does not hold up the next batch.
        *([f'if [ -n "$previous" ]; then sleep {args.settle_seconds:g}; fi'] if args.settle_seconds else []),
        # Keep the newest releases (by switch time), never the live one.
        f'ls -1dt "$releases"/*/ | sed \'s#/$##\' | tail -n +{args.releases_kept + 1} | {{ grep -vxF "$releases/$rid" || true; }} | xargs -r rm -rf',
        'echo "$rid ${previous:-}"',
    ]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class NodeApp(pulumi.ComponentResource):
    """The app on one host; ``backend`` is ``private_address:port`` once the host is healthy."""

    def __init__(self, name: str, args: NodeAppArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wayshub:app:NodeApp", name, None, opts)
        conn = args.host.connection
        paths = AppPaths.of(args.app_name, args.release.id)
        on_host = pulumi.ResourceOptions(parent=self, depends_on=[args.host.ready])

        self.node = RemoteCommand(
            f"{name}-node",
            RemoteCommandArgs(connection=conn, create=sudo_script(install_lines(args.node_install, args.node_version))),
            opts=on_host,
        )
        self.node_path = self.node.stdout.apply(lambda out: out.strip().splitlines()[-1])
        self.base = RemoteCommand(
            f"{name}-base",
            RemoteCommandArgs(
                connection=conn,
                create=sudo_script(base_lines(args.app_name)),
                delete=sudo_script(teardown_lines(args.app_name)),
            ),
            opts=on_host,
        )
        after_base = pulumi.ResourceOptions(parent=self, depends_on=[self.base])
        self.unit_text = self.node_path.apply(lambda node: unit_text(args, node))
        self.unit = RemoteCommand(
            f"{name}-unit",
            RemoteCommandArgs(
                connection=conn,
                create=sudo_script([*install_from_stdin(paths.unit_file, "0644"), "systemctl daemon-reload"]),
                stdin=self.unit_text,
            ),
            opts=after_base,
        )
        has_secrets = args.secret_env is not None
        self.env_text = (
            pulumi.Output.secret(args.secret_env).apply(lambda secrets: env_file_text(args, secrets))
            if args.secret_env is not None
            else pulumi.Output.from_input(env_file_text(args, {}))
        )
        self.env_file = RemoteCommand(
            f"{name}-env",
            RemoteCommandArgs(
                connection=conn,
                create=sudo_script(install_from_stdin(paths.env_file, "0640", group=args.app_name)),
                stdin=self.env_text,
                log_output=not has_secrets,
            ),
            opts=after_base,
        )
        self.upload: CopyFileToRemote | None = None
        if args.release.tarball is not None:
            self.upload = CopyFileToRemote(
                f"{name}-upload",
                CopyFileToRemoteArgs(connection=conn, source=str(args.release.tarball), remote_path=paths.upload),
                opts=after_base,
            )
        uploads = [self.upload] if self.upload else []
        self.deploy = RemoteCommand(
            f"{name}-release",
            RemoteCommandArgs(
                connection=conn,
                create=self.node_path.apply(lambda node: sudo_script(deploy_lines(args, node))),
                rerun_on=[args.release.id, self.unit_text.apply(_digest), self.env_text.apply(_digest)],
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.unit, self.env_file, *uploads, *args.after]),
        )
        # stdout: "<release> <previous release>" (previous empty on a first deploy).
        self.release_id = self.deploy.stdout.apply(lambda out: (out.split() or [""])[0])
        self.previous_release = self.deploy.stdout.apply(lambda out: [*out.split(), "", ""][1])
        self.backend = pulumi.Output.concat(args.host.private_address, ":", str(args.port))
        self.register_outputs(
            {
                "backend": self.backend,
                "release_id": self.release_id,
                "previous_release": self.previous_release,
                "node_path": self.node_path,
            }
        )
