"""Several sites on one nginx (issue 31): each site's file, with its names and certificate, and the server that
refuses a name no site has, pass the real ``nginx -t`` together without a warning (no name claimed twice)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import crossplane

from components.config import LoadBalancerConfig
from components.load_balancer.nginx import render_site
from components.load_balancer.tls import self_signed
from components.load_balancer.unknown_names import unknown_names_text
from tests.templates.test_nginx_syntax import BASE, NGINX, nginx_test, pytestmark  # noqa: F401 (skips without nginx)

SETTINGS = LoadBalancerConfig.model_validate({"listenPort": 8080, "httpsPort": 8443, "tls": "self-signed"})


def _tls(tmp_path: Path, name: str, domain: str, aliases: list[str]) -> dict[str, str]:
    made = self_signed(domain, "sites-test", aliases)
    (tmp_path / f"{name}.crt").write_text(made["certificate"])
    (tmp_path / f"{name}.key").write_text(made["private_key"])
    return {"certificate_path": str(tmp_path / f"{name}.crt"), "key_path": str(tmp_path / f"{name}.key")}


def test_two_sites_and_the_unknown_names_server_pass_nginx_t_together_without_warnings(tmp_path: Path) -> None:
    assert nginx_test(tmp_path, BASE).returncode == 0  # the harness's nginx.conf, including site.conf
    files = {
        "00-unknown": unknown_names_text("local", SETTINGS, tls=True),
        "main": render_site(
            "wayshub-local", "wayshub.local", ["10.0.0.11:3000"], SETTINGS, _tls(tmp_path, "main", "wayshub.local", [])
        ),
        "shop": render_site(
            "wayshub-local-shop",
            "shop.local",
            ["10.0.0.12:3001"],
            SETTINGS,
            _tls(tmp_path, "shop", "shop.local", ["www.shop.local", "*.shop.local"]),
            aliases=["www.shop.local", "*.shop.local"],
        ),
    }
    site = tmp_path / "site.conf"
    for name, text in files.items():
        (tmp_path / f"{name}.conf").write_text(text)
    site.write_text("".join(f"include {tmp_path / name}.conf;\n" for name in files))
    result = subprocess.run(
        [
            str(NGINX),
            "-t",
            "-c",
            str(tmp_path / "nginx.conf"),
            "-p",
            str(tmp_path),
            "-e",
            str(tmp_path / "logs/error.log"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0 and "[warn]" not in result.stderr, result.stderr
    parsed = crossplane.parse(str(tmp_path / "shop.conf"), single=True, check_ctx=False)
    names = {
        tuple(d["args"])
        for server in parsed["config"][0]["parsed"]
        if server["directive"] == "server"
        for d in server["block"]
        if d["directive"] == "server_name"
    }
    assert names == {("shop.local", "www.shop.local", "*.shop.local")}, names
    refusing = crossplane.parse(str(tmp_path / "00-unknown.conf"), single=True, check_ctx=False)
    (server,) = [d["block"] for d in refusing["config"][0]["parsed"] if d["directive"] == "server"]
    assert ["444"] in [d["args"] for d in server if d["directive"] == "return"]
    assert ["on"] in [d["args"] for d in server if d["directive"] == "ssl_reject_handshake"]
    # Not `default_server`: a server of yours that says so keeps that role (docs/sites.md).
    assert not any("default_server" in d["args"] for d in server if d["directive"] == "listen")


def _nginx_t(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    conf, logs = tmp_path / "nginx.conf", tmp_path / "logs/error.log"
    command = [str(NGINX), "-t", "-c", str(conf), "-p", str(tmp_path), "-e", str(logs)]
    return subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)


def test_a_site_serving_a_path_of_anothers_domain_passes_nginx_t_and_its_folder_may_be_empty(tmp_path: Path) -> None:
    from components.load_balancer.nginx import path_site_texts

    assert nginx_test(tmp_path, BASE).returncode == 0
    paths = tmp_path / "paths" / "wayshub-local"
    settings = LoadBalancerConfig.model_validate({"listenPort": 8080})
    main = render_site("wayshub-local", "wayshub.local", ["10.0.0.11:3000"], settings, path_files=f"{paths}/*.conf")
    site = tmp_path / "site.conf"
    site.write_text(main)
    # The first site's include comes before any path's file (its folder does not exist yet): nginx -t is fine.
    result = _nginx_t(tmp_path)
    assert result.returncode == 0 and "[warn]" not in result.stderr, result.stderr
    upstream, location = path_site_texts(
        "wayshub-local-api", "wayshub-local", "wayshub.local", "/api", ["10.0.0.12:3001"], settings
    )
    paths.mkdir(parents=True)
    (paths / "wayshub-local-api.conf").write_text(location)
    (tmp_path / "api-upstream.conf").write_text(upstream)
    site.write_text(f"include {tmp_path / 'api-upstream.conf'};\n{main}")
    result = _nginx_t(tmp_path)
    assert result.returncode == 0 and "[warn]" not in result.stderr, result.stderr
    parsed = crossplane.parse(str(paths / "wayshub-local-api.conf"), single=True, check_ctx=False)
    locations = [d for d in parsed["config"][0]["parsed"] if d["directive"] == "location"]
    assert [d["args"] for d in locations] == [["=", "/api"], ["/api/"]]
    for block in locations:
        assert ["http://wayshub_local_api"] in [d["args"] for d in block["block"] if d["directive"] == "proxy_pass"]
