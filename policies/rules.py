"""The production rules, as plain functions over the Site component's outputs (no pulumi_policy here, so the
unit tests and any other tool can call them).

The program declares one ``wayshub:index:Site`` component whose outputs include ``settings`` (the checked stack
settings, ``StackConfig.model_dump(mode="json", by_alias=True)``: keys as the stack file spells them,
defaults filled in) and ``plainSecrets`` (the full names of secret settings the stack holds in plain text).
A stack is production when ``settings["production"]`` is true (``wayshub:production``); the rules apply to
it only (``violations``).

Each rule takes those outputs and returns its violations, each ONE line that starts with the setting to
change (``wayshub:hosts.appServers: production needs at least 2 app servers (has 1)``). docs/policies.md
says what each checks, its enforcement level and why.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SITE_TYPE = "wayshub:index:Site"
NAMESPACE = "wayshub"
MIN_APP_SERVERS = 2
# An exact Node release (22.11.0, v22.11.0): `22` or `22.11` resolve to the newest of a line at each up.
EXACT_NODE = re.compile(r"v?[0-9]+\.[0-9]+\.[0-9]+")
# nodeInstall methods that install the newest Node of a major line, whatever nodeVersion says.
MAJOR_LINE_INSTALLS = ("apt", "nodesource")

Props = Mapping[str, Any]


def setting(key: str) -> str:
    """A setting's full name as `pulumi config` spells it: ``wayshub:<key>``."""
    return f"{NAMESPACE}:{key}"


def settings_of(props: Props) -> Mapping[str, Any]:
    settings = props.get("settings")
    return settings if isinstance(settings, Mapping) else {}


def is_production(props: Props) -> bool:
    """The stack is marked production (``wayshub:production: true``)."""
    return settings_of(props).get("production") is True


def _hosts(settings: Mapping[str, Any]) -> Mapping[str, Any]:
    hosts = settings.get("hosts")
    return hosts if isinstance(hosts, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, Sequence) and not isinstance(value, str) else []


def _provider(settings: Mapping[str, Any]) -> str:
    return str(_hosts(settings).get("provider") or "sandbox")


def keyed_servers(settings: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every server with the key a message names it by (``appServers[0]``, ``lbServer``, ``lbServers[1]``)."""
    hosts = _hosts(settings)
    for index, server in enumerate(_list(hosts.get("appServers"))):
        yield f"appServers[{index}]", server
    if isinstance(hosts.get("lbServer"), Mapping):
        yield "lbServer", hosts["lbServer"]
    for index, server in enumerate(_list(hosts.get("lbServers"))):
        yield f"lbServers[{index}]", server


def site_apps(settings: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Each site's app with the prefix its settings are named by: the stack's own (``app.``), then each of
    ``sites`` (``sites[1].app.``)."""
    app = settings.get("app")
    yield "app.", app if isinstance(app, Mapping) else {}
    for index, site in enumerate(_list(settings.get("sites"))):
        site_app = site.get("app") if isinstance(site, Mapping) else None
        yield f"sites[{index}].app.", site_app if isinstance(site_app, Mapping) else {}


# --- the rules


def app_servers(props: Props) -> list[str]:
    """At least 2 app servers: one stopped (a deploy, a crash, maintenance) leaves the site up. Also for each
    of ``sites`` that runs on a subset of them (``sites[N].servers``)."""
    settings = settings_of(props)
    found = []
    count = len(_list(_hosts(settings).get("appServers")))
    if count < MIN_APP_SERVERS:
        found.append(
            f"{setting('hosts.appServers')}: production needs at least {MIN_APP_SERVERS} app servers (has {count})"
        )
    for index, site in enumerate(_list(settings.get("sites"))):
        servers = _list(site.get("servers")) if isinstance(site, Mapping) else []
        if servers and len(servers) < MIN_APP_SERVERS:
            found.append(
                f"{setting(f'sites[{index}].servers')}: production needs at least {MIN_APP_SERVERS} app servers "
                f"for site {site.get('name')} (has {len(servers)}; empty: all of hosts.appServers)"
            )
    return found


def https(props: Props) -> list[str]:
    """HTTPS, with plain HTTP redirected to it: any ``lb.tls`` but ``off`` (with TLS on, the LB's port 80
    answers only the LB's liveness and ACME, and redirects everything else: there is no setting to turn
    the redirect off). Containers mode serves plain HTTP only, so it cannot be production."""
    settings = settings_of(props)
    if _provider(settings) == "containers":
        return [
            f"{setting('hosts.provider')}: production needs HTTPS (lb.tls), which containers mode does not serve "
            "(it serves plain HTTP on a loopback address): deploy production to existing servers"
        ]
    found = []
    lb = settings.get("lb")
    tls = lb.get("tls", "off") if isinstance(lb, Mapping) else "off"
    if tls == "off":
        found.append(
            f"{setting('lb.tls')}: production needs HTTPS with plain HTTP redirected to it: set acme, provided "
            "or self-signed, not off"
        )
    for index, site in enumerate(_list(settings.get("sites"))):
        # A site without a tls of its own takes lb.tls's (above); one with a path is served with its domain's.
        if isinstance(site, Mapping) and site.get("tls") == "off":
            found.append(
                f"{setting(f'sites[{index}].tls')}: production needs HTTPS for site {site.get('name')} with "
                "plain HTTP redirected to it: set acme, provided or self-signed, not off"
            )
    return found


def host_keys(props: Props) -> list[str]:
    """Every server of ``hosts.provider: existing`` has its host key pinned in the stack (``hostKey``): the
    pin then travels with the stack to every machine and CI job that deploys it, where a known_hosts file
    (``hosts.knownHostsFile``) is whatever that machine holds. Sandbox VMs pin their keys themselves;
    containers have no SSH."""
    settings = settings_of(props)
    if _provider(settings) != "existing":
        return []
    return [
        f"{setting(f'hosts.{where}.hostKey')}: production pins every server's host key in the stack "
        f"(missing for {server.get('name')}; a known_hosts file differs from machine to machine)"
        for where, server in keyed_servers(settings)
        if not server.get("hostKey")
    ]


def encrypted_secrets(props: Props) -> list[str]:
    """No secret setting in plain text: each of ``plainSecrets`` was set without ``--secret``, so it sits
    readable in the stack file (and in the repository, once committed)."""
    return [
        f"{name}: production keeps it encrypted, but it is in plain text: set it again with "
        f"`pulumi config set --secret {name}`"
        for name in _list(props.get("plainSecrets"))
    ]


def app_user(props: Props) -> list[str]:
    """The app never runs as the SSH login user: that user has passwordless sudo. The app's user is its
    ``app.name`` (components/app/layout.py ``app_user``; no setting overrides it), the login user
    ``hosts.user`` or a server's own ``user``. Containers mode has neither."""
    settings = settings_of(props)
    if _provider(settings) == "containers":
        return []
    hosts = _hosts(settings)
    logins = {"hosts.user": hosts.get("user")}
    logins.update({f"hosts.{where}.user": server.get("user") for where, server in keyed_servers(settings)})
    found = []
    for key, login in logins.items():
        for prefix, app in site_apps(settings):
            if login is not None and login == app.get("name"):
                found.append(
                    f"{setting(key)}: production never logs in as the app's user {login!r} ({prefix}name): "
                    "the login user has sudo; log in as another user (e.g. deploy) or rename the app"
                )
    return found


def node_pinned(props: Props) -> list[str]:
    """Each app's Node is an exact release set in the stack (``app.nodeVersion: 22.11.0``), installed as that
    release (``nodeInstall`` binary or nvm): a version line (``22``) or the distro's package moves to a new
    Node at some ``up`` without anyone changing the stack."""
    found = []
    for prefix, app in site_apps(settings_of(props)):
        version = app.get("nodeVersion")
        if version is None or not EXACT_NODE.fullmatch(str(version)):
            has = f"has {version}" if version is not None else "unset: the app's .nvmrc or engines.node decides"
            found.append(
                f"{setting(prefix + 'nodeVersion')}: production pins an exact Node release in the stack, "
                f"e.g. 22.11.0 ({has})"
            )
        install = app.get("nodeInstall")
        if install in MAJOR_LINE_INSTALLS:
            found.append(
                f"{setting(prefix + 'nodeInstall')}: production pins Node, but {install} installs the newest of "
                "its major line: use binary (the default) or nvm"
            )
    return found


def release_pinned(props: Props) -> list[str]:
    """Each app runs a pinned release (``app.releasePin``): an ``up`` for another change (nginx, a server)
    then cannot ship whatever ``app.source`` holds on the machine that runs it; moving the pin is the
    reviewed change that deploys code."""
    return [
        f"{setting(prefix + 'releasePin')}: production pins the release it runs (unset: each up deploys the "
        "release built from app.source); pin the one `pulumi stack output releases` shows"
        for prefix, app in site_apps(settings_of(props))
        if not app.get("releasePin")
    ]


@dataclass(frozen=True)
class Rule:
    """One rule: its policy name, its default level (``mandatory`` refuses the preview, ``advisory`` warns),
    what it asks for (the policy's description) and its check."""

    name: str
    level: str
    description: str
    check: Callable[[Props], list[str]]


RULES: tuple[Rule, ...] = (
    Rule("production-app-servers", "mandatory", "Production runs on at least 2 app servers.", app_servers),
    Rule("production-https", "mandatory", "Production serves HTTPS and redirects plain HTTP to it.", https),
    Rule("production-host-keys", "mandatory", "Production pins every existing server's host key.", host_keys),
    Rule(
        "production-encrypted-secrets",
        "mandatory",
        "Production holds no secret setting in plain text.",
        encrypted_secrets,
    ),
    Rule("production-app-user", "mandatory", "Production never runs the app as the SSH login user.", app_user),
    Rule("production-node-pinned", "advisory", "Production pins an exact Node release.", node_pinned),
    Rule("production-release-pinned", "advisory", "Production pins the release it runs.", release_pinned),
)


def violations(rule: Rule, resource_type: str, props: Props) -> list[str]:
    """``rule``'s violations for one resource: none unless it is a Site of a production stack."""
    if resource_type != SITE_TYPE or not is_production(props):
        return []
    return rule.check(props)


def plain(value: Any) -> Any:
    """pulumi_policy's read-only proxies (Mappings and Sequences) as plain dicts and lists."""
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [plain(item) for item in value]
    return value
