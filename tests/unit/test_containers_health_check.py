"""The LB's active health check in containers mode (components/containers/health_check.py): the checker
container's spec, what the engine receives for it, its docker CLI flags, and its healthcheck script run for
real. What it does under load on a real engine: tests/e2e/test_containers_engine.py."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
from typing import Any

import pulumi

from components.config import AppConfig, HealthConfig, LoadBalancerConfig
from components.containers import ContainerSite
from components.containers.health_check import NETNS_CHECK, lb_health_spec
from components.containers.spec import first_slots
from components.load_balancer.health_check import SCRIPT_SOURCE
from tests.docker_cli import docker_create_argv
from tests.unit.pulumi_mocks import MOCKS, pulumi_test
from tests.unit.test_containers_mocks import REQUESTS, dependencies, inputs, site_args

CHECKER = ("bash", "-c", SCRIPT_SOURCE.read_text(), "backend-health")
NETNS = ("CMD", "bash", "-c", NETNS_CHECK.read_text(), "lb-health-netns")
TUNED = LoadBalancerConfig.model_validate(
    {"healthCheck": {"interval": "500ms", "timeout": "1s", "fall": 3, "rise": 1}, "listenPort": 8080}
)


def test_the_checker_probes_each_servers_serving_slot_with_the_stacks_settings() -> None:
    health = HealthConfig(path="/healthz", expectStatus="200-204")
    args = site_args("hc", lb=TUNED, app=AppConfig(health=health))
    spec = lb_health_spec(args, {"app1": "b", "app2": "a"})
    assert spec is not None
    assert spec.env == {
        "BACKENDS": "172.31.99.12:3000 172.31.99.133:3000",  # app2 in a, app1 in b; sorted
        "HEALTH_PATH": "/healthz",
        "STATUS_MIN": "200",
        "STATUS_MAX": "204",
        "INTERVAL": "0.5",
        "TIMEOUT": "1",
        "FALL": "3",
        "RISE": "1",
    }
    assert spec.healthcheck.test == (*NETNS, "8080", "1"), "nginx's port in its container, and the checker's pid"


def test_the_checker_is_the_vm_paths_script_in_nginxs_namespace_with_net_admin_only() -> None:
    args = site_args("hd")
    spec = lb_health_spec(args, first_slots(args))
    assert spec is not None
    assert spec.env["BACKENDS"] == "172.31.99.11:3000 172.31.99.12:3000"
    assert (spec.env["HEALTH_PATH"], spec.env["STATUS_MIN"], spec.env["STATUS_MAX"]) == ("/", "200", "399")
    assert (spec.env["INTERVAL"], spec.env["TIMEOUT"], spec.env["FALL"], spec.env["RISE"]) == ("0.25", "0.75", "2", "2")
    assert spec.command == CHECKER
    assert (spec.name, spec.network_of, spec.hostname, spec.ipv4_address) == (
        "wayshub-hd-lb-health",
        "wayshub-hd-lb",
        "",
        "",
    )
    assert (spec.cap_drop, spec.cap_add) == (("ALL",), ("NET_ADMIN",))
    assert spec.read_only and spec.tmpfs == {"/tmp": "rw,noexec,nosuid,size=1m"}
    assert spec.security_opts == ("no-new-privileges:true",) and spec.restart == "unless-stopped"
    assert spec.stop_signal == "SIGTERM", "the nginx image's SIGQUIT would leave bash waiting out the stop timeout"
    assert spec.published == () and spec.pinned_hosts == () and spec.uploads == ()
    assert spec.labels == {"wayshub.stack": "hd", "wayshub.role": "lb-health"}


def test_no_checker_when_the_health_check_is_off() -> None:
    args = site_args("he", lb=LoadBalancerConfig.model_validate({"healthCheck": {"enabled": False}}))
    assert lb_health_spec(args, first_slots(args)) is None


def test_docker_cli_flags_of_the_checker() -> None:
    args = site_args("hf")
    spec = lb_health_spec(args, first_slots(args))
    assert spec is not None
    env = [flag for k in sorted(spec.env) for flag in ("--env", f"{k}={spec.env[k]}")]
    assert docker_create_argv(spec, "wayshub-hf", "wayshub/nginx:x") == [
        "docker", "create", "--name", "wayshub-hf-lb-health", "--network", "container:wayshub-hf-lb",
        "--restart", "unless-stopped", "--stop-timeout", "10", "--stop-signal", "SIGTERM",
        "--label", "wayshub.role=lb-health", "--label", "wayshub.stack=hf", *env,
        "--read-only", "--tmpfs", "/tmp:rw,noexec,nosuid,size=1m", "--cap-drop", "ALL", "--cap-add", "NET_ADMIN",
        "--security-opt", "no-new-privileges:true",
        "--health-cmd", f"bash -c {shlex.quote(NETNS_CHECK.read_text())} lb-health-netns 80 1",
        "--health-interval", "3s", "--health-timeout", "5s", "--health-start-period", "10s", "--health-retries", "3",
        "wayshub/nginx:x", *CHECKER,
    ]  # fmt: skip


@pulumi_test
def test_the_engine_gets_the_checker_in_nginxs_namespace_after_the_site() -> pulumi.Output[None]:
    site = ContainerSite("cs-hc", site_args("hg"))
    assert site.lb_health is not None

    def check(values: list[Any]) -> None:
        nginx_image = values[0]
        checker = inputs("cs-hc-lb-health")
        assert checker["name"] == "wayshub-hg-lb-health" and checker["image"] == nginx_image
        assert checker["networkMode"] == "container:cs-hc-lb-id", "nginx's id: a new nginx makes a new checker"
        assert "networksAdvanced" not in checker and "hostname" not in checker
        assert checker.get("hosts", []) == [] and checker.get("ports", []) == [] and checker.get("uploads", []) == []
        assert checker["command"] == list(CHECKER)
        assert checker["envs"] == [
            "BACKENDS=172.31.99.11:3000 172.31.99.12:3000",
            "FALL=2",
            "HEALTH_PATH=/",
            "INTERVAL=0.25",
            "RISE=2",
            "STATUS_MAX=399",
            "STATUS_MIN=200",
            "TIMEOUT=0.75",
        ]
        assert checker["capabilities"] == {"drops": ["ALL"], "adds": ["NET_ADMIN"]}
        assert checker["readOnly"] is True and checker["stopSignal"] == "SIGTERM"
        assert checker["restart"] == "unless-stopped" and checker["mustRun"] is True
        assert checker["wait"] is True, "the `up` waits until it sits in nginx's namespace (its healthcheck)"
        assert checker["healthcheck"]["tests"] == [*NETNS, "80", "1"]
        # After the site, which comes after every switch: its slots are the ones serving then.
        assert {"cs-hc-lb", "cs-hc-site", "cs-hc-network"} <= dependencies("cs-hc-lb-health")
        assert REQUESTS["cs-hc-lb-health"].deleteBeforeReplace, "a fixed name"

    return pulumi.Output.all(site.nginx_image.image_name, site.lb_health.id).apply(check)


@pulumi_test
def test_no_checker_container_when_the_health_check_is_off() -> pulumi.Output[None]:
    off = LoadBalancerConfig.model_validate({"healthCheck": {"enabled": False}})
    site = ContainerSite("cs-hd", site_args("hh", lb=off))
    assert site.lb_health is None

    def check(_: Any) -> None:
        assert not [name for name in MOCKS.registered if name.startswith("cs-hd-") and "health" in name]

    return site.site.id.apply(check)


def netns_check(port: int, pid: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", NETNS_CHECK.read_text(), "lb-health-netns", str(port), str(pid)],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
        env={**os.environ, "LC_ALL": "C"},
    )


def test_the_healthcheck_leaves_the_checker_while_nginxs_port_listens_here() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        checker = subprocess.Popen(["sleep", "60"])
        try:
            result = netns_check(listener.getsockname()[1], checker.pid)
            assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
            assert checker.poll() is None
        finally:
            checker.kill()
            checker.wait()


def test_the_healthcheck_ends_the_checker_in_a_namespace_where_nothing_listens_on_nginxs_port() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))  # bound, not listening: a port nothing listens on
        port = unused.getsockname()[1]
        checker = subprocess.Popen(["sleep", "60"])
        try:
            result = netns_check(port, checker.pid)
            assert result.returncode == 1
            assert result.stdout == (
                f"nothing listens on port {port} here: not nginx's network namespace (nginx restarted); "
                "restarting the checker\n"
            )
            assert checker.wait(timeout=10) == -15, "ended with TERM (the checker exits on it)"
        finally:
            if checker.poll() is None:
                checker.kill()
                checker.wait()
