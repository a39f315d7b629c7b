"""Each hostile input issue #28 showed, fed to the real config loader (and, for addresses, to the place the
value meets a file: the hosts block, the nginx upstream, the health checker's env file): refused with one line
naming the setting, and never written."""

from __future__ import annotations

from typing import Any

import pytest

from components.config import ConfigError
from components.config.hosts import ServerConfig
from components.hosts.address import checked_host_port, host_port
from components.load_balancer.health_check import env_text
from components.load_balancer.nginx import render_site
from components.names.hosts_file import normalize_ip, render_block
from tests.unit.test_config import EXISTING
from tests.unit.test_config_keys import Case, load_case

HOSTS_INJECTION = "::1%x\n203.0.113.66 github.com registry.npmjs.org"
ZONE_ID = "fe80::1%eth0"
ENV_INJECTION = "fe80::1%x\nBASH_ENV=$(id>&2)"

CASES = [
    Case("hostsFile.address", HOSTS_INJECTION, "contains a newline"),
    Case("hostsFile.address", "::1%x", "'::1%x': an IPv6 zone ID (%...) is not accepted"),
    Case("hosts.appServers[].privateAddress", ZONE_ID, f"'{ZONE_ID}': an IPv6 zone ID", EXISTING),
    Case("hosts.appServers[].privateAddress", ENV_INJECTION, "contains a newline", EXISTING),
    Case("hosts.appServers[].address", ZONE_ID, f"'{ZONE_ID}': an IPv6 zone ID", EXISTING),
    Case("hosts.lbServer.privateAddress", "10.0.0.1 evil", "'10.0.0.1 evil' is neither an IP address", EXISTING),
    Case("domain", "site.example.com\n", "contains a newline (U+000A)"),
    Case("app.env", {"API_TOKEN\n": "x"}, "variable name 'API_TOKEN\\n' must be UPPER_SNAKE_CASE"),
    Case("app.portEnv", "PORT\n", "contains a newline"),
    Case("app.nodeVersion", "20\n", "contains a newline"),
    Case("app.name", "ssh", "'ssh' is a system user or unit name"),
    Case("app.name", "sshd", "'sshd' is a system user or unit name"),
    Case("app.name", "root", "'root' is a system user or unit name"),
    Case("app.name", "nginx", "'nginx' is a system user or unit name"),
    Case("app.name", "sudoers", "'sudoers' is a system user or unit name"),
    Case("app.name", "systemd-journald", "'systemd-journald' is a system user or unit name"),
    Case("app.name", "www-data", "'www-data' is a system user or unit name"),
    Case("app.name", "wayshub\n", "contains a newline"),
    Case("hosts.user", "deploy ALL=(ALL) NOPASSWD: ALL", "'deploy ALL=(ALL) NOPASSWD: ALL' is not a user name"),
    Case("hosts.lbServer.user", "Admin", "'Admin' is not a user name", EXISTING),
    Case("app.health.path", "/health\n", "contains a newline"),
    Case("app.releasePin", "0123456789ab\n", "contains a newline"),
    Case("lb.failTimeout", "3s\n", "contains a newline"),
    Case("dns.server", "10.0.0.53%eth0", "'10.0.0.53%eth0': an IPv6 zone ID"),
    Case("dns.addresses", ["fe80::1%x"], "'fe80::1%x': an IPv6 zone ID"),
]


def _keyed(case: Case) -> Case:
    if case.key.startswith("dns."):
        from tests.unit.test_config_keys import dns_case

        return dns_case(case.key, case.value, case.message)
    return case


@pytest.mark.parametrize("case", [_keyed(c) for c in CASES], ids=[f"{c.key}={c.value!r}" for c in CASES])
def test_the_issues_inputs_are_refused_naming_the_setting(case: Case) -> None:
    with pytest.raises(ConfigError) as caught:
        if case.base is EXISTING:  # `existing` needs an SSH key to load whole: check the model, as parse does
            from components.config import parse
            from tests.unit.test_config_keys import put

            parse(put(case.base, case.key, case.value))
        else:
            load_case(case)
    text = str(caught.value)
    assert "\n" not in text, repr(text)
    assert text.startswith(case.named), text
    assert text.removeprefix(case.named).startswith(case.message), text


@pytest.mark.parametrize(
    ("given", "normal"), [("FD00::0011", "fd00::11"), ("10.0.0.011", None), ("LB.example.com", None)]
)
def test_an_address_is_stored_in_its_normal_form(given: str, normal: str | None) -> None:
    if normal is None:
        with pytest.raises(ValueError):
            ServerConfig.model_validate({"name": "a", "address": given})
    else:
        server = ServerConfig.model_validate({"name": "a", "address": given, "privateAddress": given})
        assert (server.address, server.private_address) == (normal, normal)


@pytest.mark.parametrize("address", ["::1%x", HOSTS_INJECTION, "10.0.0.1 github.com", "10.0.0.1\n"])
def test_the_hosts_block_refuses_anything_but_an_address(address: str) -> None:
    with pytest.raises(ValueError):
        normalize_ip(address)
    with pytest.raises(ValueError):
        render_block("s", [(address, "site.example.com")])


@pytest.mark.parametrize("address", [ZONE_ID, ENV_INJECTION, "10.0.0.1 x", "a b"])
def test_a_backend_that_is_not_an_address_never_reaches_nginx_or_the_env_file(address: str) -> None:
    from components.config import LoadBalancerConfig
    from components.config.app import HealthConfig

    with pytest.raises(ValueError):
        host_port(address, 3000)
    backend = f"[{address}]:3000" if ":" in address else f"{address}:3000"
    with pytest.raises(ValueError):
        checked_host_port(backend)
    with pytest.raises(ValueError):
        render_site("s", "site.example.com", [backend], LoadBalancerConfig())
    with pytest.raises(ValueError):
        env_text("s", [backend], LoadBalancerConfig(), HealthConfig())


def test_the_env_file_quotes_its_values_for_systemd() -> None:
    from components.config import LoadBalancerConfig
    from components.config.app import HealthConfig

    text = env_text("s", ["10.0.0.12:3000", "[fd00::11]:3000"], LoadBalancerConfig(), HealthConfig(path="/h?a=$x"))
    lines: dict[str, Any] = dict(line.split("=", 1) for line in text.splitlines() if not line.startswith("#"))
    assert lines["BACKENDS"] == '"10.0.0.12:3000 [fd00::11]:3000"'
    assert lines["HEALTH_PATH"] == '"/h?a=\\$x"'


@pytest.mark.parametrize("domain", ["site.example.com\n", "site.example.com;", "a b.com", "site.example.com\u2028"])
def test_a_domain_that_is_not_a_host_name_never_reaches_nginx(domain: str) -> None:
    from components.config import LoadBalancerConfig

    with pytest.raises(ValueError, match="is not a host name"):
        render_site("s", domain, ["10.0.0.11:3000"], LoadBalancerConfig())
