"""Stack config validation: every bad input fails with one line naming the setting."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components.config import ConfigError, check_dns_tsig_secret, parse

GOOD: dict[str, Any] = {
    "domain": "wayshub.local",
    "hosts": {"provider": "sandbox", "appServers": [{"name": "app1"}, {"name": "app2"}], "lbServer": {"name": "lb"}},
}
CONTAINERS: dict[str, Any] = {**GOOD, "hosts": {**GOOD["hosts"], "provider": "containers"}}
# A second site on the same servers (issue 31): its own domain, and its app (named after it) on another port.
SITES: dict[str, Any] = {**GOOD, "sites": [{"name": "shop", "domain": "shop.local", "app": {"port": 3001}}]}
# A worker beside the web process (issue 32), on app2 only.
PROCESSES: dict[str, Any] = {
    **GOOD,
    "app": {"processes": [{"name": "worker", "command": "node worker.js", "servers": ["app2"]}]},
}
# A nightly job (issue 32).
SCHEDULES: dict[str, Any] = {
    **GOOD,
    "app": {"schedules": [{"name": "nightly", "command": "node report.js", "calendar": "daily"}]},
}
DNS: dict[str, Any] = {**GOOD, "dns": {"server": "10.0.0.53", "zone": "local", "keyName": "wayshub-update"}}
# Two LBs sharing an address (issue 30): sandbox VMs, the address by default the subnet's .5.
FAILOVER: dict[str, Any] = {
    **GOOD,
    "hosts": {
        **{k: v for k, v in GOOD["hosts"].items() if k != "lbServer"},
        "lbServers": [{"name": "lb1"}, {"name": "lb2"}],
    },
}
EXISTING: dict[str, Any] = {
    "domain": "wayshub.example.com",
    "hosts": {
        "provider": "existing",
        "user": "deploy",
        "appServers": [{"name": "app1", "address": "10.0.0.11"}, {"name": "app2", "address": "10.0.0.12"}],
        "lbServer": {"name": "lb", "address": "10.0.0.10"},
    },
}

CONTAINERS_FAILOVER: dict[str, Any] = FAILOVER
EXISTING_FAILOVER: dict[str, Any] = {
    **EXISTING,
    "hosts": {
        **{k: v for k, v in EXISTING["hosts"].items() if k != "lbServer"},
        "lbServers": [{"name": "lb1", "address": "10.0.0.10"}, {"name": "lb2", "address": "10.0.0.9"}],
    },
    "lb": {"failover": {"virtualAddress": "10.0.0.5"}},
}


def with_change(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``base`` with ``value`` at a dotted path (``hosts.appServers.0.name``); ``...`` deletes."""
    data = copy.deepcopy(base)
    *parents, last = path.split(".")
    node: Any = data
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    key: Any = int(last) if last.isdigit() else last
    if value is ...:
        del node[key]
    else:
        node[key] = value
    return data


BAD = [
    (GOOD, "domain", ..., "wayshub:domain: is required"),
    (GOOD, "domain", "not a domain", "wayshub:domain: 'not a domain' is not a domain name"),
    (GOOD, "domain", "localhost", "wayshub:domain: 'localhost' is not a domain name"),
    (GOOD, "domain", "x;rm -rf /.com", "wayshub:domain:"),
    (
        GOOD,
        "hosts.provider",
        "multipass",
        "wayshub:hosts.provider: Input should be 'sandbox', 'existing' or 'containers'",
    ),
    (GOOD, "hosts.appServers", [], "wayshub:hosts.appServers: List should have at least 1 item"),
    (GOOD, "hosts.appServers.1.name", "app1", "wayshub:hosts: server names must be unique, app1 repeated"),
    (GOOD, "hosts.lbServer.name", "app2", "wayshub:hosts: server names must be unique, app2 repeated"),
    (GOOD, "hosts.appServers.0.name", "App_1", "wayshub:hosts.appServers[0].name: must be 1-32 lowercase"),
    (GOOD, "hosts.appServers.0.sshPort", 0, "wayshub:hosts.appServers[0].sshPort: Input should be greater than"),
    (GOOD, "hosts.appServers.0.sshPort", 70000, "wayshub:hosts.appServers[0].sshPort: Input should be less than"),
    (GOOD, "hosts.appServers.0.sshPort", "abc", "wayshub:hosts.appServers[0].sshPort: Input should be a valid integer"),
    (GOOD, "hosts.appServers.0.colour", "red", "wayshub:hosts.appServers[0].colour: unknown setting"),
    (GOOD, "hosts.lbServer", ..., "wayshub:hosts: lbServer is required (or lbServers"),
    (FAILOVER, "hosts.lbServer", {"name": "lb"}, "wayshub:hosts: set lbServer (one load balancer) or lbServers"),
    (
        CONTAINERS_FAILOVER,
        "hosts.provider",
        "containers",
        "wayshub: hosts.lbServers does not apply with hosts.provider 'containers' (containers mode runs one nginx",
    ),
    (
        FAILOVER,
        "lb",
        {"failover": {"virtualAddress": "172.30.77.11"}},
        "wayshub: lb.failover.virtualAddress 172.30.77.11 must be a free address in sandbox.subnet",
    ),
    (
        FAILOVER,
        "lb",
        {"failover": {"virtualAddress": "172.30.77.1"}},
        "wayshub: lb.failover.virtualAddress 172.30.77.1 must be a free address",
    ),
    (
        FAILOVER,
        "lb",
        {"failover": {"virtualAddress": "172.30.77.9"}},
        "wayshub: lb.failover.virtualAddress 172.30.77.9 must be a free address",
    ),
    (GOOD, "lb", {"failover": {"preempt": True}}, "wayshub: lb.failover.preempt applies only with hosts.lbServers"),
    (
        GOOD,
        "lb",
        {"failover": {"virtualAddress": "10.0.0.5"}},
        "wayshub: lb.failover.virtualAddress applies only with hosts.lbServers",
    ),
    (EXISTING_FAILOVER, "lb", {}, "wayshub: lb.failover.virtualAddress is required with hosts.lbServers on your own"),
    (
        EXISTING_FAILOVER,
        "lb.failover.virtualAddress",
        "10.0.0.9",
        "wayshub: lb.failover.virtualAddress 10.0.0.9 is lbServers[1]'s own address",
    ),
    (
        EXISTING_FAILOVER,
        "hosts.lbServers.1.address",
        "10.0.0.10",
        "wayshub:hosts: the two lbServers share the same address and sshPort",
    ),
    (
        EXISTING_FAILOVER,
        "hosts.lbServers.1.address",
        "10.0.0.12",
        "wayshub:hosts: lbServers[1].address 10.0.0.12 is also an app server",
    ),
    (
        EXISTING_FAILOVER,
        "hosts.lbServers.1.address",
        ...,
        "wayshub:hosts: lbServers[1].address is required with provider 'existing'",
    ),
    (GOOD, "hosts.appServers.0.hostKey", "not a key", "wayshub:hosts.appServers[0].hostKey: must be '<type> <base64>'"),
    (GOOD, "sandbox", {"subnet": "8.8.8.0/24"}, "wayshub:sandbox.subnet: must be a private IPv4 network"),
    (GOOD, "sandbox", {"subnet": "fd00::/120"}, "wayshub:sandbox.subnet: must be a private IPv4 network"),
    (GOOD, "sandbox", {"bindAddress": "0.0.0.0"}, "wayshub:sandbox.bindAddress: must be a loopback address"),
    (GOOD, "sandbox", {"httpPort": 70000}, "wayshub:sandbox.httpPort: Input should be less than"),
    (GOOD, "app", {"nodeInstall": "brew"}, "wayshub:app.nodeInstall: Input should be 'binary', 'apt', 'nodesource'"),
    (GOOD, "app", {"nodeVersion": "latest"}, "wayshub:app.nodeVersion: 'latest' is not a Node version"),
    (GOOD, "app", {"env": {"lower": "x"}}, "wayshub:app.env: variable name 'lower' must be UPPER_SNAKE_CASE"),
    (GOOD, "app", {"env": {"A": [1]}}, "wayshub:app.env.A: must be text, not a list"),
    (GOOD, "app", {"env": {"RATIO": 0.5}}, "wayshub:app.env.RATIO: the number 0.5 in the stack file may not be what"),
    (GOOD, "app", {"nodeVersion": 16.1}, "wayshub:app.nodeVersion: the number 16.1 in the stack file may not be what"),
    (GOOD, "app", {"env": {"PORT": 1}}, "wayshub:app: env.PORT is the port variable (portEnv): app.port sets it"),
    (GOOD, "app", {"health": {"timeoutSeconds": -1}}, "wayshub:app.health.timeoutSeconds: Input should be greater"),
    (GOOD, "app", {"health": {"path": "healthz"}}, "wayshub:app.health.path: 'healthz' must be a URL path starting"),
    (GOOD, "app", {"health": {"expectStatus": "2xx"}}, "wayshub:app.health.expectStatus: '2xx' is not an HTTP status"),
    (GOOD, "app", {"health": {"expectStatus": "399-200"}}, "wayshub:app.health.expectStatus: '399-200' is not"),
    (GOOD, "app", {"health": {"intervalSeconds": 0}}, "wayshub:app.health.intervalSeconds: Input should be greater"),
    (GOOD, "app", {"health": {"bodyContains": ""}}, "wayshub:app.health.bodyContains: String should have at least"),
    (GOOD, "app", {"health": {"grace": 1}}, "wayshub:app.health.grace: unknown setting"),
    (GOOD, "app", {"healthTimeoutSeconds": 5}, "wayshub:app.healthTimeoutSeconds: unknown setting"),
    (GOOD, "app", {"start": ""}, "wayshub:app.start: String should have at least 1 character"),
    (GOOD, "app", {"start": "   "}, "wayshub:app.start: must not be empty"),
    (GOOD, "app", {"build": "a\nb"}, "wayshub:app.build: contains a newline (U+000A)"),
    (
        GOOD,
        "app",
        {"processes": [{"name": "worker", "command": "node w.js", "servers": ["lb"]}]},
        "wayshub: app.processes[0].servers: 'lb' is not a server the app runs on (app1, app2)",
    ),
    (
        SITES,
        "sites",
        [
            {
                **SITES["sites"][0],
                "servers": ["app2"],
                "app": {"port": 3001, "processes": [{"name": "w", "command": "x", "servers": ["app1"]}]},
            }
        ],
        "wayshub: sites[0].app.processes[0].servers: 'app1' is not a server the app runs on (app2)",
    ),
    (
        GOOD,
        "app",
        {"schedules": [{"name": "nightly", "command": "node r.js", "calendar": "daily"}], "schedulesServer": "app3"},
        "wayshub: app.schedulesServer: 'app3' is not a server the app runs on (app1, app2)",
    ),
    (GOOD, "app", {"portEnv": "app_port"}, "wayshub:app.portEnv: variable name 'app_port' must be UPPER_SNAKE_CASE"),
    (GOOD, "app", {"portEnv": []}, "wayshub:app.portEnv: must name at least one variable"),
    (GOOD, "app", {"portEnv": ["PORT", "app-port"]}, "wayshub:app.portEnv: variable name 'app-port' must be"),
    (GOOD, "lb", {"failTimeout": "ten"}, "wayshub:lb.failTimeout: 'ten' is not an nginx duration"),
    (GOOD, "lb", {"connectTimeout": "-1s"}, "wayshub:lb.connectTimeout: '-1s' is not an nginx duration"),
    (GOOD, "lb", {"listenPort": 0}, "wayshub:lb.listenPort: Input should be greater than"),
    (GOOD, "hostsFile", {"address": "nowhere"}, "wayshub:hostsFile.address:"),
    (GOOD, "bogus", 1, "wayshub:bogus: unknown setting (known here: domain, hosts, sandbox, containers, app, lb,"),
    # A nested typo names the nearest known key.
    (GOOD, "lb", {"keepAlive": 3}, "wayshub:lb.keepAlive: unknown setting; did you mean wayshub:lb.keepalive?"),
    (GOOD, "hosts.appServer", [], "wayshub:hosts.appServer: unknown setting; did you mean wayshub:hosts.appServers?"),
    (
        GOOD,
        "hosts.lbServer.sshport",
        22,
        "wayshub:hosts.lbServer.sshport: unknown setting; did you mean wayshub:hosts.lbServer.sshPort?",
    ),
    (GOOD, "lb", "fast", "wayshub:lb: must be a map of settings (docs/config.md lists them), not text"),
    (
        GOOD,
        "hosts.lbServer",
        ["lb"],
        "wayshub:hosts.lbServer: must be a map of settings (docs/config.md lists them), not a list",
    ),
    (EXISTING, "hosts.appServers.1.address", ..., "wayshub:hosts: appServers[1].address is required"),
    (EXISTING, "hosts.lbServer.address", ..., "wayshub:hosts: lbServer.address is required"),
    (EXISTING, "hosts.appServers.1.address", "10.0.0.11", "wayshub:hosts: two app servers share the same address"),
    (
        EXISTING,
        "hosts.lbServer.address",
        "10.0.0.12",
        "wayshub:hosts: lbServer.address 10.0.0.12 is also an app server",
    ),
    (GOOD, "hosts.takeover", True, "wayshub:hosts: takeover applies only with provider 'existing'"),
    (EXISTING, "hosts.takeover", "yes", "wayshub:hosts.takeover: Input should be a valid boolean"),
    (GOOD, "hosts.dialTimeoutSeconds", 0, "wayshub:hosts.dialTimeoutSeconds: Input should be greater than"),
    (GOOD, "lb", {"tls": "letsencrypt"}, "wayshub:lb.tls: Input should be 'off', 'self-signed', 'provided' or 'acme'"),
    (GOOD, "lb", {"tls": "acme"}, "wayshub:lb: tls 'acme' needs lb.acme (at least its directoryUrl)"),
    (
        GOOD,
        "lb",
        {"tls": "self-signed", "acme": {"directoryUrl": "letsencrypt"}},
        "wayshub: lb.acme is set but lb.tls is 'self-signed' and no site's tls is 'acme'",
    ),
    (
        GOOD,
        "lb",
        {"tls": "acme", "acme": {"directoryUrl": "letsencrypt", "challenge": "dns-01"}},
        "wayshub: lb.acme.challenge 'dns-01' needs wayshub:dns (the TXT record goes through its server)",
    ),
    (GOOD, "lb", {"tls": "self-signed", "httpsPort": 80}, "wayshub:lb: httpsPort and listenPort are both 80"),
    (GOOD, "lb", {"clientMaxBodySize": "10 MB"}, "wayshub:lb.clientMaxBodySize: '10 MB' is not an nginx size"),
    (GOOD, "app", {"releasePin": "latest"}, "wayshub:app.releasePin: 'latest' is not a release id"),
    (GOOD, "app", {"nodeInstall": "nvm"}, "wayshub:app: nodeVersion is required with nodeInstall 'nvm'"),
    (GOOD, "rollout", {"batchSize": 0}, "wayshub:rollout.batchSize: Input should be greater than"),
    (EXISTING, "hosts.appServers.0.address", "bad address!", "wayshub:hosts.appServers[0].address: 'bad address!'"),
    (CONTAINERS, "containers", {"bindAddress": "0.0.0.0"}, "wayshub:containers.bindAddress: must be a loopback"),
    (CONTAINERS, "containers", {"subnet": "8.8.8.0/24"}, "wayshub:containers.subnet: must be a private IPv4"),
    (CONTAINERS, "containers", {"httpPort": 0}, "wayshub:containers.httpPort: Input should be greater than"),
    (CONTAINERS, "containers", {"appImage": "wayshub/app:1"}, "wayshub:containers.appImage: 'wayshub/app:1' is not"),
    (CONTAINERS, "containers", {"appBase": "Node 20"}, "wayshub:containers.appBase: 'Node 20' is not an image"),
    (CONTAINERS, "containers", {"network": "-x"}, "wayshub:containers.network: '-x' is not a Docker network"),
    (CONTAINERS, "containers", {"builder": "buildx"}, "wayshub:containers.builder: Input should be 'BuilderV1'"),
    (CONTAINERS, "containers", {"registry": "x"}, "wayshub:containers.registry: unknown setting"),
    (
        CONTAINERS,
        "hosts.appServers.0.address",
        "10.0.0.1",
        "wayshub: hosts.appServers[0].address does not apply with hosts.provider 'containers'",
    ),
    (
        CONTAINERS,
        "hosts.lbServer.sshPort",
        2222,
        "wayshub: hosts.lbServer.sshPort does not apply with hosts.provider 'containers'",
    ),
    (CONTAINERS, "lb", {"tls": "self-signed"}, "wayshub: lb.tls must be 'off' with hosts.provider 'containers'"),
    # The backend health check (issue 14).
    (GOOD, "lb", {"healthCheck": {"interval": "1 s"}}, "wayshub:lb.healthCheck.interval: '1 s' is not a duration"),
    (GOOD, "lb", {"healthCheck": {"timeout": "10ms"}}, "wayshub:lb.healthCheck.timeout: '10ms' must be between"),
    (GOOD, "lb", {"healthCheck": {"interval": "2m"}}, "wayshub:lb.healthCheck.interval: '2m' must be between"),
    (GOOD, "lb", {"healthCheck": {"fall": 0}}, "wayshub:lb.healthCheck.fall: Input should be greater than"),
    (GOOD, "lb", {"healthCheck": {"rise": 11}}, "wayshub:lb.healthCheck.rise: Input should be less than"),
    (GOOD, "lb", {"healthCheck": {"enabled": "yes"}}, "wayshub:lb.healthCheck.enabled: Input should be a valid"),
    (GOOD, "lb", {"healthCheck": {"every": "1s"}}, "wayshub:lb.healthCheck.every: unknown setting"),
    (
        GOOD,
        "lb",
        {"readTimeout": "2s", "healthCheck": {"timeout": "2s"}},
        "wayshub:lb: healthCheck.timeout (2s) must be shorter than readTimeout (2s)",
    ),
    (
        GOOD,
        "lb",
        {"healthCheck": {"interval": "2s", "rise": 2}},
        "wayshub:lb: healthCheck.rise x interval (2 x 2s) must not exceed failTimeout (3s)",
    ),
    # DNS records (issue 15).
    (DNS, "dns.server", "ns1.example.com", "wayshub:dns.server: 'ns1.example.com' is not an IP address"),
    (DNS, "dns.server", ..., "wayshub:dns.server: is required"),
    (DNS, "dns.zone", "example.com", "wayshub: dns.zone example.com is not a suffix of the domain wayshub.local"),
    (DNS, "dns.zone", "hub.local", "wayshub: dns.zone hub.local is not a suffix of the domain wayshub.local"),
    (DNS, "dns.zone", "bad zone", "wayshub:dns.zone: 'bad zone' is not a zone name"),
    (DNS, "dns.algorithm", "hmac-md5", "wayshub:dns.algorithm: Input should be 'hmac-sha224', 'hmac-sha256'"),
    (DNS, "dns.keyName", "my key", "wayshub:dns.keyName: 'my key' is not a TSIG key name"),
    (DNS, "dns.keyName", ..., "wayshub:dns.keyName: is required"),
    (DNS, "dns.port", 0, "wayshub:dns.port: Input should be greater than"),
    (DNS, "dns.ttl", 0, "wayshub:dns.ttl: Input should be greater than"),
    (DNS, "dns.timeoutSeconds", 600, "wayshub:dns.timeoutSeconds: Input should be less than"),
    (DNS, "dns.records", ["www.example.com"], "wayshub:dns: records: www.example.com is not in zone local"),
    (DNS, "dns.records", ["a;b.local"], "wayshub:dns.records: 'a;b.local' is not a domain name"),
    (DNS, "dns.records", ["a.local", "A.local."], "wayshub:dns.records: a.local repeated"),
    (DNS, "dns.addresses", ["lb.local"], "wayshub:dns.addresses: 'lb.local' is not an IP address"),
    (DNS, "dns.addresses", ["10.0.0.1", "10.0.0.01"], "wayshub:dns.addresses:"),
    (DNS, "dns.adopt", "yes", "wayshub:dns.adopt: Input should be a valid boolean"),
    (DNS, "dns.secret", "c2VjcmV0", "wayshub:dns.secret: unknown setting"),
    (
        {
            **EXISTING,
            "dns": {**DNS["dns"], "zone": "example.com"},
            "hosts": {**EXISTING["hosts"], "lbServer": {"name": "lb", "address": "lb.example.com"}},
        },
        "dns.ttl",
        60,
        "wayshub: dns.addresses is required: lbServer.address lb.example.com is a name, not an IP address",
    ),
]


@pytest.mark.parametrize(("base", "path", "value", "message"), BAD, ids=[f"{p}={v!r}" for _, p, v, _ in BAD])
def test_bad_input_fails_with_one_line_naming_the_setting(
    base: dict[str, Any], path: str, value: Any, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(with_change(base, path, value))
    text = str(caught.value)
    assert "\n" not in text
    assert text.startswith(message), text


def test_good_sandbox_config_gets_documented_defaults() -> None:
    config = parse(GOOD)
    assert [s.name for s in config.hosts.all_servers] == ["app1", "app2", "lb"]
    assert (config.sandbox.subnet, config.sandbox.http_port, config.sandbox.bind_address) == (
        "172.30.77.0/24",
        8080,
        "127.0.0.1",
    )
    assert (config.app.port, config.app.node_install, config.lb.listen_port) == (3000, None, 80)
    assert (config.app.port_names, config.app.health.path, config.app.health.status_range) == (
        ["PORT"],
        "/",
        (200, 399),
    )


def test_env_numbers_and_booleans_from_config_set_path_are_written_as_text() -> None:
    config = parse(with_change(GOOD, "app", {"env": {"APP_PORT": 3000, "DEBUG": True, "RATIO": "0.50", "NAME": "x"}}))
    assert config.app.env_text_values == {"APP_PORT": "3000", "DEBUG": "true", "RATIO": "0.50", "NAME": "x"}


def test_health_accepts_one_status_or_a_range_and_port_env_a_list() -> None:
    app = parse(with_change(GOOD, "app", {"health": {"expectStatus": 204}, "portEnv": ["PORT", "APP_PORT"]})).app
    assert app.health.status_range == (204, 204)
    assert app.port_names == ["PORT", "APP_PORT"]


def test_good_existing_config_keeps_addresses() -> None:
    config = parse(EXISTING)
    assert [s.address for s in config.hosts.all_servers] == ["10.0.0.11", "10.0.0.12", "10.0.0.10"]
    assert config.hosts.user == "deploy"


def test_good_containers_config_gets_documented_defaults() -> None:
    config = parse(CONTAINERS)
    c = config.containers
    assert (c.app_image, c.nginx_image, c.app_base, c.nginx_base) == (
        "wayshub/app",
        "wayshub/nginx",
        "node:20-bookworm-slim",
        "nginx:1.27",
    )
    assert (c.network, c.subnet, c.http_port, c.bind_address, c.prefetch_npm, c.builder) == (
        "wayshub-containers",
        "172.30.78.0/24",
        8090,
        "127.0.0.1",
        False,
        "BuilderBuildKit",
    )


def test_containers_subnet_must_hold_every_app_server() -> None:
    # Two addresses per app server (its slots a and b): a /28 holds 2.
    many = with_change(CONTAINERS, "hosts.appServers", [{"name": f"app{i}"} for i in range(1, 4)])
    with pytest.raises(
        ConfigError, match=r"^wayshub: containers.subnet has room for 2 app servers \(two addresses each\), not 3$"
    ):
        parse(with_change(many, "containers", {"subnet": "172.30.78.0/28"}))


def test_the_backend_health_check_is_on_by_default_and_can_be_turned_off() -> None:
    check = parse(GOOD).lb.health_check
    assert (check.enabled, check.interval, check.timeout, check.fall, check.rise) == (True, "250ms", "750ms", 2, 2)
    # Off, its limits no longer apply.
    off = parse(with_change(GOOD, "lb", {"readTimeout": "1s", "healthCheck": {"enabled": False, "timeout": "1s"}}))
    assert off.lb.health_check.enabled is False


def test_dns_is_off_by_default_and_gets_documented_defaults() -> None:
    assert parse(GOOD).dns is None
    assert parse({**GOOD, "dns": {}}).dns is None, "Pulumi.yaml's default {} means no DNS records"
    config = parse(with_change(DNS, "dns.zone", "Wayshub.Local."))
    dns = config.dns
    assert dns is not None
    assert (dns.server, dns.port, dns.zone, dns.algorithm, dns.ttl, dns.adopt, dns.timeout_seconds) == (
        "10.0.0.53",
        53,
        "wayshub.local",
        "hmac-sha256",
        300,
        False,
        10,
    )
    # Records default to the domain; addresses to the LB's public address (decided in __main__).
    assert (config.dns_records, dns.addresses) == (["wayshub.local"], [])
    named = parse(with_change(DNS, "dns.records", ["WWW.wayshub.local.", "wayshub.local"]))
    assert named.dns_records == ["www.wayshub.local", "wayshub.local"]


def test_dns_with_existing_servers_takes_the_lb_ip_or_explicit_addresses() -> None:
    dns = {"server": "10.0.0.53", "zone": "example.com", "keyName": "k"}
    assert parse({**EXISTING, "dns": dns}).dns is not None
    named_lb = {**EXISTING["hosts"], "lbServer": {"name": "lb", "address": "lb.example.com"}}
    explicit = parse({**EXISTING, "hosts": named_lb, "dns": {**dns, "addresses": ["FD00::0010", "10.0.0.10"]}})
    assert explicit.dns is not None and explicit.dns.addresses == ["fd00::10", "10.0.0.10"]


TSIG_SECRET = "Zm9yLXRlc3RzLW9ubHktbm90LWEtcmVhbC1rZXk="  # base64 of text, not a key anyone uses


@pytest.mark.parametrize(
    ("base", "secret", "message"),
    [
        (DNS, None, "wayshub:dnsTsigSecret: is required with wayshub:dns (pulumi config set --secret"),
        (DNS, "", "wayshub:dnsTsigSecret: is required with wayshub:dns"),
        (DNS, "not base64 at all!", "wayshub:dnsTsigSecret: is not base64"),
        (DNS, "QUJD*", "wayshub:dnsTsigSecret: is not base64"),
        (GOOD, TSIG_SECRET, "wayshub:dnsTsigSecret: is set but wayshub:dns is not"),
    ],
    ids=["missing", "empty", "words", "bad-char", "without-dns"],
)
def test_tsig_secret_fails_with_one_line_that_never_shows_it(
    base: dict[str, Any], secret: str | None, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        check_dns_tsig_secret(parse(base), secret)
    text = str(caught.value)
    assert "\n" not in text and text.startswith(message), text
    if secret:
        assert secret not in text


def test_tsig_secret_accepts_what_tsig_keygen_prints() -> None:
    check_dns_tsig_secret(parse(DNS), TSIG_SECRET)
    check_dns_tsig_secret(parse(GOOD), None)


def test_nginx_is_hardened_by_default_only_on_servers_we_made() -> None:
    assert parse(GOOD).harden_nginx is True
    assert parse(EXISTING).harden_nginx is False
    assert parse({**EXISTING, "lb": {"hardenNginx": True}}).harden_nginx is True
    assert parse({**GOOD, "lb": {"hardenNginx": False}}).harden_nginx is False
