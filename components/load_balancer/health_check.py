"""``BackendHealthCheck``: active health checks on the LB, so a HUNG backend stalls nobody for long.

Open-source nginx only learns of a hung backend when ``readTimeout`` expires. This component runs
``host/backend-health.sh`` as a systemd service on the LB: it probes every backend's health path and,
while one is hung, ends the connections stuck on it; nginx retries those GETs elsewhere and its
passive check skips the backend. docs/hung-backends.md has the design and the measurements.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi

from components.config import HealthConfig, LoadBalancerConfig, duration_seconds
from components.hosts import Host
from components.render import render
from components.shell import cmd, install_from_stdin, sudo_script
from components.shell.command import remote

SCRIPT_SOURCE = Path(__file__).resolve().parent / "host" / "backend-health.sh"


@dataclass(frozen=True)
class BackendHealthCheckArgs:
    host: Host
    site_name: str
    backends: Sequence[pulumi.Input[str]]
    settings: LoadBalancerConfig
    health: HealthConfig
    # The published site: the checker starts once nginx serves it.
    site: pulumi.Resource


@dataclass(frozen=True)
class Paths:
    script: str
    unit: str
    unit_file: str
    env_file: str

    @staticmethod
    def of(site_name: str) -> Paths:
        unit = f"{site_name}-backend-health.service"
        return Paths(
            script=f"/usr/local/lib/wayshub/{site_name}-backend-health",
            unit=unit,
            unit_file=f"/etc/systemd/system/{unit}",
            env_file=f"/etc/wayshub/{site_name}-backend-health.env",
        )


def _seconds(duration: str) -> str:
    return f"{duration_seconds(duration):g}"


def env_text(site_name: str, backends: list[str], settings: LoadBalancerConfig, health: HealthConfig) -> str:
    check = settings.health_check
    low, high = health.status_range
    return render(
        "backend-health.env.j2",
        script=Paths.of(site_name).script,
        site_name=site_name,
        backends=sorted(backends),
        health_path=health.path,
        status_min=low,
        status_max=high,
        interval=_seconds(check.interval),
        timeout=_seconds(check.timeout),
        fall=check.fall,
        rise=check.rise,
    )


def unit_text(site_name: str) -> str:
    paths = Paths.of(site_name)
    return render("backend-health.service.j2", site_name=site_name, env_file=paths.env_file, script=paths.script)


def start_lines(paths: Paths) -> list[str]:
    return [
        cmd("install", "-d", "-m", "0755", str(Path(paths.env_file).parent)),
        *install_from_stdin(paths.env_file, "0644"),
        cmd(paths.script, "--check"),  # one clear line, not a checker that sees every probe refused
        "systemctl daemon-reload",
        cmd("systemctl", "enable", "--quiet", paths.unit),
        cmd("systemctl", "restart", paths.unit),
    ]


def stop_lines(paths: Paths) -> list[str]:
    """Idempotent: a missing unit or file is fine."""
    return [
        cmd("systemctl", "disable", "--now", "--quiet", paths.unit) + " 2>/dev/null || true",
        cmd("rm", "-f", paths.unit_file, paths.env_file, paths.script),
        "systemctl daemon-reload",
    ]


class BackendHealthCheck(pulumi.ComponentResource):
    """The checker service on the LB host; its inputs (script, unit, settings) show in previews."""

    def __init__(self, name: str, args: BackendHealthCheckArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wayshub:load_balancer:BackendHealthCheck", name, None, opts)
        paths = Paths.of(args.site_name)
        conn = args.host.connection
        script_text = SCRIPT_SOURCE.read_text()
        files = [
            remote.Command(
                f"{name}-{role}",
                pulumi.ResourceOptions(parent=self, depends_on=[args.site]),
                connection=conn,
                create=sudo_script(
                    [cmd("install", "-d", "-m", "0755", str(Path(path).parent)), *install_from_stdin(path, mode)]
                ),
                stdin=text,
            )
            for role, path, mode, text in [
                ("script", paths.script, "0755", script_text),
                ("unit", paths.unit_file, "0644", unit_text(args.site_name)),
            ]
        ]
        self.env_text = pulumi.Output.all(*args.backends).apply(
            lambda backends: env_text(args.site_name, list(backends), args.settings, args.health)
        )
        self.service = remote.Command(
            f"{name}-service",
            pulumi.ResourceOptions(parent=self, depends_on=[*files, args.site]),
            connection=conn,
            create=sudo_script(start_lines(paths)),
            delete=sudo_script(stop_lines(paths)),
            stdin=self.env_text,
            # A new script or unit restarts the service too.
            rerun_on=[script_text, unit_text(args.site_name)],
        )
        self.register_outputs({"settings": self.env_text})
