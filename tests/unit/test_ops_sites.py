"""ops/ with wayshub:sites: each site's hosts, release, upstream and checker from a synthetic exported state,
SITE= selecting one, and a stack without sites reporting exactly as before."""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from components import config as stack_config
from components.load_balancer.health_check import Paths, start_command
from components.shell.ssh import CommandResult
from ops import cli
from ops import status as status_module
from ops.fanout import HostResult
from ops.logs import logs_command
from ops.shell import SITE_SHELL, in_site
from ops.stack import OpsHost, PulumiStack, StackError, StackView, view_of
from ops.status import address_problem, status, status_command, targets
from tests.unit.test_ops import APP_OK, KEEPALIVED, LB_OK, PROJECT, connection, deployment, failover_view, secret, view

PROJECT_DIR = Path("/nowhere")
COMMAND = "pulumi-python:dynamic/wayshub:RemoteCommand"
LB = "wayshub:load_balancer:NginxLoadBalancer"
SITE_URN = f"{PROJECT}wayshub:load_balancer:SiteOnLbs::shop-site"
SHOP_LB = f"{PROJECT}wayshub:load_balancer:SiteOnLbs$wayshub:load_balancer:NginxLoadBalancer::shop-lb"
SHOP_HEALTH = f"{PROJECT}wayshub:load_balancer:SiteOnLbs$wayshub:load_balancer:BackendHealthCheck::shop-lb-health"
SHOP_APP = f"{PROJECT}wayshub:app:NodeApp::shop-app2-app"


def sites_deployment() -> dict[str, Any]:
    """The stack's own site (deployment() of test_ops: no checker) and site `shop` on app2 with its checker."""
    state = deployment()
    shop_site = "upstream wayshub_s_shop {\n    server 10.0.0.12:3001;\n}\n"
    state["resources"] += [
        {"urn": SHOP_APP, "type": "wayshub:app:NodeApp", "outputs": {}},
        {"urn": "x::shop-app2-app-base", "type": COMMAND, "parent": SHOP_APP,
         "inputs": {"connection": secret(connection(2202))}},
        {"urn": SITE_URN, "type": "wayshub:load_balancer:SiteOnLbs", "outputs": {}},
        {"urn": SHOP_LB, "type": LB, "parent": SITE_URN, "outputs": {"site": shop_site}},
        {"urn": "x::shop-lb-site", "type": COMMAND, "parent": SHOP_LB,
         "inputs": {"connection": secret(connection(2200)), "create": "mv x /etc/nginx/conf.d/wayshub-s-shop.conf"}},
        {"urn": SHOP_HEALTH, "type": "wayshub:load_balancer:BackendHealthCheck", "parent": SITE_URN, "outputs": {}},
        {"urn": "x::shop-lb-health-service", "type": COMMAND, "parent": SHOP_HEALTH,
         "inputs": {"connection": secret(connection(2200)), "create": start_command(Paths.of("wayshub-s-shop"))}},
    ]  # fmt: skip
    return state


def sites_settings() -> stack_config.StackConfig:
    return stack_config.parse(
        {
            "domain": "wayshub.test",
            "hosts": {
                "provider": "sandbox",
                "appServers": [{"name": "app1"}, {"name": "app2"}],
                "lbServer": {"name": "lb"},
            },
            "sites": [
                {"name": "shop", "domain": "shop.test", "servers": ["app2"], "tls": "off", "app": {"port": 3001}}
            ],
        }
    )


OUTPUTS = {
    "release": "r1",
    "backends": ["10.0.0.11:3000", "10.0.0.12:3000"],
    "sites": {"shop": {"release": "r2", "backends": ["10.0.0.12:3001"]}},
}


def sites_view() -> StackView:
    return view_of("s", sites_deployment(), OUTPUTS, sites_settings())


def test_each_site_has_its_app_release_upstream_file_and_checker_from_the_state() -> None:
    v = sites_view()
    assert [(h.name, h.role) for h in v.hosts] == [("app1", "app"), ("app2", "app"), ("lb", "lb")]
    assert v.several
    own, shop = v.sites
    assert (own.name, own.app.name, own.servers, own.release, own.site_name, own.upstream, own.health_unit) == (
        "wayshub.test", "wayshub", ("app1", "app2"), "r1", "wayshub-s", "wayshub_s", False,
    )  # fmt: skip
    assert (shop.name, shop.app.name, shop.servers, shop.release, shop.backends) == (
        "shop", "shop", ("app2",), "r2", ["10.0.0.12:3001"],
    )  # fmt: skip
    assert (shop.site_name, shop.upstream, shop.health_unit) == ("wayshub-s-shop", "wayshub_s_shop", True)


def test_a_server_that_runs_only_a_sites_app_is_still_found() -> None:
    state = sites_deployment()
    state["resources"] = [r for r in state["resources"] if not r["urn"].endswith(("::app2-app", "::app2-app-base"))]
    assert [h.name for h in view_of("s", state, OUTPUTS, sites_settings()).hosts] == ["app1", "app2", "lb"]


def test_site_selects_its_app_servers_and_the_lbs() -> None:
    v = sites_view().only("shop")
    assert [h.name for h in v.hosts] == ["app2", "lb"]
    assert [s.name for s in v.sites] == ["shop"] and v.several
    assert [h.name for h in sites_view().only("wayshub.test").hosts] == ["app1", "app2", "lb"]
    with pytest.raises(StackError, match=r"^no host 'app1' in site shop of stack s \(hosts: app2, lb\)$"):
        v.host("app1")


def test_an_unknown_site_is_one_line_naming_the_sites(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(PulumiStack, "read", lambda self: sites_view())
    assert cli.main(["--stack", "s", "--site", "nope", "status"]) == 2
    assert capsys.readouterr().err == "ops: no site 'nope' in stack s (sites: wayshub.test, shop)\n"


def test_each_host_is_asked_about_each_site_it_has_a_part_in() -> None:
    v = sites_view()
    assert [(h.name, s.name) for h, s in targets(v)] == [
        ("app1", "wayshub.test"), ("app2", "wayshub.test"), ("app2", "shop"), ("lb", "wayshub.test"), ("lb", "shop"),
    ]  # fmt: skip
    app2, lb = v.hosts[1], v.hosts[2]
    app = shlex.split(status_command(v, app2, v.sites[1]))[4]
    assert "\nAPP=shop\n" in app and "\nPORT=3001\n" in app
    on_lb = shlex.split(status_command(v, lb, v.sites[1]))[4]
    assert "\nSITE_FILE=/etc/nginx/conf.d/wayshub-s-shop.conf\n" in on_lb
    assert "\nUPSTREAM=wayshub_s_shop\n" in on_lb
    assert "\nHEALTH_UNIT=wayshub-s-shop-backend-health.service\n" in on_lb
    assert "\nHEALTH_UNIT=''\n" in shlex.split(status_command(v, lb, v.sites[0]))[4]  # the own site has none


def fake_hosts(facts: dict[tuple[str, str], str]) -> Any:
    """run_commands answering each command with ``facts[(host, its APP)]`` (an LB: its UPSTREAM)."""

    def run(commands: Sequence[tuple[OpsHost, str]], timeout: float = 0) -> list[HostResult]:
        results = []
        for host, command in commands:
            name = "APP" if host.role == "app" else "UPSTREAM"
            value = re.search(rf"^{name}=(\S*)$", shlex.split(command)[4], re.MULTILINE)
            assert value is not None
            results.append(HostResult(host, CommandResult(0, facts[(host.name, value.group(1))], "")))
        return results

    return run


SITE_FACTS = {
    ("app1", "wayshub"): APP_OK,
    ("app2", "wayshub"): APP_OK,
    ("app2", "shop"): APP_OK.replace("release=r1", "release=r2"),
    ("lb", "wayshub_s"): LB_OK.replace("\nhealth_unit=active", ""),
    ("lb", "wayshub_s_shop"): LB_OK.replace("upstream=10.0.0.12:3000,10.0.0.11:3000", "upstream=10.0.0.12:3001"),
}


def test_status_without_site_covers_every_site(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(status_module, "run_commands", fake_hosts(SITE_FACTS))
    monkeypatch.setattr("ops.status.time.time", lambda: 160.0)
    rows, text = status(sites_view())
    assert all(r.ok for r in rows)
    assert text.splitlines() == [
        "HOST  ROLE  SITE          SSH  RELEASE  UNIT          SINCE   RESTARTS  HEALTH        NODE     DISK",
        "app1  app   wayshub.test  ok   r1       active        1m ago  0         ok 12ms       v22.1.0  2.0G free (40% used)",
        "app2  app   wayshub.test  ok   r1       active        1m ago  0         ok 12ms       v22.1.0  2.0G free (40% used)",
        "app2  app   shop          ok   r2       active        1m ago  0         ok 12ms       v22.1.0  2.0G free (40% used)",
        "lb    lb    wayshub.test  ok   -        nginx active  1m ago  -         upstream 2/2  -        -",
        "lb    lb    shop          ok   -        nginx active  1m ago  -         upstream 1/1  -        -",
        "stack s: every host is as the stack says (releases: wayshub.test r1, shop r2)",
    ]


def test_a_site_not_as_the_stack_says_is_named_with_its_host(monkeypatch: pytest.MonkeyPatch) -> None:
    facts = {**SITE_FACTS, ("app2", "shop"): APP_OK.replace("unit_state=active", "unit_state=failed")}
    monkeypatch.setattr(status_module, "run_commands", fake_hosts(facts))
    rows, text = status(sites_view())
    assert [(r.host, r.site) for r in rows if not r.ok] == [("app2", "shop")]
    assert text.splitlines()[-3:] == [
        "app2 (shop): runs release r1, the stack's is r2",
        "app2 (shop): shop.service is failed",
        "stack s: NOT as the stack says on app2 (shop)",
    ]
    rows, text = status(sites_view().only("shop"))
    assert [(r.host, r.site) for r in rows] == [("app2", "shop"), ("lb", "shop")]
    assert text.splitlines()[-1] == "stack s: NOT as the stack says on app2 (shop)"


def test_a_stack_without_sites_reports_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(status_module, "run_commands", fake_hosts(SITE_FACTS))
    monkeypatch.setattr("ops.status.time.time", lambda: 160.0)
    _, text = status(view())
    assert text.splitlines() == [
        "HOST  ROLE  SSH  RELEASE  UNIT          SINCE   RESTARTS  HEALTH        NODE     DISK",
        "app1  app   ok   r1       active        1m ago  0         ok 12ms       v22.1.0  2.0G free (40% used)",
        "app2  app   ok   r1       active        1m ago  0         ok 12ms       v22.1.0  2.0G free (40% used)",
        "lb    lb    ok   -        nginx active  1m ago  -         upstream 2/2  -        -",
        "stack s: every host is as the stack says (release r1)",
    ]


def test_two_lbs_with_sites_hold_the_address_once_each() -> None:
    v = failover_view()
    lb1 = status_module.judge(
        v, v.sites[0], HostResult(v.hosts[2], CommandResult(0, LB_OK + KEEPALIVED + "holds=yes\n", "")), 0
    )
    assert address_problem(v, [lb1, lb1]) is None  # lb1's row for each of two sites


def test_logs_read_each_sites_unit_and_checker() -> None:
    v = sites_view()
    app1, app2, lb = v.hosts

    def units(view: StackView, host: OpsHost) -> str:
        return str(
            re.findall(r"^UNITS=(.*)$", shlex.split(logs_command(view, host, 50, None, False))[4], re.MULTILINE)[0]
        )

    # Each app's web unit, its processes' (app.processes) and its release task's.
    assert units(v, app1) == "'wayshub.service wayshub@*.service wayshub-release-task.service'"
    assert units(v, app2) == (
        "'wayshub.service wayshub@*.service wayshub-release-task.service "
        "shop.service shop@*.service shop-release-task.service'"
    )
    assert units(v, lb) == "'nginx.service wayshub-s-shop-backend-health.service'"
    shop = v.only("shop")
    assert units(shop, shop.host("app2")) == "'shop.service shop@*.service shop-release-task.service'"


def test_exec_with_a_site_runs_in_its_app_folder_on_its_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[tuple[str, str]] = []

    def run(commands: Sequence[tuple[OpsHost, str]], timeout: float = 0) -> list[HostResult]:
        sent.extend((h.name, c) for h, c in commands)
        return [HostResult(h, CommandResult(0, "", "")) for h, _ in commands]

    monkeypatch.setattr(PulumiStack, "read", lambda self: sites_view())
    monkeypatch.setattr("ops.shell.run_commands", run)
    assert cli.main(["--stack", "s", "--site", "shop", "exec", "ls current"]) == 0
    assert sent == [("app2", "export WAYSHUB_APP=shop WAYSHUB_UNIT=shop.service\ncd /opt/shop || exit\nls current")]
    assert in_site(sites_view().sites[0], "x").startswith("export WAYSHUB_APP=wayshub ")
    sent.clear()
    assert cli.main(["--stack", "s", "exec", "uptime"]) == 0
    assert sent == [("app1", "uptime"), ("app2", "uptime")]


def test_ssh_with_a_site_starts_in_its_app_folder_on_an_app_server(monkeypatch: pytest.MonkeyPatch) -> None:
    argvs: list[list[str]] = []

    def fake_run(argv: list[str], check: bool) -> subprocess.CompletedProcess[str]:
        argvs.append(argv)
        return subprocess.CompletedProcess(argv, 0)

    monkeypatch.setattr(PulumiStack, "read", lambda self: sites_view())
    monkeypatch.setattr("ops.shell.subprocess.run", fake_run)
    assert cli.main(["--stack", "s", "--site", "shop", "ssh", "app2"]) == 0
    assert cli.main(["--stack", "s", "--site", "shop", "ssh", "lb"]) == 0  # an LB has no app folder
    assert argvs[0][-2:] == ["127.0.0.1", in_site(sites_view().sites[1], SITE_SHELL)]
    assert argvs[1][-1] == "127.0.0.1"
    assert cli.main(["--stack", "s", "--site", "shop", "ssh", "app1"]) == 2  # app1 runs no shop


def test_targets_are_a_sites_resources_and_the_own_sites_are_all_the_others(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """make refresh SITE=… refreshes exactly these (pulumi refresh --target)."""
    monkeypatch.setattr(PulumiStack, "read", lambda self: sites_view())
    assert cli.main(["--stack", "s", "--site", "shop", "targets"]) == 0
    shop = capsys.readouterr().out.split()
    assert shop == [
        SHOP_APP,
        "x::shop-app2-app-base",
        SITE_URN,
        SHOP_LB,
        "x::shop-lb-site",
        SHOP_HEALTH,
        "x::shop-lb-health-service",
    ]
    assert cli.main(["--stack", "s", "--site", "wayshub.test", "targets"]) == 0
    own = capsys.readouterr().out.split()
    assert "x::lb-site" in own and "x::app1-app-base" in own and not set(own) & set(shop)
    assert cli.main(["--stack", "s", "targets"]) == 2
    assert capsys.readouterr().err == "ops: targets needs --site <name> (SITE=<name>)\n"


def test_removing_a_site_takes_its_entry_secrets_and_certificate_out_of_the_config(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """make destroy SITE=… : the config loses the site; the up that follows removes what it had."""
    import json

    config = {
        "wayshub:sites": {"value": json.dumps([{"name": "blog"}, {"name": "shop"}])},
        "wayshub:siteSecrets": {"value": "[secret]", "secret": True},
    }
    ran: list[tuple[str, ...]] = []

    def fake(self: PulumiStack, *args: str) -> subprocess.CompletedProcess[str]:
        ran.append(args)
        if args[:2] == ("config", "--json"):
            return subprocess.CompletedProcess(args, 0, json.dumps(config), "")
        return subprocess.CompletedProcess(args, 0 if "siteTls" not in args[-1] else 1, "", "")

    monkeypatch.setattr(PulumiStack, "_run", fake)
    done = PulumiStack("s", PROJECT_DIR).remove_site("shop")
    assert ran[1:] == [
        ("config", "rm", "--path", "wayshub:sites[1]"),
        ("config", "rm", "--path", "wayshub:siteSecrets.shop"),
    ]
    assert done == [
        "removed wayshub:sites[1] from stack s's config",
        "removed wayshub:siteSecrets.shop from stack s's config",
    ]
    with pytest.raises(StackError, match="the stack's own site goes with the stack"):
        PulumiStack("s", PROJECT_DIR).remove_site("")
    with pytest.raises(StackError, match="no site 'nope' in wayshub:sites of stack s"):
        PulumiStack("s", PROJECT_DIR).remove_site("nope")
