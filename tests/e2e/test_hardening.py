"""Hardening against the real engine and sandbox VMs: HTTPS, secrets, host keys and faults.

Runs on the session's deployed site; every test puts the site back as it found it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import USER_HOSTS_LINES
from tests.e2e.site import (
    DOMAIN,
    HTTPS_PORT,
    SITE_STACK,
    Site,
    get,
    get_http_headers,
    get_https,
    write_stack_config,
)

pytestmark = pytest.mark.e2e

APP_SERVERS = ["app1", "app2"]
TOKEN = "wayshub-test-token-3f9c1d7e5b"


@pytest.fixture()
def hardened(site: Site) -> Iterator[Site]:
    yield site
    write_stack_config(site, app_servers=APP_SERVERS)
    site.cli.run("up", "--yes", "--skip-preview")


def state_text(site: Site) -> str:
    state_dir = Path(site.cli.env["PULUMI_BACKEND_URL"].removeprefix("file://"))
    return "\n".join(p.read_text(errors="replace") for p in state_dir.rglob("*") if p.is_file())


def secret_lines(pem: str) -> list[str]:
    return [line for line in pem.splitlines() if line and "-----" not in line]


def test_https_with_the_self_signed_ca_and_secrets_stay_secret(hardened: Site) -> None:
    site = hardened
    write_stack_config(site, app_servers=APP_SERVERS, extra={"wayshub:lb": {"tls": "self-signed"}})
    site.cli.run("config", "set", "--secret", "--path", "wayshub:appSecrets.API_TOKEN", TOKEN)
    up = site.cli.run("up", "--yes", "--skip-preview")
    preview = site.cli.run("preview", "--diff")

    ca = site.cli.outputs()["ca_certificate"]
    status, headers = get_https(ca)
    assert status == 200 and headers["x-wayshub-backend"] in APP_SERVERS
    assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"
    assert headers["server"] == "nginx", "server_tokens off hides the version"
    assert "strict-transport-security" not in headers, "HSTS is off unless lb.hsts is set"
    status, headers = get_http_headers("/some/page?x=1")
    assert (status, headers["location"]) == (301, f"https://{DOMAIN}:{HTTPS_PORT}/some/page?x=1")
    assert site.cli.outputs()["url"] == f"https://{DOMAIN}:{HTTPS_PORT}/"

    env_file = site.sh("app1", "cat /opt/wayshub/current/env; stat -c %a /opt/wayshub/current/env").stdout
    assert f"API_TOKEN={TOKEN}\n" in env_file and env_file.endswith("600\n")
    exported = json.loads(site.cli.run("stack", "export", "--show-secrets").stdout)
    (tls,) = [r for r in exported["deployment"]["resources"] if r["urn"].endswith("::tls")]
    tls_key = json.loads(tls["outputs"]["private_key"]["plaintext"])
    key_mode = site.sh("lb", f"stat -c %a /etc/nginx/tls/wayshub-{SITE_STACK}.key").stdout.strip()
    assert key_mode == "600"
    everything_logged = state_text(site) + up.stdout + up.stderr + preview.stdout + preview.stderr
    assert TOKEN not in everything_logged
    assert not [line for line in secret_lines(tls_key) if line in everything_logged]


def test_a_changed_host_key_is_refused(hardened: Site) -> None:
    site = hardened
    save = "mkdir -p /root/keys && cp -a /etc/ssh/ssh_host_* /root/keys/"
    swap = "rm -f /etc/ssh/ssh_host_* && ssh-keygen -A >/dev/null && systemctl restart ssh"
    restore = "cp -a /root/keys/ssh_host_* /etc/ssh/ && systemctl restart ssh"
    site.sh("app1", f"{save} && {swap}")
    try:
        write_stack_config(site, app_servers=APP_SERVERS, extra={"wayshub:app": {"env": {"GREETING": "hello"}}})
        result = site.cli.run("up", "--yes", "--skip-preview", check=False)
        assert result.returncode != 0
        assert "not the pinned" in result.stdout and "refusing to connect" in result.stdout
        assert "GREETING" not in site.sh("app1", "cat /opt/wayshub/current/env").stdout
    finally:
        site.sh("app1", restore)


def test_an_unreachable_app_host_fails_clearly_and_the_site_keeps_serving(hardened: Site) -> None:
    site = hardened
    site_before = site.sh("lb", f"cat /etc/nginx/conf.d/wayshub-{SITE_STACK}.conf").stdout
    subprocess.run(["docker", "stop", site.container("app2")], check=True, capture_output=True)
    try:
        write_stack_config(
            site,
            app_servers=APP_SERVERS,
            extra={"wayshub:app": {"env": {"GREETING": "hello"}}},
            hosts_extra={"dialTimeoutSeconds": 5},
        )
        started = time.monotonic()
        result = site.cli.run("up", "--yes", "--skip-preview", check=False)
        took = time.monotonic() - started
        assert result.returncode != 0
        assert "cannot reach wayshub@127.0.0.1:" in result.stdout and "over SSH within 5s" in result.stdout
        assert took < 120, f"the failure took {took:.0f}s"
        assert site.sh("lb", f"cat /etc/nginx/conf.d/wayshub-{SITE_STACK}.conf").stdout == site_before
        answers = [get() for _ in range(50)]
        assert {a.status for a in answers} == {200} and {a.backend for a in answers} == {"app1"}
    finally:
        subprocess.run(["docker", "start", site.container("app2")], check=True, capture_output=True)


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, their children, …), read from /proc."""
    parent_of: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent_of[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: list[int] = []
    frontier = [pid]
    while frontier:
        children = [child for child, parent in parent_of.items() if parent in frontier]
        found += children
        frontier = children
    return found


def test_an_interrupted_up_converges_when_run_again(hardened: Site) -> None:
    site = hardened
    (site.project / "app" / "VARIANT").write_text("interrupted\n")
    try:
        process = subprocess.Popen(
            ["pulumi", "--non-interactive", "up", "--yes", "--skip-preview"],
            cwd=site.project,
            env=site.cli.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and "releases" not in site.sh("app1", "ls /opt/wayshub", check=False).stdout:
            time.sleep(0.2)
        # Mid-deploy: the new release is on its way; kill the engine like a closed laptop lid would.
        time.sleep(1.0)
        # Kill what we started (the engine and the plugins it started, which run in process groups of
        # their own) by pid, all at once, like a closed laptop lid would.
        for pid in [process.pid, *descendants(process.pid)]:
            os.kill(pid, signal.SIGKILL)
        process.wait(timeout=30)

        # What `make recover` does: drop the dead run's lock, forget its half-made creates, read the hosts.
        site.cli.run("cancel", "--yes")
        site.cli.run("refresh", "--yes", "--skip-preview", "--clear-pending-creates")
        site.cli.run("up", "--yes", "--skip-preview")
        assert set(site.cli.up_summary()) == {"same"}
        release = site.cli.outputs()["release"]
        assert [site.sh(s, "basename $(readlink /opt/wayshub/current)").stdout.strip() for s in APP_SERVERS] == [
            release,
            release,
        ]
    finally:
        (site.project / "app" / "VARIANT").unlink(missing_ok=True)


def test_someone_elses_hosts_file_edits_survive_and_our_block_is_restored(hardened: Site) -> None:
    site = hardened
    ours = f"# BEGIN wayshub-infra {SITE_STACK}\n127.0.0.1\t{DOMAIN}\n# END wayshub-infra {SITE_STACK}\n"
    assert site.hosts_file.read_text() == USER_HOSTS_LINES + ours
    edited = USER_HOSTS_LINES + ours.replace("127.0.0.1", "10.6.6.6") + "192.0.2.7\ttheirs.example\n"
    site.hosts_file.write_text(edited)

    refreshed = site.cli.run("refresh", "--yes", "--skip-preview", "--diff")
    assert "10.6.6.6" in refreshed.stdout, "refresh must show the edited block as drift"
    site.cli.run("up", "--yes", "--skip-preview")
    assert site.hosts_file.read_text() == USER_HOSTS_LINES + ours + "192.0.2.7\ttheirs.example\n"
    site.hosts_file.write_text(USER_HOSTS_LINES + ours)
