"""Several sites (issue 31) in the resource graph the real program declares under the Pulumi mocks: a second
site's steps are its own (named after it, on its servers only) and no step of one site waits for the other's,
so a broken release of one cannot hold the other back; with one site, nothing new is declared."""

from __future__ import annotations

import json
from typing import Any

from tests.unit.pulumi_mocks import MOCKS
from tests.unit.test_command_backends import ssh_key
from tests.unit.test_rollout_graph import (
    DEPENDENCIES,
    PINNED,
    deploy_input,
    program_config,
    run_program,
    stack_settings,
)

__all__ = ["program_config"]  # the fixture, used by name below

SHOP = {
    "name": "shop",
    "domain": "shop.test",
    "aliases": ["www.shop.test"],
    "servers": ["app2"],
    "tls": "self-signed",
    "app": {"releasePin": PINNED, "nodeInstall": "apt", "port": 3001},
}
# What every site's steps may wait for: the servers themselves (the sandbox VMs and their SSH key).
SHARED = ("sandbox-", "lb-container", "app1-container", "app2-container", "lb-ready", "ssh-key")


def own_site(name: str) -> bool:
    return not name.startswith("shop-") and not name.endswith("-unknown-names")


def test_one_site_declares_nothing_of_several(program_config: dict[str, Any]) -> None:
    MOCKS.registered.clear()
    run_program(program_config, stack_settings(["app1", "app2"], 1))
    assert not [n for n in MOCKS.registered if n.startswith("shop-") or n.endswith("unknown-names")]


def test_a_second_site_is_its_own_steps_on_its_own_servers_and_waits_for_nothing_of_the_first(
    program_config: dict[str, Any],
) -> None:
    MOCKS.registered.clear()
    DEPENDENCIES.clear()
    run_program(program_config, {**stack_settings(["app1", "app2"], 1), "sites": [SHOP]})
    names = set(MOCKS.registered)
    assert {"shop-app2-app-release", "shop-lb-site", "shop-lb-health-service", "lb-unknown-names"} <= names
    assert "shop-app1-app-release" not in names, "the site runs on app2 only"
    assert deploy_input("shop-app2", "APP") == "shop" and deploy_input("shop-app2", "PORT") == "3001"
    site = MOCKS.registered["shop-lb-site"].inputs["stdin"]
    assert "server_name shop.test www.shop.test;" in site and "/etc/nginx/tls/wayshub-test-shop.crt" in site
    # The second site's file goes live only after the server that refuses unknown names.
    assert "lb-unknown-names" in DEPENDENCIES["shop-lb-site"]
    crossing = {
        (name, dep)
        for name, deps in DEPENDENCIES.items()
        for dep in deps
        if not dep.startswith(SHARED) and own_site(name) != own_site(dep) and not dep.endswith("-unknown-names")
    }
    # Only the refusing server waits for the first site's nginx install (nginx must be there).
    assert crossing == {("lb-unknown-names", "lb-nginx")}, crossing


EXISTING_HOSTS = {
    "provider": "existing",
    "appServers": [{"name": "app1", "address": "10.0.0.11"}, {"name": "app2", "address": "10.0.0.12"}],
    "lbServer": {"name": "lb", "address": "10.0.0.10"},
}


def test_on_your_own_servers_a_second_site_is_surveyed_before_any_of_its_steps(program_config: dict[str, Any]) -> None:
    MOCKS.registered.clear()
    DEPENDENCIES.clear()
    hosts = EXISTING_HOSTS
    settings = {**stack_settings(["app1", "app2"], 1), "hosts": hosts, "sites": [{**SHOP, "tls": "off"}]}
    run_program(program_config, {**settings, "sshPrivateKey": ssh_key(), "commands": "builtin"})
    survey = MOCKS.registered["shop-app2-survey"].inputs["create"]
    assert "PORT=3001" in survey and "UNIT=shop.service" in survey, survey[:400]
    assert "DOMAIN=shop.test" in MOCKS.registered["shop-lb-survey"].inputs["create"]
    assert "shop-app1-survey" not in MOCKS.registered
    assert "shop-survey-gate" in DEPENDENCIES["shop-app2-app-base"]
    assert "shop-survey-gate" in DEPENDENCIES["shop-lb-nginx"]


def test_a_site_with_tls_acme_gets_its_own_certificate_for_its_domain(program_config: dict[str, Any]) -> None:
    MOCKS.registered.clear()
    lb = {"tls": "self-signed", "acme": {"directoryUrl": "https://acme.test/dir"}}
    shop = {**SHOP, "tls": "acme", "aliases": []}
    run_program(program_config, {**stack_settings(["app1", "app2"], 1, lb), "sites": [shop]})
    assert MOCKS.registered["shop-lb-certificate"].inputs["domain"] == "shop.test"
    assert "server_name shop.test;" in MOCKS.registered["shop-lb-acme-front"].inputs["stdin"]
    assert "lb-certificate" not in MOCKS.registered, "the first site stays self-signed"
    assert "tls" in MOCKS.registered and "shop-tls" not in MOCKS.registered


def test_a_takeover_takes_over_each_sites_port_and_hand_written_nginx_site(program_config: dict[str, Any]) -> None:
    MOCKS.registered.clear()
    DEPENDENCIES.clear()
    hosts = {**EXISTING_HOSTS, "takeover": True}
    settings = {**stack_settings(["app1", "app2"], 1), "hosts": hosts, "sites": [{**SHOP, "tls": "off"}]}
    run_program(program_config, {**settings, "sshPrivateKey": ssh_key(), "commands": "builtin"})
    assert "TAKEOVER=1" in MOCKS.registered["shop-app2-survey"].inputs["create"]
    assert "DOMAIN=shop.test" in MOCKS.registered["shop-lb-retire-sites"].inputs["create"]
    assert "DOMAIN=wayshub.test" in MOCKS.registered["lb-retire-sites"].inputs["create"]
    assert DEPENDENCIES["shop-lb-retire-sites"] == {"shop-lb-site"}


def test_site_secrets_reach_that_sites_app_only(program_config: dict[str, Any]) -> None:
    MOCKS.registered.clear()
    secrets = '{"shop": {"API_TOKEN": "t0ken-of-the-shop"}}'
    settings = {**stack_settings(["app1", "app2"], 1), "sites": [SHOP]}
    run_program(program_config, {**settings, "siteSecrets": secrets, "releaseKey": "k" * 32})
    assert "API_TOKEN" in str(MOCKS.registered["shop-app2-app-release"].inputs["stdin"])
    assert "t0ken-of-the-shop" in str(MOCKS.registered["shop-app2-app-release"].inputs["stdin"])
    for server in ("app1", "app2"):
        assert "API_TOKEN" not in str(MOCKS.registered[f"{server}-app-release"].inputs["stdin"])


def test_behind_two_lbs_a_second_site_is_on_both_one_after_the_other(program_config: dict[str, Any]) -> None:
    MOCKS.registered.clear()
    DEPENDENCIES.clear()
    settings = stack_settings(["app1", "app2"], 1)
    hosts = {**settings["hosts"], "lbServers": [{"name": "lb1"}, {"name": "lb2"}]}
    del hosts["lbServer"]
    run_program(program_config, {**settings, "hosts": hosts, "sites": [{**SHOP, "tls": "off"}]})
    assert {"shop-lb-site", "shop-lb2-site", "lb-unknown-names", "lb2-unknown-names"} <= set(MOCKS.registered)
    # Like the first site: the LB not holding the shared address first (the second, by default), then the other.
    assert "shop-lb2-site" in DEPENDENCIES["shop-lb-site"]
    assert "lb2-unknown-names" in DEPENDENCIES["shop-lb2-site"] and "lb-unknown-names" in DEPENDENCIES["shop-lb-site"]


def test_a_site_with_tls_provided_serves_the_pair_from_site_tls(program_config: dict[str, Any]) -> None:
    from tests.unit.test_config_keys import PAIR

    MOCKS.registered.clear()
    pair = {"certificate": PAIR["certificate"], "privateKey": PAIR["private_key"]}
    shop = {**SHOP, "domain": "wayshub.local", "aliases": [], "tls": "provided"}
    settings = {**stack_settings(["app1", "app2"], 1), "domain": "main.local", "sites": [shop]}
    run_program(program_config, {**settings, "siteTls": json.dumps({"shop": pair})})
    # Both travel as secrets (the whole siteTls object is one).
    assert MOCKS.registered["shop-lb-tls-certificate"].inputs["stdin"]["value"] == PAIR["certificate"]
    assert MOCKS.registered["shop-lb-tls-key"].inputs["stdin"]["value"] == PAIR["private_key"]
    assert "ssl_certificate /etc/nginx/tls/wayshub-test-shop.crt;" in MOCKS.registered["shop-lb-site"].inputs["stdin"]


def test_a_site_serving_a_path_publishes_its_upstream_then_its_locations_after_its_domains_site(
    program_config: dict[str, Any],
) -> None:
    MOCKS.registered.clear()
    DEPENDENCIES.clear()
    api = {
        "name": "api",
        "domain": "wayshub.test",
        "path": "/api",
        "servers": ["app2"],
        "app": {"releasePin": PINNED, "nodeInstall": "apt", "port": 3001},
    }
    run_program(program_config, {**stack_settings(["app1", "app2"], 1), "sites": [api]})
    own = MOCKS.registered["lb-site"].inputs["stdin"]
    assert "include /etc/nginx/wayshub/paths/wayshub-test/*.conf;" in own
    upstream = MOCKS.registered["api-lb-upstream"].inputs["stdin"]
    assert "upstream wayshub_test_api {" in upstream and "server 172.30.77.12:3001 " in upstream, upstream
    location = MOCKS.registered["api-lb-site"]
    assert (
        "location /api/ {" in location.inputs["stdin"]
        and "proxy_pass http://wayshub_test_api;" in location.inputs["stdin"]
    )
    assert "/etc/nginx/wayshub/paths/wayshub-test/wayshub-test-api.conf" in location.inputs["create"]
    assert {"api-lb-upstream", "lb-site"} <= DEPENDENCIES["api-lb-site"]
    assert "api-lb-health-service" in MOCKS.registered
    assert "api-lb-nginx" not in MOCKS.registered, "no server, certificate or capacity of its own"


def test_without_a_path_site_the_first_sites_file_is_as_before(program_config: dict[str, Any]) -> None:
    MOCKS.registered.clear()
    run_program(program_config, {**stack_settings(["app1", "app2"], 1), "sites": [SHOP]})
    assert "include /etc/nginx/wayshub/paths" not in MOCKS.registered["lb-site"].inputs["stdin"]
