"""``BackendHealthCheck``: active health checks on the LB, so a HUNG backend stalls nobody for long.

Open-source nginx only learns of a hung backend when ``readTimeout`` expires. This component runs
``host/backend-health.sh`` as a systemd service on the LB: it probes every backend's health path and,
while one is hung, ends the connections stuck on it; nginx retries those GETs elsewhere and its
passive check skips the backend. docs/hung-backends.md has the design and the measurements.
Its steps run host/install-file.sh (script, unit), host/backend-health-start.sh and -stop.sh.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi

from components.app.env_file import quote_env
from components.config import HealthConfig, LoadBalancerConfig, duration_seconds
from components.hosts import Host
from components.hosts.address import checked_host_port
from components.load_balancer.nginx import install_file_command
from components.render import render
from components.shell.command import remote
from components.shell.host_script import host_script

HOST_SCRIPTS = Path(__file__).resolve().parent / "host"
SCRIPT_SOURCE = HOST_SCRIPTS / "backend-health.sh"


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


def checker_env(backends: list[str], settings: LoadBalancerConfig, health: HealthConfig) -> dict[str, str]:
    """backend-health.sh's inputs, plain: the backends (``address:port``, sorted) and the settings of
    ``lb.healthCheck`` and ``app.health``. The env file here and the containers mode's checker get these."""
    check = settings.health_check
    low, high = health.status_range
    return {
        "BACKENDS": " ".join(checked_host_port(b) for b in sorted(backends)),
        "HEALTH_PATH": health.path,
        "STATUS_MIN": str(low),
        "STATUS_MAX": str(high),
        "INTERVAL": _seconds(check.interval),
        "TIMEOUT": _seconds(check.timeout),
        "FALL": str(check.fall),
        "RISE": str(check.rise),
    }


def env_text(site_name: str, backends: list[str], settings: LoadBalancerConfig, health: HealthConfig) -> str:
    env = checker_env(backends, settings, health)
    return render(
        "backend-health.env.j2",
        script=Paths.of(site_name).script,
        site_name=site_name,
        # Quoted where they meet the env file (systemd's EnvironmentFile): whatever the config let through
        # stays one value on its line.
        backends=quote_env(env["BACKENDS"]),
        health_path=quote_env(env["HEALTH_PATH"]),
        status_min=env["STATUS_MIN"],
        status_max=env["STATUS_MAX"],
        interval=env["INTERVAL"],
        timeout=env["TIMEOUT"],
        fall=env["FALL"],
        rise=env["RISE"],
    )


def unit_text(site_name: str) -> str:
    paths = Paths.of(site_name)
    return render("backend-health.service.j2", site_name=site_name, env_file=paths.env_file, script=paths.script)


def start_command(paths: Paths) -> str:
    """Stdin → the env file, ``<checker> --check`` (one clear line, not a checker that sees every probe
    refused), then enable and restart the unit."""
    inputs = {"ENV_FILE": paths.env_file, "CHECKER": paths.script, "UNIT": paths.unit}
    return host_script(HOST_SCRIPTS / "backend-health-start.sh", inputs)


def stop_command(paths: Paths) -> str:
    """Idempotent: a missing unit or file is fine."""
    inputs = {"UNIT": paths.unit, "UNIT_FILE": paths.unit_file, "ENV_FILE": paths.env_file, "CHECKER": paths.script}
    return host_script(HOST_SCRIPTS / "backend-health-stop.sh", inputs)


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
                create=install_file_command(path, mode),
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
            create=start_command(paths),
            delete=stop_command(paths),
            stdin=self.env_text,
            # A new script or unit restarts the service too.
            rerun_on=[script_text, unit_text(args.site_name)],
        )
        self.register_outputs({"settings": self.env_text})
