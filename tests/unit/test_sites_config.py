"""``wayshub:sites`` (issue 31): the rules that span sites are refused in one line naming the setting, before
any resource; a stack without ``sites`` reads as before (one site, its names and app)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from components.app.plan import plan_site_app
from components.config import ConfigError, parse
from tests.unit.test_config import GOOD, SITES

SHOP = SITES["sites"][0]
ACME_LB = {"acme": {"directoryUrl": "https://acme.test/dir"}}


def with_sites(*sites: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {**GOOD, **top, "sites": list(sites)}


REFUSED = {
    "its domain is the stack's": (
        with_sites({**SHOP, "domain": "wayshub.local"}),
        "wayshub: sites[0].domain wayshub.local is also domain: every site needs names of its own",
    ),
    "an alias is another site's domain": (
        with_sites(SHOP, {"name": "blog", "domain": "blog.local", "aliases": ["shop.local"], "app": {"port": 3002}}),
        "wayshub: sites[1].aliases[0] shop.local is also sites[0].domain: every site needs names of its own",
    ),
    "its app's port is taken on a shared server": (
        with_sites({**SHOP, "app": {}}),
        "wayshub: sites[0].app.port 3000 is also app.port on server app1: two apps on one server need ports of "
        "their own",
    ),
    "its app's name is taken on a shared server": (
        with_sites({**SHOP, "app": {"port": 3001, "name": "wayshub"}}),
        "wayshub: sites[0].app.name wayshub is also app.name on server app1",
    ),
    "it names a server the stack has not": (
        with_sites({**SHOP, "servers": ["app9"]}),
        "wayshub: sites[0].servers: 'app9' is not in hosts.appServers (app1, app2)",
    ),
    "two sites share a name": (
        with_sites(SHOP, {**SHOP, "domain": "other.local", "app": {"port": 3002}}),
        "wayshub: sites: the name 'shop' is used twice; every site needs its own",
    ),
    "no TLS mode of its own beside lb.tls provided": (
        with_sites(SHOP, lb={"tls": "provided"}),
        "wayshub: sites[0].tls is required: `off`, `self-signed`, `acme` or `provided` (lb.tls 'provided' is for the "
        "stack's own site)",
    ),
    "its app would run as the login user": (
        with_sites({**SHOP, "app": {"port": 3001, "name": "deploy"}}),
        "wayshub: hosts.user 'deploy' is also sites[0].app.name",
    ),
    "its domain is outside the DNS zone": (
        with_sites(SHOP, dns={"server": "10.0.0.53", "zone": "example.com", "keyName": "k"}, domain="a.example.com"),
        "wayshub: dns.zone example.com is not a suffix of the domain shop.local",
    ),
    "an ACME site lists aliases": (
        with_sites({**SHOP, "tls": "acme", "aliases": ["www.shop.local"]}, lb=ACME_LB),
        "wayshub: sites[0].aliases: an ACME certificate covers the site's domain alone",
    ),
    "an ACME site without lb.acme": (
        with_sites({**SHOP, "tls": "acme"}),
        "wayshub: sites[0].tls 'acme' needs lb.acme (at least its directoryUrl)",
    ),
    "lb.acme that no site uses": (
        with_sites(SHOP, lb={"tls": "self-signed", "acme": {"directoryUrl": "https://acme.test/dir"}}),
        "wayshub: lb.acme is set but lb.tls is 'self-signed' and no site's tls is 'acme'",
    ),
    "an ACME site behind two LBs": (
        with_sites(
            {**SHOP, "tls": "acme"},
            lb={"tls": "self-signed", **ACME_LB},
            hosts={**GOOD["hosts"], "lbServer": None, "lbServers": [{"name": "lb1"}, {"name": "lb2"}]},
        ),
        "wayshub: sites[0].tls 'acme' with two load balancers (hosts.lbServers) is for the stack's own site only",
    ),
    "a path of no site's domain": (
        with_sites({**SHOP, "path": "/api"}),
        "wayshub: sites[0].domain shop.local is no site's domain: a site with a path serves it below the domain",
    ),
    "the same path of a domain twice": (
        with_sites(
            {**SHOP, "domain": "wayshub.local", "path": "/api"},
            {"name": "api2", "domain": "wayshub.local", "path": "/api", "app": {"port": 3002}},
        ),
        "wayshub: sites[1].path /api of wayshub.local is also sites[0].path",
    ),
    "a path with aliases of its own": (
        with_sites({**SHOP, "domain": "wayshub.local", "path": "/api", "aliases": ["api.local"]}),
        "wayshub:sites[0]: aliases: a site with a path answers on its domain's site's names",
    ),
    "its name begins a server's": (
        with_sites(SHOP, hosts={**GOOD["hosts"], "appServers": [{"name": "shop-1"}, {"name": "app2"}]}),
        "wayshub: sites[0].name 'shop' begins the server name 'shop-1': their resources would share names",
    ),
    "its name would shadow a system user": (
        with_sites({**SHOP, "name": "nginx"}),
        "wayshub:sites[0].app.name: 'nginx' is a system user or unit name",
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_rule_across_sites_is_refused_in_one_line_naming_the_setting(case: str) -> None:
    raw, message = REFUSED[case]
    with pytest.raises(ConfigError) as caught:
        parse(raw)
    text = str(caught.value)
    assert "\n" not in text and text.startswith(message), text


def test_a_site_fills_in_its_defaults_and_a_stack_without_sites_is_one_site() -> None:
    (own,) = parse(GOOD).all_sites
    assert (own.key, own.names, own.app.name, own.servers, own.tls, own.hosts_line) == (
        "",
        ["wayshub.local"],
        "wayshub",
        ["app1", "app2"],
        "off",
        "wayshub.local",
    )
    config = parse(
        with_sites(
            {**SHOP, "aliases": ["www.shop.local", "*.shop.local"], "servers": ["app2"]},
            {"name": "api", "domain": "api.local", "app": {"port": 3002}, "hostsFile": False},
            lb={"tls": "self-signed"},
        )
    )
    _, shop, api = config.all_sites
    assert (shop.key, shop.where, shop.app.name, shop.servers, shop.tls) == (
        "shop",
        "sites[0].",
        "shop",
        ["app2"],
        "self-signed",
    )
    assert shop.hosts_line == "shop.local www.shop.local"  # no wildcard in a hosts file
    assert (api.servers, api.hosts_line) == (["app1", "app2"], "")
    assert config.dns_records == ["wayshub.local", "shop.local", "api.local"]


def test_a_problem_with_a_sites_app_names_that_sites_setting(tmp_path: Path) -> None:
    app = tmp_path / "shop"
    app.mkdir()
    (app / "package.json").write_text('{"name": "shop", "scripts": {}}')
    config = parse(with_sites({**SHOP, "app": {"port": 3001, "source": str(app)}}))
    with pytest.raises(ConfigError) as caught:
        plan_site_app(config.all_sites[1], tmp_path, {}, None, preview=True)
    assert str(caught.value).startswith("wayshub:sites[0].app."), caught.value


def test_an_acme_site_beside_a_self_signed_first_site_and_the_default_follows_lb_tls() -> None:
    config = parse(with_sites({**SHOP, "tls": "acme"}, lb={"tls": "self-signed", **ACME_LB}))
    assert [site.tls for site in config.all_sites] == ["self-signed", "acme"]
    config = parse(with_sites(SHOP, lb={"tls": "acme", **ACME_LB}))
    assert [site.tls for site in config.all_sites] == ["acme", "acme"]


def test_a_site_with_a_provided_certificate_needs_a_pair_that_names_all_its_names() -> None:
    from components.config import check_site_tls
    from components.load_balancer.tls import self_signed

    config = parse(with_sites({**SHOP, "tls": "provided", "aliases": ["www.shop.local"]}))
    both = self_signed("shop.local", "t", ["www.shop.local"])
    pair = {"certificate": both["certificate"], "privateKey": both["private_key"]}
    assert check_site_tls(config, json.dumps({"shop": pair})) == {"shop": pair}
    only_domain = self_signed("shop.local", "t")
    refused = {
        "missing": (None, "wayshub:siteTls.shop: is required with sites[0].tls 'provided'"),
        "without its alias": (
            {"shop": {"certificate": only_domain["certificate"], "privateKey": only_domain["private_key"]}},
            "wayshub:siteTls.shop.certificate: does not name www.shop.local in its subjectAltName",
        ),
        "another key": (
            {"shop": {"certificate": both["certificate"], "privateKey": only_domain["private_key"]}},
            "wayshub:siteTls.shop.privateKey: does not match the certificate (different key pair)",
        ),
    }
    for raw, message in refused.values():
        with pytest.raises(ConfigError) as caught:
            check_site_tls(config, None if raw is None else json.dumps(raw))
        assert str(caught.value).startswith(message), caught.value
        assert "PRIVATE KEY" not in str(caught.value)


def test_a_path_of_another_sites_domain_is_served_with_that_sites_tls_and_no_names_of_its_own() -> None:
    config = parse(
        with_sites(
            {**SHOP, "tls": "self-signed"},
            {"name": "api", "domain": "shop.local", "path": "/api/v1", "app": {"port": 3002}},
            lb={"tls": "off"},
        )
    )
    api = config.all_sites[2]
    assert (api.path, api.tls, api.hosts_line) == ("/api/v1", "self-signed", "")
    assert config.dns_records == ["wayshub.local", "shop.local"]  # no record twice
