"""Helpers for e2e tests of the deployed site: its stack config, HTTP through the LB, VM shell access."""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import ssl
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import slots
from tests.e2e.pulumi_cli import PulumiCli, stack_file_text

# WAYSHUB_E2E_SLOT lets two test sessions share a machine without sharing names, ports or subnets (slots.py).
SITE_STACK = slots.SITE_STACK
DOMAIN = "wayshub.test"
HTTP_PORT = slots.SITE_HTTP_PORT
HTTPS_PORT = HTTP_PORT + 1
SSH_PORT_BASE = slots.SITE_SSH_PORT_BASE
SUBNET_PREFIX = slots.SITE_SUBNET_PREFIX
SUBNET = f"{SUBNET_PREFIX}.0/24"
# What runs the site's commands (wayshub:commands), set explicitly in every site stack, so that a plugin on
# PATH never changes what a test runs: `builtin` unless WAYSHUB_E2E_COMMANDS=pulumi-command, which runs the
# site's scenarios through the real pulumi-command plugin (scripts/ensure-plugins, `make test` does both).
COMMANDS = os.environ.get("WAYSHUB_E2E_COMMANDS", "builtin")
if COMMANDS not in ("builtin", "pulumi-command"):
    raise ValueError(f"WAYSHUB_E2E_COMMANDS: {COMMANDS!r} is not builtin or pulumi-command")
# The sample app with its stricter health check: /health reports the release the host switched to.
SAMPLE_APP: dict[str, Any] = {"health": {"path": "/health", "bodyContains": '"version":"{release}"'}}


@dataclass
class Site:
    cli: PulumiCli
    project: Path
    hosts_file: Path
    image: str
    first_up: dict[str, int] = field(default_factory=dict)
    # Each resource's dependencies (names) in the state right after the first up.
    first_dependencies: dict[str, set[str]] = field(default_factory=dict)
    first_output: str = ""  # what the first up printed

    def dependencies(self) -> dict[str, set[str]]:
        """Resource name -> the names of the resources the engine recorded it depends on, from the state."""
        resources = self.cli.resources()
        return {
            r["urn"].rsplit("::", 1)[-1]: {urn.rsplit("::", 1)[-1] for urn in r.get("dependencies", [])}
            for r in resources
        }

    def container(self, server: str) -> str:
        return f"wayshub-{SITE_STACK}-{server}"

    def sh(self, server: str, command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return vm_sh(self.container(server), command, check)


def live_release(site: Site, server: str) -> str:
    """The release id ``server`` serves: where its ``current`` link points."""
    return site.sh(server, 'basename "$(readlink /opt/wayshub/current)"').stdout.strip()


def vm_sh(container: str, command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """A root shell command inside a sandbox VM (for checks; deploys go over SSH)."""
    return subprocess.run(
        ["docker", "exec", container, "bash", "-c", command], capture_output=True, text=True, check=check
    )


def write_stack_config(
    site: Site,
    app_servers: list[str],
    extra: dict[str, object] | None = None,
    hosts_extra: dict[str, object] | None = None,
    server_settings: dict[str, dict[str, object]] | None = None,
) -> None:
    if why := missing_plugin(site.cli.env.get("PATH", "")):
        pytest.skip(why)
    config: dict[str, object] = {
        "wayshub:commands": COMMANDS,
        "wayshub:domain": DOMAIN,
        "wayshub:app": SAMPLE_APP,
        "wayshub:hosts": {
            "provider": "sandbox",
            "appServers": [{"name": name, **(server_settings or {}).get(name, {})} for name in app_servers],
            "lbServer": {"name": "lb"},
            **(hosts_extra or {}),
        },
        "wayshub:sandbox": {
            "image": site.image,
            "network": f"wayshub-{SITE_STACK}",
            "subnet": SUBNET,
            "sshPortBase": SSH_PORT_BASE,
            "httpPort": HTTP_PORT,
            "httpsPort": HTTPS_PORT,
        },
        "wayshub:hostsFile": {"path": str(site.hosts_file), "address": "127.0.0.1"},
        **(extra or {}),
    }
    stacks = site.project / "stacks"
    stacks.mkdir(exist_ok=True)
    (stacks / f"Pulumi.{SITE_STACK}.yaml").write_text(stack_file_text(config))


def missing_plugin(path: str) -> str | None:
    """Why the site cannot run on :data:`COMMANDS` with this PATH (the pytest skip line), else None."""
    if COMMANDS == "pulumi-command" and not shutil.which("pulumi-resource-command", path=path):
        return (
            "WAYSHUB_E2E_COMMANDS=pulumi-command: no pulumi-resource-command on PATH "
            "(scripts/ensure-plugins builds it from ../shared/vendor; `make e2e` puts it on PATH)"
        )
    return None


@dataclass(frozen=True)
class Answer:
    status: int
    backend: str
    release: str


def get(
    path: str = "/", timeout: float = 5.0, *, address: str = "127.0.0.1", port: int = HTTP_PORT, domain: str = DOMAIN
) -> Answer:
    """One GET through the LB (by default the session site's, on 127.0.0.1) with the site's Host header (a
    fresh connection)."""
    conn = http.client.HTTPConnection(address, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Host": domain})
        response = conn.getresponse()
        response.read()
        return Answer(
            response.status,
            response.getheader("X-Wayshub-Backend", ""),
            response.getheader("X-Wayshub-Release", ""),
        )
    finally:
        conn.close()


class _LoopbackHttps(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1 while sending SNI and verifying the certificate for the site's domain."""

    def connect(self) -> None:
        sock = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def get_https(ca_pem: str, path: str = "/") -> tuple[int, dict[str, str]]:
    """One GET over HTTPS through the LB, trusting only ``ca_pem``; returns status and headers."""
    context = ssl.create_default_context(cadata=ca_pem)
    conn = _LoopbackHttps(DOMAIN, HTTPS_PORT, timeout=5.0, context=context)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()


def get_http_headers(path: str = "/", port: int = HTTP_PORT, domain: str = DOMAIN) -> tuple[int, dict[str, str]]:
    """One GET through an LB on 127.0.0.1 (this site's, unless told), with the domain's Host header."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5.0)
    try:
        conn.request("GET", path, headers={"Host": domain})
        response = conn.getresponse()
        response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()


def docker_names(*filters: str) -> list[str]:
    args = ["docker", "ps", "--all", "--format", "{{.Names}}", *[f"--filter={f}" for f in filters]]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout.split()
