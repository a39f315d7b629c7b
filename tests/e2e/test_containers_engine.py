"""``pulumi up`` of a ``containers`` stack with the real engine and the pulumi-docker provider plugin.

Runs only where a docker resource plugin is available to the engine (``pulumi plugin ls --json`` in the
Pulumi home the Makefile or the user uses, or an ambient ``pulumi-resource-docker`` on PATH); elsewhere it
is skipped with the reason. The plugin cannot be built or downloaded on our build machines, so there the
containers mode is proven by the mock tests (tests/unit/test_containers_mocks.py) and the docker CLI test
(tests/e2e/test_containers_docker.py).
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e import slots
from tests.e2e.pulumi_cli import REPO, PulumiCli, copy_program, engine_env
from tests.e2e.test_containers_docker import DOMAIN, choose_base, docker, free_port

pytestmark = pytest.mark.e2e

STACK = f"{slots.CONTAINERS_STACK}-engine"
NETWORK = f"wayshub-{STACK}-net"
SUBNET = f"{slots.CONTAINERS_SUBNET_PREFIX}.0/24"
PLUGIN = "docker"


def _pulumi_homes() -> list[Path]:
    """Where plugins may be installed: $PULUMI_HOME, the Makefile's .wayshub/pulumi-home, ~/.pulumi."""
    candidates = [os.environ.get("PULUMI_HOME"), str(REPO / ".wayshub" / "pulumi-home"), str(Path.home() / ".pulumi")]
    homes: list[Path] = []
    for candidate in candidates:
        if candidate and Path(candidate).is_dir() and Path(candidate) not in homes:
            homes.append(Path(candidate))
    return homes


@dataclass(frozen=True)
class Plugin:
    home: Path | None
    description: str


def find_docker_plugin(state_dir: Path) -> Plugin | str:
    """The docker resource plugin the engine would load, or why there is none (the skip reason)."""
    homes = _pulumi_homes()
    searched: list[str] = []
    for home in homes or [state_dir / "empty-home"]:
        try:
            env = engine_env(state_dir, home)
        except subprocess.CalledProcessError as err:
            return f"no Pulumi engine (scripts/ensure-pulumi failed: {(err.stderr or '').strip()[-300:]})"
        ambient = shutil.which(f"pulumi-resource-{PLUGIN}", path=env["PATH"])
        if ambient:
            return Plugin(None, f"ambient {ambient}")
        listed = subprocess.run(
            ["pulumi", "plugin", "ls", "--json"], env=env, capture_output=True, text=True, timeout=120, check=False
        )
        if listed.returncode != 0:
            return f"`pulumi plugin ls --json` failed: {listed.stderr.strip()[-300:]}"
        plugins: list[dict[str, Any]] = json.loads(listed.stdout or "[]") or []
        found = [p for p in plugins if p.get("name") == PLUGIN and p.get("kind") == "resource"]
        if found:
            return Plugin(home, f"resource {PLUGIN} {found[0].get('version')} in {home}")
        searched.append(str(home))
    return (
        f"no pulumi-docker resource plugin for the engine (searched `pulumi plugin ls --json` in "
        f"{', '.join(searched)}, and PATH for pulumi-resource-{PLUGIN}); it cannot be built or downloaded here. "
        f"Install it with `pulumi plugin install resource {PLUGIN} {version('pulumi_docker')}`. "
        "Containers mode is covered by tests/unit/test_containers_mocks.py and tests/e2e/test_containers_docker.py."
    )


def program_supports_containers() -> str | None:
    """None when the program accepts ``hosts.provider: containers``, else why not (a skip reason)."""
    from components import config as stack_config

    if "containers" not in stack_config.KEYS:
        return "components/config/ has no `containers` section yet: the program cannot deploy containers mode"
    if "ContainerSite" not in (REPO / "__main__.py").read_text():
        return "__main__.py does not declare ContainerSite yet"
    return None


@dataclass(frozen=True)
class Deployed:
    cli: PulumiCli
    port: int


def leftovers() -> list[str]:
    return docker(
        "ps", "--all", "--format", "{{.Names}}", "--filter", f"label=wayshub.stack={STACK}", check=False
    ).split()


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    root = tmp_path_factory.mktemp("containers-engine")
    plugin = find_docker_plugin(root / "probe-state")
    if isinstance(plugin, str):
        pytest.skip(plugin)
    reason = program_supports_containers()
    if reason:
        pytest.skip(reason)
    subprocess.run([str(REPO / "scripts" / "ensure-docker")], check=True, capture_output=True)
    project = root / "project"
    copy_program(project)
    hosts_file = root / "hosts"
    hosts_file.write_text("127.0.0.1\tlocalhost\n")
    home = plugin.home or root / "home"
    cli = PulumiCli(project, engine_env(root / "state", home))
    port = free_port()
    app_base, nginx_base = choose_base("node:20-bookworm-slim"), choose_base("nginx:1.27")
    config = {
        "wayshub:domain": DOMAIN,
        "wayshub:hosts": {
            "provider": "containers",
            "appServers": [{"name": "app1"}, {"name": "app2"}],
            "lbServer": {"name": "lb"},
        },
        "wayshub:containers": {
            "appImage": f"wayshub-{STACK}/app",
            "nginxImage": f"wayshub-{STACK}/nginx",
            "appBase": app_base,
            "nginxBase": nginx_base,
            "network": NETWORK,
            "subnet": SUBNET,
            "httpPort": port,
            "bindAddress": "127.0.0.1",
            # The build cannot reach an npm registry where the base is the Debian one.
            "prefetchNpm": app_base != "node:20-bookworm-slim",
        },
        "wayshub:hostsFile": {"path": str(hosts_file), "address": "127.0.0.1"},
    }
    (project / "stacks").mkdir()
    (project / "stacks" / f"Pulumi.{STACK}.yaml").write_text(yaml.safe_dump({"config": config}, sort_keys=True))
    cli.init_stack(STACK)
    try:
        cli.up()
        yield Deployed(cli, port)
    finally:
        cli.destroy(check=False)
        names = leftovers()
        if names:
            docker("rm", "--force", *names, check=False)
        docker("network", "rm", NETWORK, check=False)
        cli.remove_stack(force=True, check=False)


def test_up_serves_both_backends_through_nginx(deployed: Deployed) -> None:
    deadline, seen = time.monotonic() + 60, set[str]()
    while time.monotonic() < deadline and seen != {"app1", "app2"}:
        conn = http.client.HTTPConnection("127.0.0.1", deployed.port, timeout=5)
        try:
            conn.request("GET", "/", headers={"Host": DOMAIN})
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                seen.add(response.getheader("X-Wayshub-Backend") or "")
        except OSError:
            time.sleep(0.5)
        finally:
            conn.close()
    assert seen == {"app1", "app2"}
    outputs = deployed.cli.outputs()
    assert outputs["url"] == f"http://{DOMAIN}:{deployed.port}/"
    assert outputs["backends"] == [f"wayshub-{STACK}-app1:3000", f"wayshub-{STACK}-app2:3000"]


def test_a_second_up_changes_nothing(deployed: Deployed) -> None:
    changes = deployed.cli.up_summary()
    assert set(changes) == {"same"}, changes


def test_nginx_config_passes_nginx_t(deployed: Deployed) -> None:
    result = subprocess.run(
        ["docker", "exec", f"wayshub-{STACK}-lb", "nginx", "-t"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
