"""The hosts → app → LB graph against Pulumi mocks: inputs the engine receives, and secrets stay secret."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.app import Build, NodeApp, NodeAppArgs, Release, read_app
from components.app.app_run import AppRun
from components.app.host_steps import deploy_command, deploy_inputs, teardown_command
from components.app.node_install import NodeChoice
from components.config import AppConfig, LoadBalancerConfig
from components.hosts import SandboxNetwork, SandboxNetworkArgs, SandboxVm, SandboxVmArgs
from components.load_balancer import NginxLoadBalancer, NginxLoadBalancerArgs
from components.shell.uploads import upload_dir_command
from tests.unit.pulumi_mocks import HOST_KEY, MOCKS, NODE_PATH, PRIVATE_KEY, pulumi_test

REPO = Path(__file__).resolve().parents[2]
BUILD = Build("0123456789ab", Path(__file__))  # any existing file stands in for the tarball
RELEASE = Release("abc123def456", BUILD)


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
            "user": "deploy",
            "private_key": PRIVATE_KEY,
            "host_key": HOST_KEY,
            "dial_timeout_seconds": 60.0,
            "gone_if": "! docker container inspect wayshub-test-vm-a >/dev/null 2>&1",
        }
        create = inputs("vm-a-container")["create"]
        assert "--ip 172.30.99.11" in create and "--publish 127.0.0.1:2300:22" in create
        assert "--privileged" not in create
        # The VM makes its login user (the sudoer) at first boot: never the app's user `wayshub`.
        assert "--env WAYSHUB_LOGIN_USER=deploy" in create
        # Least privilege for systemd (issue 28 item 10): its own cgroup namespace, no host cgroup tree.
        assert "--cgroupns private" in create and "/sys/fs/cgroup" not in create and "--cgroupns host" not in create
        assert "--cap-drop NET_RAW --cap-drop MKNOD" in create

    connection = vm.connection.builtin()
    return pulumi.Output.all(connection, pulumi.Output.is_secret(connection)).apply(check)


def sample_run(**changes: Any) -> AppRun:
    spec = read_app(AppConfig(), REPO / "app")
    return AppRun(app_name="wayshub", spec=spec, node=NodeChoice("apt"), env={"GREETING": "hi; $(id)"}, **changes)


@pulumi_test
def test_node_app_deploys_a_release_that_carries_its_command_env_node_and_unit() -> pulumi.Output[None]:
    network = SandboxNetwork("net-b", SandboxNetworkArgs(network="wayshub-test", subnet="172.30.99.0/24", stack="test"))
    vm = declare_vm("app-b", 1, network)
    run = sample_run(port_names=("PORT", "APP_PORT"))
    app = NodeApp("app-b-app", NodeAppArgs(host=vm.host, run=run, release=RELEASE))

    def check(values: list[Any]) -> None:
        backend = values[0]
        assert backend == "172.30.99.12:3000"
        release = inputs("app-b-app-release")
        # The env file goes by stdin into the new release folder: port variables and env.
        assert release["stdin"] == ('APP_PORT=3000\nGREETING="hi; \\$(id)"\nNODE_ENV=production\nPORT=3000\n')
        assert RELEASE.id in release["rerun_on"]
        expected = deploy_inputs(run, RELEASE, NODE_PATH, releases_kept=3, settle_seconds=0)
        assert release["create"] == deploy_command(expected)
        assert expected["UNIT_TEXT"] == run.unit_text() and expected["START_TEXT"] == run.start_text()
        assert "ExecStart=/opt/wayshub/current/start" in run.unit_text().splitlines()
        assert "EnvironmentFile=/opt/wayshub/current/env" in run.unit_text().splitlines()
        assert run.start_text().splitlines()[-1] == "exec node server.js"
        assert inputs("app-b-app-upload")["remote_path"] == f"/var/lib/wayshub-uploads/wayshub-code/{BUILD.id}.tar.gz"
        assert inputs("app-b-app-upload-dir")["create"] == upload_dir_command("wayshub-code")
        teardown = inputs("app-b-app-base")["delete"]
        assert teardown == teardown_command("wayshub")
        assert "APP=wayshub\n" in teardown and 'userdel "$APP"' in teardown
        # The unit is not a resource of its own: a host whose turn has not come keeps its unit.
        assert "app-b-app-unit" not in MOCKS.registered and "app-b-app-env" not in MOCKS.registered

    children = [app.node, app.deploy, app.base]
    return pulumi.Output.all(app.backend, *[c.stdout for c in children]).apply(check)


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
        assert "nginx -t" in site["create"] and 'rm -f "$LIVE"' in site["delete"]
        assert "LIVE=/etc/nginx/conf.d/wayshub-test.conf\n" in site["delete"]

    return pulumi.Output.all(lb.site_text, lb.site.stdout).apply(check)


@pulumi_test
def test_an_ipv6_private_address_is_bracketed_in_the_backend_and_the_lb_address() -> pulumi.Output[None]:
    """nginx reads `server fd00::12:3000` as a host named by the whole text; curl and ss need brackets too."""
    network = SandboxNetwork(
        "net-v6", SandboxNetworkArgs(network="wayshub-test", subnet="172.30.99.0/24", stack="test")
    )
    app_host = dataclasses.replace(
        declare_vm("app-v6", 1, network).host, private_address=pulumi.Output.from_input("fd00::12")
    )
    lb_host = dataclasses.replace(
        declare_vm("lb-v6", 0, network).host, private_address=pulumi.Output.from_input("fd00::11")
    )
    app = NodeApp("app-v6-app", NodeAppArgs(host=app_host, run=sample_run(), release=RELEASE))
    lb = NginxLoadBalancer(
        "lb-v6",
        NginxLoadBalancerArgs(
            host=lb_host,
            site_name="wayshub-test",
            domain="wayshub.test",
            backends=[app.backend],
            settings=LoadBalancerConfig(),
        ),
    )

    def check(values: list[Any]) -> None:
        backend, address, text = values
        assert backend == "[fd00::12]:3000"
        assert address == "[fd00::11]:80"
        assert "server [fd00::12]:3000 max_fails=1 fail_timeout=3s;" in [line.strip() for line in text.splitlines()]

    return pulumi.Output.all(app.backend, lb.address, lb.site_text).apply(check)


@pytest.mark.parametrize("harden", [True, False])
def test_the_nginx_drop_in_is_a_step_only_when_hardening_and_comes_before_the_site(harden: bool) -> None:
    name = f"lb-h{int(harden)}"

    @pulumi_test
    def declare() -> pulumi.Output[None]:
        network = SandboxNetwork(
            f"net-{name}", SandboxNetworkArgs(network="wayshub-test", subnet="172.30.99.0/24", stack="test")
        )
        lb = NginxLoadBalancer(
            name,
            NginxLoadBalancerArgs(
                host=declare_vm("lb", 0, network).host,
                site_name="wayshub-test",
                domain="wayshub.test",
                backends=["172.30.99.11:3000"],
                settings=LoadBalancerConfig(),
                harden=harden,
            ),
        )
        return lb.site.stdout.apply(lambda _: None)

    declare()
    assert (f"{name}-nginx-sandbox" in MOCKS.registered) is harden
    assert f"{name}-site" in MOCKS.registered
