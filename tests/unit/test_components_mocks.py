"""The hosts → app → LB graph against Pulumi mocks: inputs the engine receives, and secrets stay secret."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi

from components.app import NodeApp, NodeAppArgs, Release
from components.config import LoadBalancerConfig
from components.hosts import SandboxNetwork, SandboxNetworkArgs, SandboxVm, SandboxVmArgs
from components.load_balancer import NginxLoadBalancer, NginxLoadBalancerArgs
from tests.unit.pulumi_mocks import HOST_KEY, MOCKS, NODE_PATH, PRIVATE_KEY, pulumi_test

RELEASE = Release("abc123def456", Path(__file__))  # any existing file stands in for the tarball


def inputs(name: str) -> dict[str, Any]:
    assert name in MOCKS.registered, f"no resource named {name} was registered"
    return dict(MOCKS.registered[name].inputs)


def declare_vm(name: str, index: int, network: SandboxNetwork) -> SandboxVm:
    return SandboxVm(
        name,
        SandboxVmArgs(
            hostname=name,
            container_name=f"wayshub-test-{name}",
            image="wayshub/sandbox-vm:bookworm",
            network=network,
            private_address=f"172.30.99.{11 + index}",
            ssh_port=2300 + index,
            stack="test",
            published_ports=[(8080, 80)] if name == "lb" else [],
        ),
    )


@pulumi_test
def test_sandbox_vm_connection_pins_the_host_key_and_keeps_the_private_key_secret() -> pulumi.Output[None]:
    network = SandboxNetwork("net-a", SandboxNetworkArgs(network="wayshub-test", subnet="172.30.99.0/24", stack="test"))
    vm = declare_vm("vm-a", 0, network)

    def check(values: list[Any]) -> None:
        connection, is_secret = values
        assert is_secret, "the connection carries the private key: it must be secret"
        assert connection == {
            "host": "127.0.0.1",
            "port": 2300,
            "user": "wayshub",
            "private_key": PRIVATE_KEY,
            "host_key": HOST_KEY,
            "dial_timeout_seconds": 60.0,
            "gone_if": "! docker container inspect wayshub-test-vm-a >/dev/null 2>&1",
        }
        create = inputs("vm-a-container")["create"]
        assert "--ip 172.30.99.11" in create and "--publish 127.0.0.1:2300:22" in create
        assert "--privileged" not in create

    return pulumi.Output.all(vm.connection, pulumi.Output.is_secret(vm.connection)).apply(check)


@pulumi_test
def test_node_app_renders_unit_with_the_absolute_node_path_and_gates_on_health() -> pulumi.Output[None]:
    network = SandboxNetwork("net-b", SandboxNetworkArgs(network="wayshub-test", subnet="172.30.99.0/24", stack="test"))
    vm = declare_vm("app-b", 1, network)
    app = NodeApp("app-b-app", NodeAppArgs(host=vm.host, release=RELEASE, env={"GREETING": "hi; $(id)"}))

    def check(values: list[Any]) -> None:
        backend, unit = values[:2]
        assert backend == "172.30.99.12:3000"
        assert f"ExecStart={NODE_PATH} server.js" in unit.splitlines()
        assert inputs("app-b-app-unit")["stdin"] == unit
        assert inputs("app-b-app-env")["stdin"] == (
            "GREETING=hi; $(id)\nHOST=0.0.0.0\nNODE_ENV=production\nPORT=3000\n"
        )
        release = inputs("app-b-app-release")
        assert RELEASE.id in release["rerun_on"]
        assert "/health" in release["create"] and "unit=wayshub.service" in release["create"]
        assert 'journalctl -u "$unit"' in release["create"] and 'switch "$previous"' in release["create"]
        assert inputs("app-b-app-upload")["remote_path"] == f"/tmp/wayshub-{RELEASE.id}.tar.gz"
        assert "userdel wayshub" in inputs("app-b-app-base")["delete"]

    # Waiting on every child's stdout means each registration has reached the mocks.
    children = [app.unit, app.env_file, app.deploy, app.base]
    return pulumi.Output.all(
        app.backend, app.unit_text, app.upload.sha256 if app.upload else None, *[c.stdout for c in children]
    ).apply(check)


@pulumi_test
def test_load_balancer_site_lists_every_backend_sorted() -> pulumi.Output[None]:
    network = SandboxNetwork("net-c", SandboxNetworkArgs(network="wayshub-test", subnet="172.30.99.0/24", stack="test"))
    lb_vm = declare_vm("lb", 0, network)
    lb = NginxLoadBalancer(
        "lb-c",
        NginxLoadBalancerArgs(
            host=lb_vm.host,
            site_name="wayshub-test",
            domain="wayshub.test",
            backends=[pulumi.Output.from_input("172.30.99.12:3000"), "172.30.99.11:3000"],
            settings=LoadBalancerConfig(),
        ),
    )

    def check(values: list[Any]) -> None:
        text = values[0]
        servers = [line.strip() for line in text.splitlines() if line.strip().startswith("server 1")]
        assert servers == [
            "server 172.30.99.11:3000 max_fails=1 fail_timeout=3s;",
            "server 172.30.99.12:3000 max_fails=1 fail_timeout=3s;",
        ]
        site = inputs("lb-c-site")
        assert site["stdin"] == text
        assert "nginx -t" in site["create"] and "rm -f /etc/nginx/conf.d/wayshub-test.conf" in site["delete"]

    return pulumi.Output.all(lb.site_text, lb.site.stdout).apply(check)
