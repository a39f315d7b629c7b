"""The app unit's and nginx's sandboxing: the settings rendered, and the drop-in installer run for real.

What these settings score (`systemd-analyze security`) and that the apps still run under them is proven
on sandbox VMs by tests/e2e/test_app_env_and_sandboxing.py.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from components.hosts.survey import HOST_SCRIPTS
from components.load_balancer.nginx import SANDBOX_SCRIPT, sandbox_command, sandbox_dropin
from components.render import render
from tests.templates.test_render import UNIT_SAMPLES, unit_lines, unit_setting

APP_SANDBOX = {
    "NoNewPrivileges": "true",
    "CapabilityBoundingSet": "",
    "AmbientCapabilities": "",
    "ProtectSystem": "strict",
    "ProtectHome": "true",
    "PrivateTmp": "true",
    "PrivateDevices": "true",
    "ProtectKernelTunables": "true",
    "ProtectKernelModules": "true",
    "ProtectKernelLogs": "true",
    "ProtectControlGroups": "true",
    "ProtectClock": "true",
    "ProtectHostname": "true",
    "ProtectProc": "invisible",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    "RestrictNamespaces": "true",
    "RestrictRealtime": "true",
    "RestrictSUIDSGID": "true",
    "LockPersonality": "true",
    "UMask": "0077",
    "SystemCallArchitectures": "native",
    "SystemCallErrorNumber": "EPERM",
}


@pytest.mark.parametrize("sample", UNIT_SAMPLES)
def test_the_app_unit_is_sandboxed_but_lets_node_jit_and_raise_its_file_limit(sample: str) -> None:
    text = render("wayshub.service.j2", **UNIT_SAMPLES[sample])
    for key, value in APP_SANDBOX.items():
        assert unit_setting(text, "Service", key) == value, key
    filters = [v for s, k, v in unit_lines(text) if k == "SystemCallFilter"]
    assert filters == ["@system-service", "~@privileged"], "@resources stays: Node raises RLIMIT_NOFILE"
    keys = {k for _, k, _ in unit_lines(text)}
    assert "MemoryDenyWriteExecute" not in keys, "Node's JIT needs writable+executable memory"
    # The deploy's probe reads the app's /proc/<pid>/fd as the app's user: no user namespace in between.
    assert "PrivateUsers" not in keys and "ReadWritePaths" not in keys, "the app writes nothing of its release"


def test_nginx_drop_in_keeps_only_what_nginx_needs() -> None:
    text = render("nginx-sandbox.conf.j2")
    assert [s for s, _, _ in unit_lines(text)] == ["Service"] * len(unit_lines(text))
    caps = unit_setting(text, "Service", "CapabilityBoundingSet").split()
    assert sorted(caps) == ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_NET_BIND_SERVICE", "CAP_SETGID", "CAP_SETUID"]
    assert unit_setting(text, "Service", "ReadWritePaths").split() == ["/var/log/nginx", "/var/lib/nginx", "/run"]
    for key in ("ProtectSystem", "NoNewPrivileges", "MemoryDenyWriteExecute", "ProtectHome", "PrivateDevices"):
        assert unit_setting(text, "Service", key) in ("strict", "true"), key


# --- host/nginx-sandbox.sh, run here with stand-ins for systemctl and journalctl ---------------------

FAKE_SYSTEMCTL = """#!/usr/bin/env bash
echo "systemctl $*" >> "$CALLS"
if [ "$1" = restart ] && grep -qs BROKEN "$DROPIN_DIR"/*.conf; then exit 1; fi
exit 0
"""


ACTIVE = "systemctl is-active --quiet nginx"


def run_installer(
    tmp_path: Path, text: str, sites: tuple[str, ...] = ("sites-enabled/default",)
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run the installer; ``sites`` are the files under NGINX_DIR (nginx runs: the fake says active)."""
    nginx_dir = tmp_path / "nginx"
    for folder in ("conf.d", "sites-enabled"):
        shutil.rmtree(nginx_dir / folder, ignore_errors=True)
        (nginx_dir / folder).mkdir(parents=True)
    for site in sites:
        (nginx_dir / site).write_text("server {}\n")
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "systemctl").write_text(FAKE_SYSTEMCTL)
    (bin_dir / "journalctl").write_text("#!/bin/sh\necho 'nginx: [emerg] the journal line'\n")
    for tool in ("systemctl", "journalctl"):
        (bin_dir / tool).chmod(0o755)
    calls.write_text("")
    dropin = tmp_path / "nginx.service.d" / "site-sandbox.conf"
    inputs = {
        "DROPIN": str(dropin),
        "DROPIN_TEXT": text.rstrip("\n"),
        "JOURNAL_LINES": "5",
        "NGINX_DIR": str(nginx_dir),
    }
    script = "".join(f"{k}={shlex.quote(v)}\n" for k, v in inputs.items()) + SANDBOX_SCRIPT.read_text()
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "CALLS": str(calls),
        "DROPIN_DIR": str(dropin.parent),
    }
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env)
    return result, calls.read_text().splitlines()


def test_the_drop_in_is_installed_once_and_nginx_restarted_to_take_it(tmp_path: Path) -> None:
    text = render("nginx-sandbox.conf.j2")
    result, calls = run_installer(tmp_path, text)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "nginx.service.d" / "site-sandbox.conf").read_text() == text
    assert calls == ["systemctl daemon-reload", ACTIVE, "systemctl restart nginx"]
    again, calls = run_installer(tmp_path, text)
    assert again.returncode == 0 and calls == [], "an unchanged drop-in restarts nothing"


def test_a_drop_in_nginx_cannot_start_with_is_taken_back_and_nginx_started_as_before(tmp_path: Path) -> None:
    good = render("nginx-sandbox.conf.j2")
    run_installer(tmp_path, good)
    result, calls = run_installer(tmp_path, "[Service]\nReadWritePaths=/BROKEN\n")
    assert result.returncode == 1
    assert "does not start with the sandboxing drop-in" in result.stderr
    assert "the previous setup is back and nginx runs" in result.stderr and "[emerg] the journal line" in result.stderr
    assert (tmp_path / "nginx.service.d" / "site-sandbox.conf").read_text() == good
    tried, put_back = ["systemctl daemon-reload", ACTIVE, "systemctl restart nginx"], ["systemctl daemon-reload"]
    assert calls == [*tried, *put_back, "systemctl restart nginx"]
    assert sorted(p.name for p in (tmp_path / "nginx.service.d").iterdir()) == ["site-sandbox.conf"]


def test_removing_the_drop_in_restarts_a_running_nginx_without_it(tmp_path: Path) -> None:
    run_installer(tmp_path, render("nginx-sandbox.conf.j2"))
    result, calls = run_installer(tmp_path, "")
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "nginx.service.d").exists()
    assert calls == ["systemctl daemon-reload", ACTIVE, "systemctl try-restart nginx"]


@pytest.mark.parametrize("site", ["conf.d/wayshub-e2e.conf", "sites-enabled/their-shop"])
def test_an_nginx_that_already_serves_a_site_is_never_restarted_for_the_drop_in(tmp_path: Path, site: str) -> None:
    """A restart drops every connection: on a serving LB (an upgrade, someone else's sites) the drop-in
    waits for nginx's next restart, both ways."""
    text = render("nginx-sandbox.conf.j2")
    result, calls = run_installer(tmp_path, text, sites=("sites-enabled/default", site))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "nginx.service.d" / "site-sandbox.conf").read_text() == text
    assert calls == ["systemctl daemon-reload", ACTIVE]
    assert "takes effect at its next restart" in result.stderr
    removed, calls = run_installer(tmp_path, "", sites=(site,))
    assert removed.returncode == 0 and not (tmp_path / "nginx.service.d").exists()
    assert calls == ["systemctl daemon-reload", ACTIVE]


def test_the_command_is_sent_with_the_host_functions_and_names_the_sites_own_drop_in() -> None:
    command = sandbox_command("wayshub-prod", "[Service]\n")
    assert "DROPIN=/etc/systemd/system/nginx.service.d/wayshub-prod-sandbox.conf" in command
    assert "NGINX_DIR=/etc/nginx" in command
    assert sandbox_dropin("wayshub-prod") == "/etc/systemd/system/nginx.service.d/wayshub-prod-sandbox.conf"
    assert command.startswith("sudo -n bash -c ")


def test_the_installer_is_shellcheck_clean_as_sent(tmp_path: Path) -> None:
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed")
    sent = tmp_path / "sent.sh"
    sent.write_text("#!/usr/bin/env bash\n" + (HOST_SCRIPTS / "lib.sh").read_text() + SANDBOX_SCRIPT.read_text())
    result = subprocess.run(["shellcheck", "-S", "warning", "-s", "bash", str(sent)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
