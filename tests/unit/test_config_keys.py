"""Every setting the models declare has a bad input that stops the program with ONE line naming that key.

The cases run the loading path the program itself runs (``load_checked``, with the values as the engine
hands them over: sections as JSON text, plain values as text). ``test_every_setting_has_a_bad_input_case``
walks the models, so a new setting without a case here fails.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from components import config_reference
from components.config import SEPARATE_SETTINGS, ConfigError, load_checked
from components.load_balancer.tls import self_signed
from tests.unit.test_config import DNS, EXISTING, FAILOVER, GOOD, PROCESSES, SCHEDULES, SITES

REPO = Path(__file__).resolve().parents[2]
TSIG_SECRET = "Zm9yLXRlc3RzLW9ubHktbm90LWEtcmVhbC1rZXk="  # base64 of text, not a key anyone uses
PAIR = self_signed("wayshub.local", "keys-test")
PROVIDED_TLS = {"lb": {"tls": "provided"}}
ACME = {**GOOD, "lb": {"tls": "acme", "acme": {"directoryUrl": "https://acme.test/dir"}}}


@dataclass(frozen=True)
class Case:
    """``value`` put at ``key`` (``[]`` = the first server) of ``base``; ``message`` follows ``wayshub:<key>: ``."""

    key: str
    value: Any
    message: str
    base: dict[str, Any] = field(default_factory=lambda: GOOD)
    # Other settings as the engine hands them over (secrets, the TLS certificate).
    others: dict[str, str] = field(default_factory=dict)
    # Where inside the setting the line points, when deeper than ``key`` (``siteSecrets.shop``).
    inside: str = ""

    @property
    def named(self) -> str:
        return f"wayshub:{self.key.replace('[]', '[0]')}{self.inside}: "


def dns_case(key: str, value: Any, message: str) -> Case:
    return Case(key, value, message, DNS, {"dnsTsigSecret": TSIG_SECRET})


MAP = "must be a map of settings (docs/config.md lists them), not"
CASES = [
    Case("domain", "not a domain", "'not a domain' is not a domain name such as 'wayshub.local'"),
    Case("hosts", "app1,app2", f"{MAP} text"),
    Case("hosts.provider", "multipass", "Input should be 'sandbox', 'existing' or 'containers'"),
    Case("hosts.appServers", [], "List should have at least 1 item after validation, not 0"),
    Case("hosts.appServers[].name", "App_1", "must be 1-32 lowercase letters, digits or '-', starting with a letter"),
    Case("hosts.appServers[].address", "bad address!", "'bad address!' is neither an IP address nor a host name"),
    Case("hosts.appServers[].sshPort", 0, "Input should be greater than or equal to 1"),
    Case("hosts.appServers[].user", ["root"], "must be text, not a list"),
    Case("hosts.appServers[].privateAddress", "not an address", "'not an address' is neither an IP address"),
    Case("hosts.appServers[].hostKey", "not a key", "must be '<type> <base64>' as in a known_hosts line"),
    Case("hosts.lbServer", "lb", f"{MAP} text"),
    Case("hosts.lbServer.name", "LB", "must be 1-32 lowercase letters"),
    Case("hosts.lbServer.address", "a b", "'a b' is neither an IP address nor a host name"),
    Case("hosts.lbServer.sshPort", 70000, "Input should be less than or equal to 65535"),
    Case("hosts.lbServer.user", ["root"], "must be text, not a list"),
    Case("hosts.lbServer.privateAddress", "x y", "'x y' is neither an IP address nor a host name"),
    Case("hosts.lbServer.hostKey", "ssh-dss AAAA", "must be '<type> <base64>'"),
    Case("hosts.lbServers", [{"name": "lb1"}], "List should have at least 2 items after validation, not 1", FAILOVER),
    Case("hosts.lbServers[].name", "LB", "must be 1-32 lowercase letters", FAILOVER),
    Case("hosts.lbServers[].address", "a b", "'a b' is neither an IP address nor a host name", FAILOVER),
    Case("hosts.lbServers[].sshPort", 70000, "Input should be less than or equal to 65535", FAILOVER),
    Case("hosts.lbServers[].user", ["root"], "must be text, not a list", FAILOVER),
    Case("hosts.lbServers[].privateAddress", "x y", "'x y' is neither an IP address nor a host name", FAILOVER),
    Case("hosts.lbServers[].hostKey", "ssh-dss AAAA", "must be '<type> <base64>'", FAILOVER),
    Case("hosts.user", {"name": "x"}, "must be text, not a map of settings"),
    Case("hosts.allowLbOnAppServer", "yes", "Input should be a valid boolean"),
    Case("hosts.dialTimeoutSeconds", 0, "Input should be greater than or equal to 1"),
    Case(
        "hosts.knownHostsFile",
        "/no/such/known_hosts",
        "/no/such/known_hosts is not a file (write each server's host key line",
    ),
    Case("hosts.takeover", "yes", "Input should be a valid boolean"),
    Case("sandbox", "big", f"{MAP} text"),
    Case("sandbox.image", 5.5, "the number 5.5 in the stack file may not be what was typed"),
    Case("sandbox.network", [5], "must be text, not a list"),
    Case("sandbox.subnet", "8.8.8.0/24", "must be a private IPv4 network of at least /28"),
    Case("sandbox.sshPortBase", 0, "Input should be greater than or equal to 1"),
    Case("sandbox.httpPort", 70000, "Input should be less than or equal to 65535"),
    Case("sandbox.httpsPort", "abc", "Input should be a valid integer"),
    Case("sandbox.bindAddress", "0.0.0.0", "must be a loopback address"),
    Case("containers", [], f"{MAP} a list"),
    Case("containers.appImage", "wayshub/app:1", "'wayshub/app:1' is not an image repository"),
    Case("containers.nginxImage", "Nginx", "'Nginx' is not an image repository"),
    Case("containers.appBase", "Node 20", "'Node 20' is not an image reference"),
    Case("containers.nginxBase", "nginx latest", "'nginx latest' is not an image reference"),
    Case("containers.network", "-x", "'-x' is not a Docker network name"),
    Case("containers.subnet", "8.8.8.0/24", "must be a private IPv4 network of at least /28"),
    Case("containers.httpPort", 0, "Input should be greater than or equal to 1"),
    Case("containers.bindAddress", "0.0.0.0", "must be a loopback address"),
    Case("containers.prefetchNpm", "yes", "Input should be a valid boolean"),
    Case("containers.builder", "buildx", "Input should be 'BuilderV1' or 'BuilderBuildKit'"),
    Case("app", "node", f"{MAP} text"),
    Case("app.name", "My App", "must be 1-32 lowercase letters"),
    Case("app.source", "no-such-app", f"{REPO}/no-such-app is not a folder"),
    Case("app.port", 0, "Input should be greater than or equal to 1"),
    Case("app.portEnv", "app-port", "variable name 'app-port' must be UPPER_SNAKE_CASE"),
    Case("app.start", "   ", "must not be empty"),
    Case("app.releaseTask", "node a.js\nnode b.js", "contains a newline (U+000A)"),
    Case("app.releaseTaskTimeoutSeconds", 0, "Input should be greater than or equal to 1"),
    Case("app.build", "npm run a\nnpm run b", "contains a newline (U+000A)"),
    Case("app.nodeInstall", "brew", "Input should be 'binary', 'apt', 'nodesource' or 'nvm'"),
    Case("app.nodeVersion", "lts", "'lts' is not a Node version"),
    Case("app.env", {"lower": "x"}, "variable name 'lower' must be UPPER_SNAKE_CASE"),
    Case("app.health", "ok", f"{MAP} text"),
    Case("app.health.path", "healthz", "'healthz' must be a URL path starting with '/'"),
    Case("app.health.expectStatus", "2xx", "'2xx' is not an HTTP status or range"),
    Case("app.health.timeoutSeconds", -1, "Input should be greater than or equal to 1"),
    Case("app.health.intervalSeconds", 0, "Input should be greater than or equal to 0.1"),
    Case("app.health.bodyContains", "", "String should have at least 1 character"),
    Case("app.releasesKept", 0, "Input should be greater than or equal to 1"),
    Case("app.releasePin", "HEAD", "'HEAD' is not a release id"),
    Case("app.processes", {"worker": "node worker.js"}, "Input should be a valid list"),
    Case(
        "app.processes",
        [{"name": "w", "command": "a"}, {"name": "w", "command": "b"}],
        "the process name 'w' is used twice",
    ),
    Case("app.processes[].name", "Worker", "'Worker' must be 1-16 lowercase letters or digits, starting", PROCESSES),
    Case("app.processes[].command", " ", "must not be empty", PROCESSES),
    Case("app.processes[].servers", ["app2", "app2"], "app2 is named twice", PROCESSES),
    Case("app.processes[].stopTimeoutSeconds", 0, "Input should be greater than or equal to 1", PROCESSES),
    Case("app.processes[].healthySeconds", 301, "Input should be less than or equal to 300", PROCESSES),
    Case("app.processes[].healthCommand", "  ", "must not be empty", PROCESSES),
    Case("app.schedules", {"nightly": "node r.js"}, "Input should be a valid list"),
    Case(
        "app.schedules",
        [{"name": "j", "command": "a", "calendar": "daily"}, {"name": "j", "command": "b", "calendar": "hourly"}],
        "the schedule name 'j' is used twice",
    ),
    Case(
        "app",
        {
            "processes": [{"name": "work", "command": "a"}],
            "schedules": [{"name": "work", "command": "b", "calendar": "daily"}],
        },
        "schedules: 'work' is a process's name too",
    ),
    Case("app.schedules[].name", "job-1", "'job-1' must be 1-16 lowercase letters or digits, starting", SCHEDULES),
    Case("app.schedules[].command", " ", "must not be empty", SCHEDULES),
    Case("app.schedules[].calendar", "every day", "'every day' is not a calendar expression", SCHEDULES),
    Case("app.schedules[].calendar", "Mon 10:00 Mars/Olympus", "'Mars/Olympus' is not a time zone", SCHEDULES),
    Case(
        "app.schedules[].calendar", "10:00 UTC x", "'10:00 UTC x' is not a calendar expression: 'UTC' is not", SCHEDULES
    ),
    Case("app.schedules[].stopTimeoutSeconds", 0, "Input should be greater than or equal to 1", SCHEDULES),
    Case("app.schedulesServer", "App 2", "must be 1-32 lowercase letters, digits or '-'", SCHEDULES),
    Case("lb", "fast", f"{MAP} text"),
    Case("lb.listenPort", "abc", "Input should be a valid integer"),
    Case("lb.httpsPort", 0, "Input should be greater than or equal to 1"),
    Case("lb.tls", "letsencrypt", "Input should be 'off', 'self-signed', 'provided' or 'acme'"),
    Case("lb.acme", "letsencrypt", f"{MAP} text", ACME),
    Case("lb.acme.directoryUrl", "http://acme.test/dir", "'http://acme.test/dir' is not an https:// URL", ACME),
    Case("lb.acme.email", "ops at example", "'ops at example' is not an email address", ACME),
    Case("lb.acme.challenge", "tls-alpn-01", "Input should be 'http-01' or 'dns-01'", ACME),
    Case("lb.acme.caBundle", "no-such-ca.pem", f"cannot read {REPO}/no-such-ca.pem", ACME),
    Case("lb.acme.renewDaysBefore", 0, "Input should be greater than or equal to 1", ACME),
    Case("lb.acme.timeoutSeconds", 5, "Input should be greater than or equal to 10", ACME),
    Case("lb.hsts", "on", "Input should be a valid boolean"),
    Case("lb.hardenNginx", "maybe", "Input should be a valid boolean"),
    Case("lb.clientMaxBodySize", "lots", "'lots' is not an nginx size"),
    Case("lb.keepalive", -1, "Input should be greater than or equal to 0"),
    Case("lb.maxFails", 101, "Input should be less than or equal to 100"),
    Case("lb.failTimeout", "ten", "'ten' is not an nginx duration"),
    Case("lb.connectTimeout", "-1s", "'-1s' is not an nginx duration"),
    Case("lb.readTimeout", "30", "'30' is not an nginx duration"),
    Case("lb.nextUpstreamTries", -1, "Input should be greater than or equal to 0"),
    Case("lb.healthCheck", 1, f"{MAP} a number"),
    Case("lb.healthCheck.enabled", "yes", "Input should be a valid boolean"),
    Case("lb.healthCheck.interval", "1 s", "'1 s' is not a duration"),
    Case("lb.healthCheck.timeout", "10ms", "'10ms' must be between 50ms and 60s"),
    Case("lb.healthCheck.fall", 0, "Input should be greater than or equal to 1"),
    Case("lb.healthCheck.rise", 11, "Input should be less than or equal to 10"),
    Case("lb.limits", "strict", f"{MAP} text"),
    Case("lb.limits.workerConnections", 512, "'512' is neither 'auto' nor a number from 1024 to 1048576"),
    Case("lb.limits.connectionsPerClient", -1, "Input should be greater than or equal to 0"),
    Case("lb.limits.requestsPerSecond", "lots", "Input should be a valid integer"),
    Case("lb.limits.burst", 100001, "Input should be less than or equal to 100000"),
    Case("lb.limits.status", 500, "Input should be 429 or 503"),
    Case("lb.limits.trustedProxies", ["10.0.0.1/8"], "'10.0.0.1/8' is not a network such as 10.0.0.0/8"),
    Case("lb.limits.realIpHeader", "X Forwarded", "'X Forwarded' is not an HTTP header name"),
    Case("lb.limits.headerTimeout", "0s", "'0s' is not an nginx duration"),
    Case("lb.limits.bodyTimeout", "2h", "'2h' is not an nginx duration"),
    Case("lb.limits.sendTimeout", "500ms", "'500ms' must be between 1s and 1h"),
    Case("lb.limits.keepaliveTimeout", "90m", "'90m' must be between 1s and 1h"),
    Case("lb.failover", "on", f"{MAP} text", FAILOVER),
    Case("lb.failover.virtualAddress", "fe80::5%eth0", "'fe80::5%eth0': an IPv6 zone ID", FAILOVER),
    Case("lb.failover.virtualRouterId", 256, "Input should be less than or equal to 255", FAILOVER),
    Case("lb.failover.advertInterval", "1500us", "'1500us' is not a duration", FAILOVER),
    Case("lb.failover.preempt", "sometimes", "Input should be a valid boolean", FAILOVER),
    Case("rollout", "fast", f"{MAP} text"),
    Case("rollout.batchSize", 0, "Input should be greater than or equal to 1"),
    Case("hostsFile", True, f"{MAP} text"),  # the engine hands a top-level true over as the text "true"
    Case("hostsFile.enabled", "no", "Input should be a valid boolean"),
    Case("hostsFile.path", "/", "/ is a directory, not a hosts file"),
    Case("hostsFile.address", "nowhere", "'nowhere' is not an IP address"),
    Case("dns", "on", f"{MAP} text"),
    dns_case("dns.server", "ns1.example.com", "'ns1.example.com' is not an IP address"),
    dns_case("dns.port", 0, "Input should be greater than or equal to 1"),
    dns_case("dns.zone", "bad zone", "'bad zone' is not a zone name"),
    dns_case("dns.keyName", "my key", "'my key' is not a TSIG key name"),
    dns_case("dns.algorithm", "hmac-md5", "Input should be 'hmac-sha224', 'hmac-sha256'"),
    dns_case("dns.ttl", 0, "Input should be greater than or equal to 1"),
    dns_case("dns.records", ["a;b.local"], "'a;b.local' is not a domain name"),
    dns_case("dns.addresses", ["lb.local"], "'lb.local' is not an IP address"),
    dns_case("dns.adopt", "yes", "Input should be a valid boolean"),
    dns_case("dns.timeoutSeconds", 600, "Input should be less than or equal to 120"),
    Case("sites", "shop", "Input should be a valid list", SITES),
    Case("sites[].name", "Shop", "'Shop' must be 1-16 lowercase letters or digits, starting with a letter", SITES),
    Case("sites[].domain", "shop", "'shop' is not a domain name such as 'wayshub.local'", SITES),
    Case("sites[].aliases", ["*.x"], "'*.x' is not a domain name or a wildcard such as '*.shop.example'", SITES),
    Case("sites[].servers", ["app1", "app1"], "app1 is named twice", SITES),
    Case("sites[].tls", "letsencrypt", "Input should be 'off', 'self-signed', 'acme' or 'provided'", SITES),
    Case("sites[].hostsFile", "yes", "Input should be a valid boolean", SITES),
    Case("sites[].path", "/api/", "'/api/' is not a path such as '/api'", SITES),
    # Settings read on their own: the value goes in ``others``.
    Case("sshPrivateKey", "ssh-ed25519 AAAA a public key", "is not an SSH private key", EXISTING),
    Case("appSecrets", json.dumps({"api-key": "x"}), "variable name 'api-key' must be UPPER_SNAKE_CASE"),
    Case(
        "tlsCertificate",
        "garbage",
        "is not a PEM certificate",
        {**GOOD, **PROVIDED_TLS},
        {"tlsPrivateKey": PAIR["private_key"]},
    ),
    Case(
        "tlsPrivateKey",
        "garbage",
        "is not an unencrypted PEM private key",
        {**GOOD, **PROVIDED_TLS},
        {"tlsCertificate": PAIR["certificate"]},
    ),
    Case("dnsTsigSecret", "not base64 at all!", "is not base64", DNS),
    Case(
        "siteSecrets", json.dumps({"blog": {"API_TOKEN": "x"}}), "'blog' is not a site of wayshub:sites (shop)", SITES
    ),
    Case(
        "siteTls",
        json.dumps({"shop": {"certificate": PAIR["certificate"], "privateKey": PAIR["private_key"]}}),
        "'shop' is not a site with tls 'provided' (those are: none)",
        SITES,
    ),
    Case("releaseKey", "too short", "must be one line of at least 32 random characters"),
    Case("commands", "ansible", "must be one of auto, builtin, pulumi-command"),
    Case("production", "yes", "Input should be a valid boolean"),
]
# A site's app takes every `app` setting, and refuses each bad one naming the site's key.
SHOP = SITES["sites"][0]
SITE_PROCESSES = {**SITES, "sites": [{**SHOP, "app": {**SHOP["app"], "processes": PROCESSES["app"]["processes"]}}]}
SITE_SCHEDULES = {**SITES, "sites": [{**SHOP, "app": {**SHOP["app"], "schedules": SCHEDULES["app"]["schedules"]}}]}
SITE_BASE = {id(PROCESSES): SITE_PROCESSES, id(SCHEDULES): SITE_SCHEDULES}
CASES += [
    Case(f"sites[].{case.key}", case.value, case.message, SITE_BASE.get(id(case.base), SITES))
    for case in CASES
    if case.key.split(".")[0] == "app"
]


def put(data: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    """A copy of ``data`` with ``value`` at ``key`` (``hosts.appServers[].sshPort``: the first server's)."""
    data = copy.deepcopy(data)
    *parents, last = key.replace("[]", ".0").split(".")
    node: Any = data
    for part in parents:
        node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
    node[last] = value
    return data


def engine_view(settings: dict[str, Any]) -> dict[str, str]:
    """The settings as ``pulumi.Config().get`` returns them: objects and lists as JSON, the rest as text."""
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in settings.items()}


def load_case(case: Case) -> None:
    separate = case.key in SEPARATE_SETTINGS
    settings = engine_view(case.base) | case.others
    if separate:
        settings[case.key] = case.value
    else:
        settings = engine_view(put(case.base, case.key, case.value)) | case.others
    load_checked(settings.get, REPO, names=list(settings))


@pytest.mark.parametrize("case", CASES, ids=[c.key for c in CASES])
def test_a_bad_value_stops_with_one_line_naming_its_key(case: Case) -> None:
    with pytest.raises(ConfigError) as caught:
        load_case(case)
    text = str(caught.value)
    assert "\n" not in text, text
    assert text.startswith(case.named), f"the line names another setting: {text}"
    assert text.removeprefix(case.named).startswith(case.message), text
    if case.key in SEPARATE_SETTINGS:
        assert case.value not in text, "the line repeats the setting's value"


def test_every_setting_has_a_bad_input_case() -> None:
    declared = [s.key for s in config_reference.settings()]
    covered = {c.key for c in CASES}
    missing = [key for key in declared if key not in covered]
    assert not missing, f"settings without a bad-input case in {__name__}: {', '.join(missing)}"
    assert covered <= set(declared), f"cases for settings that do not exist: {sorted(covered - set(declared))}"


def test_each_base_is_good_so_only_the_change_is_wrong() -> None:
    # (EXISTING needs a private key: the sshPrivateKey case gives a wrong one, test_config_checks a right one.)
    for base, others in [
        (GOOD, {}),
        (DNS, {"dnsTsigSecret": TSIG_SECRET}),
        ({**GOOD, **PROVIDED_TLS}, {"tlsCertificate": PAIR["certificate"], "tlsPrivateKey": PAIR["private_key"]}),
    ]:
        settings = engine_view(base) | others
        load_checked(settings.get, REPO, names=list(settings))


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("hostFile", "wayshub:hostFile: unknown setting; did you mean wayshub:hostsFile?"),
        ("Domain", "wayshub:Domain: unknown setting; did you mean wayshub:domain?"),
        ("sshPrivateKeys", "wayshub:sshPrivateKeys: unknown setting; did you mean wayshub:sshPrivateKey?"),
        ("colour", "wayshub:colour: unknown setting (known here: domain, hosts, sandbox, containers, app, lb,"),
    ],
)
def test_an_unknown_top_level_setting_names_the_nearest_known_one(name: str, message: str) -> None:
    settings = engine_view(GOOD) | {name: "x"}
    with pytest.raises(ConfigError) as caught:
        load_checked(settings.get, REPO, names=list(settings))
    assert str(caught.value).startswith(message), caught.value
    assert "\n" not in str(caught.value)


def test_the_settings_read_on_their_own_are_known_names() -> None:
    settings = engine_view(GOOD) | {"appSecrets": json.dumps({"API_KEY": "x"}), "releaseKey": "k" * 32}
    assert load_checked(settings.get, REPO, names=list(settings)).domain == "wayshub.local"
