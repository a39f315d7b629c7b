"""The rendered nginx site, clean under gixy (nginx config security analyzer); `make lint` runs this.

Rendered for each shape we deploy (plain HTTP, self-signed TLS with HSTS, provided TLS on a custom
port, ACME with its port-80 file) inside a minimal nginx.conf, then analysed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from components.config import LoadBalancerConfig
from components.load_balancer.nginx import acme_front_text, render_site

GIXY = shutil.which("gixy") or str(Path(sys.executable).parent / "gixy")
BACKENDS = ["172.30.77.11:3000", "172.30.77.12:3000"]
TLS = {"certificate_path": "/etc/nginx/tls/s.crt", "key_path": "/etc/nginx/tls/s.key"}
CASES = {
    "plain": (LoadBalancerConfig(), None, 443),
    "self-signed-hsts": (LoadBalancerConfig.model_validate({"tls": "self-signed", "hsts": True}), TLS, 8443),
    "provided": (LoadBalancerConfig.model_validate({"tls": "provided", "httpsPort": 8443}), TLS, 8443),
    "acme": (LoadBalancerConfig.model_validate({"tls": "acme", "acme": {"directoryUrl": "letsencrypt"}}), TLS, 443),
}


@pytest.mark.skipif(not Path(GIXY).exists(), reason="gixy is not installed (pip install -r requirements-dev.txt)")
@pytest.mark.parametrize("case", list(CASES))
def test_rendered_site_has_no_gixy_findings(tmp_path: Path, case: str) -> None:
    settings, tls, https_port = CASES[case]
    acme = settings.tls == "acme"
    site = render_site("wayshub-local", "wayshub.local", BACKENDS, settings, tls, https_port, acme)
    if acme:  # its port-80 server is its own file (HTTP-01 answers, else a redirect)
        site += acme_front_text("wayshub-local", "wayshub.local", settings, https_port)
    conf = tmp_path / "nginx.conf"
    conf.write_text("events {}\nhttp {\n" + site + "}\n")
    result = subprocess.run([GIXY, "--format", "text", str(conf)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No issues found" in result.stdout, result.stdout
