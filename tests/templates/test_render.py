"""Template tests: render every template for sample configs and check what the hosts would get.

The nginx site is parsed back with crossplane (inside a minimal nginx.conf, so directive contexts
are checked too); the systemd unit is read line by line; the hosts block is compared exactly.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import crossplane
import jinja2
import pytest

from components.render import render

Context = dict[str, Any]

# lb.limits as components/load_balancer/nginx.py client_limits gives it: the defaults, and every limit off.
CLIENT_DEFAULTS: Context = {
    "zone": "wayshub_local",
    "connections": 100,
    "rate": 50,
    "burst": 200,
    "status": 429,
    "trusted_proxies": [],
    "real_ip_header": "X-Forwarded-For",
    "header_timeout": "10s",
    "body_timeout": "10s",
    "send_timeout": "10s",
    "keepalive_timeout": "30s",
    "keepalive_requests": 1000,
    "http2_streams": 128,
}
CLIENT_BEHIND_PROXIES: Context = {
    **CLIENT_DEFAULTS,
    "zone": "wayshub_v6",
    "connections": 0,
    "rate": 0,
    "trusted_proxies": ["10.0.0.0/8", "fd00::/8"],
    "real_ip_header": "X-Real-IP",
}

NGINX_SAMPLES: dict[str, Context] = {
    "local-two-backends": {
        "site_name": "wayshub_local",
        "domain": "wayshub.local",
        "listen_port": 80,
        "backends": ["172.28.0.11:3000", "172.28.0.12:3000"],
        "keepalive": 32,
        "max_fails": 3,
        "fail_timeout": "10s",
        "proxy_connect_timeout": "1s",
        "proxy_read_timeout": "30s",
        "next_upstream_tries": 2,
        "client": CLIENT_DEFAULTS,
    },
    "prod-three-backends": {
        "site_name": "wayshub_prod",
        "domain": "wayshub.example.com",
        "listen_port": 8080,
        "backends": ["192.168.204.52:3000", "192.168.204.238:3000", "192.168.204.240:3001"],
        "keepalive": 64,
        "max_fails": 2,
        "fail_timeout": "5s",
        "proxy_connect_timeout": "500ms",
        "proxy_read_timeout": "1m",
        "next_upstream_tries": 3,
        "upstream_keepalive_timeout": "30s",
        "client": {**CLIENT_DEFAULTS, "zone": "wayshub_prod", "connections": 20, "status": 503},
    },
    "single-ipv6-backend": {
        "site_name": "wayshub_v6",
        "domain": "v6.wayshub.test",
        "listen_port": 8081,
        "backends": ["[fd00::11]:3000"],
        "keepalive": 8,
        "max_fails": 1,
        "fail_timeout": "30s",
        "proxy_connect_timeout": "2s",
        "proxy_read_timeout": "10s",
        "next_upstream_tries": 1,
        "client": CLIENT_BEHIND_PROXIES,
    },
}

UNIT_SAMPLES: dict[str, Context] = {
    "default": {
        "app_name": "wayshub",
        "description": "wayshub Node app",
        "user": "wayshub",
        "root": "/opt/wayshub",
        "stop_timeout_seconds": 10,
    },
    "own-group": {
        "app_name": "wayshub-blue",
        "description": 'wayshub "blue" & friends',
        "user": "deploy",
        "group": "www-data",
        "root": "/opt/wayshub-blue",
        "stop_timeout_seconds": 30,
    },
}

START_SAMPLES: dict[str, tuple[Context, str]] = {
    "exec": (
        {"app_name": "wayshub", "origin": "package.json scripts.start", "command": "node server.js", "exec": True},
        "exec node server.js",
    ),
    "shell": (
        {"app_name": "x", "origin": "app.start", "command": "node a.js && node b.js", "exec": False},
        "node a.js && node b.js",
    ),
}

HOSTS_SAMPLES: dict[str, tuple[Context, str]] = {
    "local-one-entry": (
        {"stack": "local", "entries": [("127.0.0.1", "wayshub.local")]},
        "# BEGIN wayshub-infra local\n127.0.0.1\twayshub.local\n# END wayshub-infra local\n",
    ),
    "prod-two-entries": (
        {
            "stack": "prod",
            "entries": [
                ("192.168.204.10", "wayshub.example.com www.wayshub.example.com"),
                ("192.168.204.11", "api.wayshub.example.com"),
            ],
        },
        "# BEGIN wayshub-infra prod\n"
        "192.168.204.10\twayshub.example.com www.wayshub.example.com\n"
        "192.168.204.11\tapi.wayshub.example.com\n"
        "# END wayshub-infra prod\n",
    ),
    "no-entries": (
        {"stack": "staging", "entries": []},
        "# BEGIN wayshub-infra staging\n# END wayshub-infra staging\n",
    ),
}

# One full context per template; every key in it is required (optional keys use `default`).
REQUIRED_KEYS: dict[str, Context] = {
    "nginx-site.conf.j2": NGINX_SAMPLES["local-two-backends"],
    "wayshub.service.j2": UNIT_SAMPLES["default"],
    "start.sh.j2": START_SAMPLES["exec"][0],
    "hosts-block.j2": HOSTS_SAMPLES["local-one-entry"][0],
}

Directive = dict[str, Any]


# --- helpers -------------------------------------------------------------------------------------


def parse_site(tmp_path: Path, text: str) -> list[Directive]:
    """Parse a rendered site inside `http {}` with crossplane; return the site file's directives."""
    site = tmp_path / "site.conf"
    site.write_text(text)
    main = tmp_path / "nginx.conf"
    main.write_text(f"events {{}}\nhttp {{\n    include {site};\n}}\n")
    payload = crossplane.parse(str(main))
    assert payload["status"] == "ok", payload["errors"]
    (parsed,) = [cfg["parsed"] for cfg in payload["config"] if cfg["file"] == str(site)]
    return list(parsed)


def only(block: list[Directive], name: str, *args: str) -> Directive:
    """The single directive `name` (with leading `args`, if given) in `block`."""
    found = [d for d in block if d["directive"] == name and d["args"][: len(args)] == list(args)]
    assert len(found) == 1, f"expected one {name} {' '.join(args)}, got {found}"
    return found[0]


def all_args(block: list[Directive], name: str) -> list[list[str]]:
    return [d["args"] for d in block if d["directive"] == name]


def unit_lines(text: str) -> list[tuple[str, str, str]]:
    """(section, key, value) for every setting line of a systemd unit, in order."""
    section = ""
    settings = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, sep, value = line.partition("=")
        assert sep, f"not a key=value line: {line!r}"
        settings.append((section, key, value))
    return settings


def unit_setting(text: str, section: str, key: str) -> str:
    values = [v for s, k, v in unit_lines(text) if (s, k) == (section, key)]
    assert len(values) == 1, f"[{section}] {key}= appears {len(values)} times"
    return values[0]


# --- nginx site ----------------------------------------------------------------------------------


@pytest.mark.parametrize("sample", NGINX_SAMPLES)
def test_nginx_upstream_lists_exactly_the_backends_in_order(tmp_path: Path, sample: str) -> None:
    ctx = NGINX_SAMPLES[sample]
    parsed = parse_site(tmp_path, render("nginx-site.conf.j2", **ctx))

    upstream = only(parsed, "upstream")
    assert upstream["args"] == [ctx["site_name"]]
    servers = all_args(upstream["block"], "server")
    assert servers == [
        [backend, f"max_fails={ctx['max_fails']}", f"fail_timeout={ctx['fail_timeout']}"] for backend in ctx["backends"]
    ]
    assert only(upstream["block"], "keepalive")["args"] == [str(ctx["keepalive"])]
    expected_timeout = ctx.get("upstream_keepalive_timeout", "60s")
    assert only(upstream["block"], "keepalive_timeout")["args"] == [expected_timeout]


@pytest.mark.parametrize("sample", NGINX_SAMPLES)
def test_nginx_server_listens_and_proxies_with_retries(tmp_path: Path, sample: str) -> None:
    ctx = NGINX_SAMPLES[sample]
    parsed = parse_site(tmp_path, render("nginx-site.conf.j2", **ctx))

    # One upstream, the client zones and one server block, nothing else at the top level.
    zones = [d["directive"] for d in parsed if d["directive"].endswith("_zone")]
    assert [d["directive"] for d in parsed] == ["upstream", *zones, "server"]
    server = only(parsed, "server")["block"]
    assert only(server, "listen")["args"] == [str(ctx["listen_port"])]
    assert only(server, "server_name")["args"] == [ctx["domain"]]

    root = only(server, "location", "/")["block"]
    assert only(root, "proxy_pass")["args"] == [f"http://{ctx['site_name']}"]
    assert only(root, "proxy_http_version")["args"] == ["1.1"]
    headers = dict(all_args(root, "proxy_set_header"))
    assert headers == {
        "Connection": "",
        "Host": "$host",
        "X-Real-IP": "$remote_addr",
        "X-Forwarded-For": "$proxy_add_x_forwarded_for",
        "X-Forwarded-Proto": "$scheme",
        "X-Forwarded-Host": "$host",
    }
    assert only(root, "proxy_next_upstream")["args"] == ["error", "timeout", "http_502", "http_503"]
    assert only(root, "proxy_next_upstream_tries")["args"] == [str(ctx["next_upstream_tries"])]
    assert only(root, "proxy_connect_timeout")["args"] == [ctx["proxy_connect_timeout"]]
    assert only(root, "proxy_read_timeout")["args"] == [ctx["proxy_read_timeout"]]

    health = only(server, "location", "=", "/lb-health")["block"]
    assert only(health, "access_log")["args"] == ["off"]
    assert only(health, "return")["args"] == ["200", "ok\\n"]


@pytest.mark.parametrize("sample", NGINX_SAMPLES)
def test_each_client_is_limited_on_the_proxied_location_only(tmp_path: Path, sample: str) -> None:
    ctx = NGINX_SAMPLES[sample]
    client = ctx["client"]
    parsed = parse_site(tmp_path, render("nginx-site.conf.j2", **ctx))
    zone = client["zone"]
    server = only(parsed, "server")["block"]
    root = only(server, "location", "/")["block"]
    limits = {d["directive"]: d["args"] for d in root if d["directive"].startswith("limit_")}
    expected: dict[str, list[str]] = {}
    if client["connections"]:
        assert only(parsed, "limit_conn_zone")["args"] == ["$binary_remote_addr", f"zone={zone}_conn:10m"]
        expected |= {"limit_conn": [f"{zone}_conn", str(client["connections"])]}
        expected |= {"limit_conn_status": [str(client["status"])]}
    if client["rate"]:
        rate = f"rate={client['rate']}r/s"
        assert only(parsed, "limit_req_zone")["args"] == ["$binary_remote_addr", f"zone={zone}_req:10m", rate]
        expected |= {"limit_req": [f"zone={zone}_req", f"burst={client['burst']}", "nodelay"]}
        expected |= {"limit_req_status": [str(client["status"])]}
    assert limits == expected
    assert not [d for d in parsed if d["directive"].endswith("_zone") and not expected]
    health = only(server, "location", "=", "/lb-health")["block"]
    assert not [d for d in health if d["directive"].startswith("limit_")], "the LB's own health is never limited"


@pytest.mark.parametrize("sample", NGINX_SAMPLES)
def test_a_slow_client_is_cut_by_the_servers_timeouts(tmp_path: Path, sample: str) -> None:
    ctx = NGINX_SAMPLES[sample]
    client = ctx["client"]
    server = only(parse_site(tmp_path, render("nginx-site.conf.j2", **ctx)), "server")["block"]
    for directive in ("header_timeout", "body_timeout"):
        assert only(server, f"client_{directive}")["args"] == [client[directive]]
    assert only(server, "send_timeout")["args"] == [client["send_timeout"]]
    assert only(server, "keepalive_timeout")["args"] == [client["keepalive_timeout"]]
    assert only(server, "reset_timedout_connection")["args"] == ["on"]
    assert all_args(server, "set_real_ip_from") == [[network] for network in client["trusted_proxies"]]
    if client["trusted_proxies"]:
        assert only(server, "real_ip_header")["args"] == [client["real_ip_header"]]
        assert only(server, "real_ip_recursive")["args"] == ["on"]
    else:
        assert not all_args(server, "real_ip_header")


def test_nginx_site_says_it_is_managed() -> None:
    text = render("nginx-site.conf.j2", **NGINX_SAMPLES["local-two-backends"])
    assert text.startswith("# Managed by wayshub-infra")


def test_nginx_site_changes_only_where_backends_change() -> None:
    """Adding a backend adds exactly one upstream line: previews show a one-line diff."""
    base = NGINX_SAMPLES["local-two-backends"]
    before = render("nginx-site.conf.j2", **base).splitlines()
    backends = [*base["backends"], "172.28.0.13:3000"]
    after = render("nginx-site.conf.j2", **{**base, "backends": backends}).splitlines()
    added = [line for line in after if line not in before]
    assert added == ["    server 172.28.0.13:3000 max_fails=3 fail_timeout=10s;"]
    assert [line for line in before if line not in after] == []


# --- systemd unit --------------------------------------------------------------------------------


@pytest.mark.parametrize("sample", UNIT_SAMPLES)
def test_unit_runs_everything_through_current(sample: str) -> None:
    ctx = UNIT_SAMPLES[sample]
    text = render("wayshub.service.j2", **ctx)

    # The same text for every release: command, env and Node come from the release `current` names.
    assert unit_setting(text, "Service", "ExecStart") == f"{ctx['root']}/current/start"
    assert unit_setting(text, "Service", "EnvironmentFile") == f"{ctx['root']}/current/env"
    assert unit_setting(text, "Service", "WorkingDirectory") == f"{ctx['root']}/current/app"
    assert unit_setting(text, "Service", "Restart") == "always"
    assert unit_setting(text, "Service", "RestartSec") == "1"
    assert unit_setting(text, "Service", "User") == ctx["user"]
    assert unit_setting(text, "Service", "Group") == ctx.get("group", ctx["user"])
    assert unit_setting(text, "Service", "KillSignal") == "SIGTERM"
    assert unit_setting(text, "Service", "TimeoutStopSec") == str(ctx["stop_timeout_seconds"])
    assert unit_setting(text, "Service", "SyslogIdentifier") == ctx["app_name"]
    assert unit_setting(text, "Unit", "Description") == ctx["description"]
    assert unit_setting(text, "Install", "WantedBy") == "multi-user.target"


@pytest.mark.parametrize("sample", START_SAMPLES)
def test_start_script_runs_the_command_from_the_release_with_its_node_first_on_path(
    sample: str, tmp_path: Path
) -> None:
    ctx, last_line = START_SAMPLES[sample]
    text = render("start.sh.j2", **ctx)
    assert text.splitlines()[-1] == last_line
    # Run it for real: a fake release whose bin/node prints where it runs and its arguments.
    release = tmp_path / "releases" / "r1"
    (release / "bin").mkdir(parents=True)
    (tmp_path / "code").mkdir()
    (release / "app").symlink_to(tmp_path / "code")
    node = release / "bin" / "node"
    node.write_text('#!/bin/sh\necho "$(pwd) $*"\n')
    node.chmod(0o755)
    (release / "start").write_text(text)
    (release / "start").chmod(0o755)
    (tmp_path / "current").symlink_to(release)
    out = subprocess.run([str(tmp_path / "current" / "start")], capture_output=True, text=True, check=True).stdout
    # `current` is resolved once: the process runs in THIS release even if `current` moves on.
    app = release / "app"
    expected = {"exec": [f"{app} server.js"], "shell": [f"{app} a.js", f"{app} b.js"]}
    assert out.splitlines() == expected[sample]


@pytest.mark.parametrize("sample", UNIT_SAMPLES)
def test_unit_hardening_and_no_duplicate_keys(sample: str) -> None:
    text = render("wayshub.service.j2", **UNIT_SAMPLES[sample])
    settings = unit_lines(text)
    assert [s for s, _, _ in settings if s not in ("Unit", "Service", "Install")] == []
    # SystemCallFilter is the one key systemd merges (an allow list, then what it takes away).
    keys = [(s, k) for s, k, _ in settings if k != "SystemCallFilter"]
    assert len(keys) == len(set(keys)), "a key is set twice"
    assert unit_setting(text, "Service", "NoNewPrivileges") == "true"
    assert unit_setting(text, "Service", "ProtectSystem") == "strict"
    assert unit_setting(text, "Service", "PrivateTmp") == "true"
    # Never give up restarting: the deploy's health gate judges a release, not systemd.
    assert unit_setting(text, "Unit", "StartLimitIntervalSec") == "0"


def test_unit_values_are_not_html_escaped() -> None:
    text = render("wayshub.service.j2", **UNIT_SAMPLES["own-group"])
    assert 'Description=wayshub "blue" & friends\n' in text


# --- hosts block ---------------------------------------------------------------------------------


@pytest.mark.parametrize("sample", HOSTS_SAMPLES)
def test_hosts_block_exact_text(sample: str) -> None:
    ctx, expected = HOSTS_SAMPLES[sample]
    assert render("hosts-block.j2", **ctx) == expected


# --- all templates -------------------------------------------------------------------------------


def _required_cases() -> list[tuple[str, str]]:
    return [(name, key) for name, ctx in REQUIRED_KEYS.items() for key in ctx]


@pytest.mark.parametrize(("template", "missing"), _required_cases())
def test_missing_variable_raises_undefined_error(template: str, missing: str) -> None:
    ctx = {k: v for k, v in REQUIRED_KEYS[template].items() if k != missing}
    with pytest.raises(jinja2.UndefinedError, match=missing):
        render(template, **ctx)


@pytest.mark.parametrize(
    ("template", "ctx"),
    [
        *[("nginx-site.conf.j2", c) for c in NGINX_SAMPLES.values()],
        *[("wayshub.service.j2", c) for c in UNIT_SAMPLES.values()],
        *[("hosts-block.j2", c) for c, _ in HOSTS_SAMPLES.values()],
    ],
)
def test_output_is_clean_text(template: str, ctx: Context) -> None:
    """No jinja tag residue, no whitespace-only lines, exactly one trailing newline."""
    text = render(template, **ctx)
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert "{{" not in text and "{%" not in text
    assert [line for line in text.splitlines() if line and not line.strip()] == []
    assert [line for line in text.splitlines() if line != line.rstrip()] == []


def test_unknown_template_is_an_error() -> None:
    with pytest.raises(jinja2.TemplateNotFound):
        render("no-such-template.j2")
