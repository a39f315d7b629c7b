"""`make up`'s lines for each site (scripts/site-urls): its URL and curl, and a self-signed site's CA saved where
that curl reads it; nothing for a stack without sites."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "site-urls"


def run(tmp_path: Path, stdin: str) -> str:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "dev"], input=stdin, cwd=tmp_path, capture_output=True, text=True, check=True
    )
    return done.stdout


def test_each_site_gets_its_url_and_curl_and_a_self_signed_ones_ca_is_saved(tmp_path: Path) -> None:
    sites = {
        "shop": {
            "url": "https://shop.local:18443/",
            "curl": "curl --cacert .wayshub/ca-dev-shop.pem x",
            "ca_certificate": "PEM\n",
        },
        "api": {"url": "http://api.local:18080/", "curl": "curl y"},
    }
    out = run(tmp_path, json.dumps(sites))
    assert out.splitlines() == [
        "URL (shop):  https://shop.local:18443/",
        "Try (shop):  curl --cacert .wayshub/ca-dev-shop.pem x",
        "URL (api):  http://api.local:18080/",
        "Try (api):  curl y",
    ]
    assert (tmp_path / ".wayshub" / "ca-dev-shop.pem").read_text() == "PEM\n"
    assert [p.name for p in (tmp_path / ".wayshub").iterdir()] == ["ca-dev-shop.pem"]


def test_a_stack_without_sites_prints_nothing(tmp_path: Path) -> None:
    assert run(tmp_path, "") == ""
