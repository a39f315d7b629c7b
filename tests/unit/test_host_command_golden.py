"""Golden tests of the command lines our steps send: for a representative stack, the exact text each
resource gets (the UPPER_CASE inputs, components/hosts/host/lib.sh, then the script file from a layer's
``host/`` folder), compared with tests/golden/commands/<resource>.<create|update|delete>.txt.

A change to a script, to lib.sh or to a script's inputs shows here as a diff. Such a change also makes
every existing stack re-run that step on its next ``up`` (an update of that Command): say so in the
commit. After checking the diff, write the new texts with

    WAYSHUB_UPDATE_GOLDEN=1 venv/bin/python -m pytest -q tests/unit/test_host_command_golden.py

The commands are read from what the engine receives (Pulumi mocks), except Node's ``binary`` install,
whose component would pack a Node tarball first: that one comes from the function the component calls.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.app import Build, NodeApp, NodeAppArgs, Release, read_app
from components.app.app_run import AppRun
from components.app.layout import node_upload
from components.app.node_install import NodeChoice, install_command
from components.config import AppConfig, HealthConfig, LoadBalancerConfig
from components.containers import ContainerSiteArgs
from components.containers.commands import Switch, capacity_command, site_command, switch_command
from components.containers.images import kept_refs, prune_command
from components.hosts import SandboxNetwork, SandboxNetworkArgs, SandboxVm, SandboxVmArgs
from components.load_balancer import BackendHealthCheck, BackendHealthCheckArgs, NginxLoadBalancer, TlsMaterial
from components.load_balancer.nginx import NginxLoadBalancerArgs
from tests.unit.pulumi_mocks import MOCKS, pulumi_test

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "golden" / "commands"
UPDATE = os.environ.get("WAYSHUB_UPDATE_GOLDEN") == "1"
PREFIX = "golden-"  # resource names under the mocks (unique in the test session); the files drop it

# (resource, command) pairs read from the mocks, by their name in the stack (without PREFIX).
FROM_RESOURCES = [
    ("lb-container", "create"),  # docker run, then the host-key wait (removes the VM on failure)
    ("lb-container", "update"),  # the host-key wait alone: a new text re-reads every VM's key, so a preview shows
    # every step on it replaced (the key is unknown until the update runs; e2e test_command_interface)
    ("lb-nginx", "create"),
    ("lb-nginx-capacity", "create"),
    ("lb-nginx-capacity", "delete"),
    ("lb-site", "create"),
    ("lb-site", "delete"),
    ("lb-tls-certificate", "create"),
    ("lb-tls-key", "create"),
    ("health-script", "create"),
    ("health-unit", "create"),
    ("health-service", "create"),
    ("health-service", "delete"),
    ("app1-app-base", "create"),
    ("app1-app-base", "delete"),
    ("app1-app-node", "create"),  # apt
    ("app1-nodesource-node", "create"),
    ("app1-nvm-node", "create"),
]
NODE_BINARY = "node-binary.create"
# Containers mode's local steps (components/containers/host/), from the functions the component calls.
CONTAINERS_SWITCH, CONTAINERS_SITE = "containers-app1-switch.create", "containers-site.create"
CONTAINERS_CAPACITY, CONTAINERS_PRUNE = "containers-nginx-capacity.create", "containers-prune-images.create"
CASES = [f"{name}.{op}" for name, op in FROM_RESOURCES] + [
    NODE_BINARY,
    CONTAINERS_SWITCH,
    CONTAINERS_SITE,
    CONTAINERS_CAPACITY,
    CONTAINERS_PRUNE,
]


def _vm(name: str, index: int, network: SandboxNetwork) -> SandboxVm:
    return SandboxVm(
        PREFIX + name,
        SandboxVmArgs(
            hostname=name,
            container_name=f"wayshub-local-{name}",
            image="wayshub/sandbox-vm:bookworm",
            network=network,
            private_address=f"172.30.77.{10 + index}",
            ssh_port=2220 + index,
            stack="local",
            published_ports=[(8080, 80), (8443, 443)] if name == "lb" else [],
        ),
    )


def _app(name: str, host: SandboxVm, node: NodeChoice) -> NodeApp:
    run = AppRun(app_name="wayshub", spec=read_app(AppConfig(), REPO / "app"), node=node)
    release = Release("abc123def456", Build("0123456789ab", Path(__file__)))
    return NodeApp(PREFIX + name, NodeAppArgs(host=host.host, run=run, release=release))


def _declare(found: dict[str, str]) -> pulumi.Output[None]:
    network = SandboxNetwork(
        PREFIX + "net", SandboxNetworkArgs(network="wayshub-local", subnet="172.30.77.0/24", stack="local")
    )
    lb_vm, app_vm = _vm("lb", 0, network), _vm("app1", 1, network)
    backends = ["172.30.77.11:3000", "172.30.77.12:3000"]
    lb = NginxLoadBalancer(
        PREFIX + "lb",
        NginxLoadBalancerArgs(
            host=lb_vm.host,
            site_name="wayshub-local",
            domain="wayshub.localhost",
            backends=backends,
            settings=LoadBalancerConfig(),
            tls=TlsMaterial(certificate="mock certificate", private_key="mock key"),
            public_https_port=8443,
        ),
    )
    health = BackendHealthCheck(
        PREFIX + "health",
        BackendHealthCheckArgs(
            host=lb_vm.host,
            site_name="wayshub-local",
            backends=backends,
            settings=LoadBalancerConfig(),
            health=HealthConfig(),
            site=lb.site,
        ),
    )
    apps = [
        _app("app1-app", app_vm, NodeChoice("apt", "20")),
        _app("app1-nodesource", app_vm, NodeChoice("nodesource", "22")),
        _app("app1-nvm", app_vm, NodeChoice("nvm", "22.11.0")),
    ]

    def collect(_: list[Any]) -> None:
        for name, op in FROM_RESOURCES:
            found[f"{name}.{op}"] = MOCKS.registered[PREFIX + name].inputs[op]

    done = [lb_vm.container.stdout, lb.site.stdout, health.service.stdout, *(a.deploy.stdout for a in apps)]
    return pulumi.Output.all(*done).apply(collect)


@pytest.fixture(scope="module")
def commands() -> dict[str, str]:
    found: dict[str, str] = {}
    pulumi_test(lambda: _declare(found))()
    found[NODE_BINARY] = install_command(
        NodeChoice("binary", "22.11.0"), app_name="wayshub", upload=node_upload("wayshub", "22.11.0")
    )
    site = ContainerSiteArgs(stack="containers", domain="containers.wayshub.localhost", app_servers=["app1", "app2"],
                             app_source=REPO / "app")  # fmt: skip
    switch = Switch("app1", "wayshub-containers-app1-b", "b", "0123456789ab", "abc123def456", "fedcba987654")
    found[CONTAINERS_SWITCH] = switch_command(site, switch)
    found[CONTAINERS_SITE] = site_command(site)
    found[CONTAINERS_CAPACITY] = capacity_command(site)
    found[CONTAINERS_PRUNE] = prune_command(
        site, kept_refs(site, ["wayshub/app:abc123def456", "wayshub/app:fedcba987654"])
    )
    return found


@pytest.mark.parametrize("case", CASES)
def test_the_command_line_is_the_checked_in_text(case: str, commands: dict[str, str]) -> None:
    path = GOLDEN / f"{case}.txt"
    actual = commands[case] + "\n"
    if UPDATE:
        path.write_text(actual)
    assert path.is_file(), f"no {path.relative_to(REPO)}: write it with WAYSHUB_UPDATE_GOLDEN=1 (see the docstring)"
    expected = path.read_text()
    diff = "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True), "checked in", "now"))
    assert actual == expected, f"{case} changed (re-runs that step on existing stacks):\n{diff}"


def test_every_golden_file_is_a_case() -> None:
    stale = sorted({path.name.removesuffix(".txt") for path in GOLDEN.glob("*.txt")} - set(CASES))
    assert not stale, f"golden files no test reads: {stale}"
