"""Every text setting is matched whole: a good value with a line break or NUL added is refused with ONE line
naming exactly that setting (issue #28: ``re.match(r"...$")`` let ``"site.example.com\\n"`` through).

Generated from the config models (``config_reference.settings()``), so a new text setting is covered the day it
is added; builds on tests/unit/test_config_keys.py's loading path (the engine's view, ``load_checked``).
"""

from __future__ import annotations

import json
import types
import typing
from typing import Any

import pytest

from components import config_reference
from components.config import SEPARATE_SETTINGS, ConfigError, load_checked, parse
from tests.unit.test_config import DNS, FAILOVER, GOOD, PROCESSES, SCHEDULES, SITES
from tests.unit.test_config_keys import (
    ACME,
    REPO,
    SITE_PROCESSES,
    SITE_SCHEDULES,
    TSIG_SECRET,
    Case,
    engine_view,
    load_case,
    put,
)

# Where line breaks are legitimate by design, and why (docs/security.md says the same to users).
ACCEPTED_BY_DESIGN = {
    "app.env": "values reach the app byte for byte, quoted for systemd (names are still matched whole: below)",
    "sites[].app.env": "as app.env: values reach the site's app byte for byte, quoted for systemd",
    "lb.acme.caBundle": "PEM text is several lines; it is parsed as certificates, never written into a config line",
    "sshPrivateKey": "PEM/OpenSSH key text is several lines; it is parsed as a key and sent to no file as a line",
    "tlsCertificate": "PEM text; parsed as certificates and written whole to its own file",
    "tlsPrivateKey": "PEM text; parsed as a key and written whole to its own 0600 file",
    "appSecrets": "values reach the app byte for byte like app.env's (names are matched whole: below)",
    "siteTls": "PEM text per site, as tlsCertificate and tlsPrivateKey: parsed, checked as a pair, written whole to their own files",
    "siteSecrets": "as appSecrets, per site: values reach the site's app byte for byte (names are matched whole: below)",
    "dnsTsigSecret": "base64 as tsig-keygen prints it; surrounding whitespace is stripped, anything else is refused",
}
# A good value for text settings the bases leave unset (the rest come from the base or the default).
EXAMPLES: dict[str, str] = {
    "hosts.appServers[].address": "10.0.0.11",
    "hosts.appServers[].user": "deploy",
    "hosts.appServers[].privateAddress": "10.0.1.11",
    "hosts.appServers[].hostKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample",
    "hosts.lbServer.address": "10.0.0.10",
    "hosts.lbServer.user": "deploy",
    "hosts.lbServer.privateAddress": "10.0.1.10",
    "hosts.lbServer.hostKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample",
    "hosts.lbServers[].address": "10.0.0.9",
    "hosts.lbServers[].user": "deploy",
    "hosts.lbServers[].privateAddress": "10.0.1.9",
    "hosts.lbServers[].hostKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample",
    "lb.failover.virtualAddress": "172.30.77.6",
    "hosts.knownHostsFile": "/etc/hostname",
    "app.start": "node server.js",
    "app.releaseTask": "node migrate.js",
    "app.processes[].servers": "app2",
    "app.schedulesServer": "app2",
    "app.processes[].healthCommand": "node worker.js --check",
    "app.build": "npm run build",
    "app.nodeVersion": "20",
    "app.releasePin": "0123456789ab",
    "app.health.bodyContains": "ok",
    "lb.acme.email": "ops@example.com",
    "dns.records": "wayshub.local",
    "dns.addresses": "10.0.0.10",
    "lb.limits.trustedProxies": "10.0.0.0/8",
    "sites[].aliases": "www.shop.local",
    "sites[].app.name": "shop",
    "sites[].path": "/api",
    "sites[].servers": "app1",
}


def _trailing_newline(v: str) -> str:
    return v + "\n"


def _newline_in_the_middle(v: str) -> str:
    return v[: len(v) // 2] + "\n" + v[len(v) // 2 :]


def _nul(v: str) -> str:
    return v + "\0"


def _line_separator(v: str) -> str:
    return v + "\u2028"


HOSTILE = [_trailing_newline, _newline_in_the_middle, _nul, _line_separator]


def _takes_text(annotation: Any) -> bool:
    if annotation is str:
        return True
    if typing.get_origin(annotation) is typing.Annotated:  # Text: str with the CLI's typed values as text
        return _takes_text(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, list, dict):
        return any(_takes_text(arg) for arg in typing.get_args(annotation))
    return False


def _base(key: str) -> dict[str, Any]:
    if "app.processes" in key:
        return SITE_PROCESSES if key.startswith("sites") else PROCESSES
    if "app.schedules" in key:
        return SITE_SCHEDULES if key.startswith("sites") else SCHEDULES
    if key == "sites[].path":  # a path of the stack's own domain
        return {**SITES, "sites": [{**SITES["sites"][0], "domain": GOOD["domain"]}]}
    if key.startswith("sites"):
        return SITES
    if key.startswith(("hosts.lbServers", "lb.failover.")):
        return FAILOVER
    return DNS if key.startswith("dns.") else ACME if key.startswith("lb.acme.") else GOOD


def _good(key: str) -> str:
    if key in EXAMPLES:
        return EXAMPLES[key]
    if key.startswith("sites[].app.") and key.removeprefix("sites[].") in EXAMPLES:  # a site's app: as `app`'s
        return EXAMPLES[key.removeprefix("sites[].")]
    node: Any = _base(key)
    for part in key.replace("[]", ".0").split("."):
        node = node.get(part) if isinstance(node, dict) else node[int(part)] if isinstance(node, list) else None
        if node is None:
            break
    if isinstance(node, str):
        return node
    field = next(s.field for s in config_reference.settings() if s.key == key)
    assert field is not None and isinstance(field.default, str), f"add a good value for {key} to EXAMPLES"
    return field.default


def text_settings() -> list[str]:
    return [
        s.key
        for s in config_reference.settings()
        if s.field is not None and s.model is None and _takes_text(s.field.annotation)
    ]


LISTS = (
    "dns.records",
    "dns.addresses",
    "lb.limits.trustedProxies",
    "sites[].aliases",
    "sites[].servers",
    "app.processes[].servers",
    "sites[].app.processes[].servers",
)
CASES = [
    Case(key, [bad(_good(key))] if key in LISTS else bad(_good(key)), "", _base(key))
    for key in text_settings()
    if key not in ACCEPTED_BY_DESIGN
    for bad in HOSTILE
]
# Names inside the maps whose values are accepted by design, and the separate settings that are one line.
CASES += [
    Case("app.env", {"API_TOKEN\n": "x"}, "variable name 'API_TOKEN\\n' must be UPPER_SNAKE_CASE"),
    Case("appSecrets", json.dumps({"API_TOKEN\n": "x"}), "variable name 'API_TOKEN\\n' must be UPPER_SNAKE_CASE"),
    Case(
        "siteSecrets",
        json.dumps({"shop": {"API_TOKEN\n": "x"}}),
        "variable name 'API_TOKEN\\n' must be UPPER_SNAKE_CASE",
        SITES,
        inside=".shop",
    ),
    Case("commands", "builtin\n", "must be one of auto, builtin, pulumi-command"),
    Case("releaseKey", "k" * 32 + "\n", "must be one line"),
    Case("releaseKey", "k" * 16 + "\u2028" + "k" * 16, "must be one line"),
    Case("dnsTsigSecret", TSIG_SECRET[:8] + "\n" + TSIG_SECRET[8:] + "\0", "is not base64", DNS),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.key}={c.value!r}" for c in CASES])
def test_a_text_setting_with_a_line_break_or_nul_is_refused_naming_it(case: Case) -> None:
    with pytest.raises(ConfigError) as caught:
        load_case(case)
    text = str(caught.value)
    assert "\n" not in text and "\u2028" not in text and "\0" not in text, repr(text)
    assert text.startswith(case.named), f"the line names another setting: {text!r}"
    assert text.removeprefix(case.named).startswith(case.message), text


def test_every_text_setting_is_walked_or_accepted_by_design() -> None:
    walked = {c.key for c in CASES}
    text = set(text_settings())
    assert text, "the walk found no text settings"
    assert text - set(ACCEPTED_BY_DESIGN) <= walked
    assert set(ACCEPTED_BY_DESIGN) <= text | set(SEPARATE_SETTINGS), "an exception for a setting that is not text"


def test_the_good_values_are_good_so_only_the_hostile_character_is_wrong() -> None:
    existing = put(put(GOOD, "hosts.provider", "existing"), "hosts.lbServer.address", "10.0.0.10")
    existing = put(put(existing, "hosts.appServers[].address", "10.0.0.11"), "hosts.appServers.1.address", "10.0.0.12")
    for key in text_settings():
        if key in ACCEPTED_BY_DESIGN:
            continue
        value: Any = [_good(key)] if key in LISTS else _good(key)
        if key.startswith(("hosts.appServers[].", "hosts.lbServer.", "hosts.knownHostsFile")):
            parse(put(existing, key, value))  # `existing` only (its SSH key is checked in test_config_checks)
            continue
        settings = engine_view(put(_base(key), key, value))
        if key.startswith("dns."):
            settings["dnsTsigSecret"] = TSIG_SECRET
        load_checked(settings.get, REPO, names=list(settings))
