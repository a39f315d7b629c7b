"""Validate the rendered nginx site with the real `nginx -t`, the same check the LB runs before a swap.

Each case writes a self-contained nginx.conf into tmp_path (pid, logs and temp paths inside it) that
includes the rendered site, so the test needs neither root nor the system's nginx config. `nginx -t`
resolves upstream host names, so samples use IP literals.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from components.render import render
from tests.templates.test_render import CLIENT_BEHIND_PROXIES, CLIENT_DEFAULTS

Context = dict[str, Any]


def _find_nginx() -> str | None:
    found = shutil.which("nginx")
    if found is None and os.access("/usr/sbin/nginx", os.X_OK):  # sbin is not on every PATH
        found = "/usr/sbin/nginx"
    return found


NGINX = _find_nginx()
# `make test` sets WAYSHUB_REQUIRE_NGINX=1 (after scripts/ensure-test-tools): there a missing nginx fails
# every test here instead of skipping them. Elsewhere (make quick, a bare pytest) they skip.
REQUIRE_NGINX = os.environ.get("WAYSHUB_REQUIRE_NGINX") == "1"
pytestmark = pytest.mark.skipif(
    NGINX is None and not REQUIRE_NGINX, reason="nginx is not installed (apt-get install nginx-light); CI installs it"
)


@pytest.fixture(autouse=True)
def _nginx_is_installed() -> None:
    if NGINX is None:
        pytest.fail("nginx is not installed and WAYSHUB_REQUIRE_NGINX=1: run scripts/ensure-test-tools", pytrace=False)


BASE: Context = {
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
}

VALID: dict[str, Context] = {
    "local-two-backends": BASE,
    "prod-three-backends": {
        **BASE,
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
    },
    "single-ipv6-backend": {
        **BASE,
        "site_name": "wayshub_v6",
        "domain": "v6.wayshub.test",
        "listen_port": 8081,
        "backends": ["[fd00::11]:3000"],
        "next_upstream_tries": 1,
        "client": CLIENT_BEHIND_PROXIES,
    },
}

# Each broken context with the message nginx must give for it.
BROKEN: dict[str, tuple[Context, str]] = {
    "backend-not-an-address": (
        {**BASE, "backends": ["172.28.0.11:3000", "not-an-address:abc"]},
        "invalid port",
    ),
    "backend-unresolvable-name": (
        {**BASE, "backends": ["backend-does-not-exist.invalid:3000"]},
        "host not found in upstream",
    ),
    "no-backends": ({**BASE, "backends": []}, "no servers are inside upstream"),
    "bad-timeout": ({**BASE, "proxy_read_timeout": "thirty"}, "invalid value"),
}


LISTEN = re.compile(r"^(\s*listen\s+(?:\[::\]:)?)([0-9]+)\b", re.MULTILINE)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unprivileged(site: str) -> str:
    """``nginx -t`` binds every listen port. A user who is not root (`make test` on a laptop) may not bind
    one below 1024, so there each such port becomes a free one; nothing else in the site changes."""
    if os.geteuid() == 0:
        return site
    ports: dict[str, str] = {}

    def move(match: re.Match[str]) -> str:
        port = match.group(2)
        if int(port) >= 1024:
            return match.group(0)
        return match.group(1) + ports.setdefault(port, str(_free_port()))

    return LISTEN.sub(move, site)


def nginx_test(tmp_path: Path, ctx: Context) -> subprocess.CompletedProcess[str]:
    """Render the site for `ctx`, wrap it in a throwaway nginx.conf and run `nginx -t` on it."""
    assert NGINX is not None
    (tmp_path / "logs").mkdir()  # where a build whose default error log is a file would write
    site = tmp_path / "site.conf"
    site.write_text(unprivileged(render("nginx-site.conf.j2", **ctx)))
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        f"pid {tmp_path}/nginx.pid;\n"
        f"error_log {tmp_path}/logs/error.log;\n"
        "events {}\n"
        "http {\n"
        f"    access_log {tmp_path}/logs/access.log;\n"
        f"    client_body_temp_path {tmp_path}/client_body;\n"
        f"    proxy_temp_path {tmp_path}/proxy;\n"
        f"    fastcgi_temp_path {tmp_path}/fastcgi;\n"
        f"    uwsgi_temp_path {tmp_path}/uwsgi;\n"
        f"    scgi_temp_path {tmp_path}/scgi;\n"
        f"    include {site};\n"
        "}\n"
    )
    cmd = [NGINX, "-t", "-c", str(conf), "-p", str(tmp_path), "-e", str(tmp_path / "logs/error.log")]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)


@pytest.mark.parametrize("sample", VALID)
def test_rendered_site_passes_nginx_t(tmp_path: Path, sample: str) -> None:
    result = nginx_test(tmp_path, VALID[sample])
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr
    assert "test is successful" in result.stderr
    # Warnings (e.g. a conflicting server_name) would be surprises in production too.
    assert "[warn]" not in result.stderr, result.stderr


@pytest.mark.parametrize("case", BROKEN)
def test_broken_site_fails_nginx_t(tmp_path: Path, case: str) -> None:
    ctx, message = BROKEN[case]
    result = nginx_test(tmp_path, ctx)
    assert result.returncode != 0, f"nginx -t accepted a broken site:\n{result.stderr}"
    assert message in result.stderr
    assert "test failed" in result.stderr
    assert str(tmp_path / "site.conf") in result.stderr, "error should point at the site file"


def tls_context(tmp_path: Path, hsts: bool) -> Context:
    """The site with TLS on, its certificate and key written where nginx -t will load them."""
    from components.load_balancer.tls import self_signed

    made = self_signed("wayshub.local", "test")
    (tmp_path / "site.crt").write_text(made["certificate"])
    (tmp_path / "site.key").write_text(made["private_key"])
    return {
        **BASE,
        "listen_port": 8080,
        "tls": {"certificate_path": str(tmp_path / "site.crt"), "key_path": str(tmp_path / "site.key")},
        "https_port": 8443,
        "https_redirect_port": ":8443",
        "hsts": hsts,
        "client_max_body_size": "1m",
    }


@pytest.mark.parametrize("hsts", [False, True])
def test_tls_site_with_a_real_certificate_passes_nginx_t(tmp_path: Path, hsts: bool) -> None:
    result = nginx_test(tmp_path, tls_context(tmp_path, hsts))
    assert result.returncode == 0, result.stderr
    assert "[warn]" not in result.stderr, result.stderr


def test_tls_site_redirects_http_and_hardens_https(tmp_path: Path) -> None:
    import crossplane

    site = tmp_path / "site.conf"
    site.write_text("http {\n" + render("nginx-site.conf.j2", **tls_context(tmp_path, hsts=True)) + "}\n")
    parsed = crossplane.parse(str(site), single=True, check_ctx=True, check_args=True)
    assert parsed["status"] == "ok", parsed["errors"]
    http_block = parsed["config"][0]["parsed"][0]["block"]
    servers = [d["block"] for d in http_block if d["directive"] == "server"]
    assert len(servers) == 2

    def directives(block: list[dict[str, Any]], name: str) -> list[list[str]]:
        return [d["args"] for d in block if d["directive"] == name]

    plain, secure = servers
    assert directives(plain, "listen") == [["8080"]]
    redirect = next(d for d in plain if d["directive"] == "location" and d["args"] == ["/"])["block"]
    assert directives(redirect, "return") == [["301", "https://$host:8443$request_uri"]]
    assert directives(secure, "listen") == [["8443", "ssl", "http2"]]
    assert directives(secure, "ssl_protocols") == [["TLSv1.2", "TLSv1.3"]]
    assert directives(secure, "server_tokens") == [["off"]]
    assert directives(secure, "client_max_body_size") == [["1m"]]
    headers = [args[0] for args in directives(secure, "add_header")]
    assert headers == ["X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy", "Strict-Transport-Security"]


def test_acme_port_80_file_and_the_https_site_pass_nginx_t_together_without_warnings(tmp_path: Path) -> None:
    """``lb.tls: acme``: the port-80 server is its own file; with the site's, one server per port and name."""
    import crossplane

    from components.config import LoadBalancerConfig
    from components.load_balancer.nginx import acme_front_text

    settings = LoadBalancerConfig.model_validate({"listenPort": 8080, "httpsPort": 8443})
    front = tmp_path / "front.conf"
    front.write_text(acme_front_text("wayshub-local", "wayshub.local", settings, 8443))
    ctx = {**tls_context(tmp_path, hsts=False), "acme_front": True}
    result = nginx_test(tmp_path, ctx)  # the site alone: the HTTPS server only
    assert result.returncode == 0 and "[warn]" not in result.stderr, result.stderr
    site = tmp_path / "site.conf"
    site.write_text(site.read_text() + f"include {front};\n")
    conf = tmp_path / "nginx.conf"
    result = subprocess.run(
        [str(NGINX), "-t", "-c", str(conf), "-p", str(tmp_path), "-e", str(tmp_path / "logs/error.log")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0 and "[warn]" not in result.stderr, result.stderr
    parsed = crossplane.parse(str(front), single=True, check_ctx=False, check_args=True)
    (server,) = [d["block"] for d in parsed["config"][0]["parsed"] if d["directive"] == "server"]
    challenge = next(d for d in server if d["directive"] == "location" and "/.well-known/acme-challenge/" in d["args"])
    assert challenge["args"] == ["^~", "/.well-known/acme-challenge/"]
    assert [d["args"] for d in challenge["block"] if d["directive"] == "root"] == [
        ["/var/lib/wayshub/acme/wayshub-local"]
    ]
    redirect = next(d for d in server if d["directive"] == "location" and d["args"] == ["/"])["block"]
    assert [d["args"] for d in redirect if d["directive"] == "return"] == [["301", "https://$host:8443$request_uri"]]
    assert "listen 8080" not in site.read_text().split("include")[0], "the site file has no port-80 server"
