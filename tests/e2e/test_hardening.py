"""Hardening against the real engine and sandbox VMs: HTTPS, secrets, host keys and faults.

Runs on the session's deployed site; every test puts the site back as it found it.
"""

from __future__ import annotations

import base64
import json
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

from bench.loadgen import BackgroundLoad
from components.config.hosts import host_address
from components.hosts.ssh_key import generate_ed25519
from components.load_balancer.tls import self_signed
from tests.e2e.conftest import USER_HOSTS_LINES
from tests.e2e.processes import engine_of_this_process, kill_tree
from tests.e2e.pulumi_cli import (
    REPO,
    STARTED,
    PulumiCli,
    UpResult,
    copy_program,
    engine_env,
    stack_file_text,
    step_of,
    up_with_events,
)
from tests.e2e.site import (
    COMMANDS,
    DOMAIN,
    HTTP_PORT,
    HTTPS_PORT,
    SITE_STACK,
    SSH_PORT_BASE,
    SUBNET,
    Site,
    get,
    get_http_headers,
    get_https,
    live_release,
    write_stack_config,
)

sys.path.insert(0, str(REPO / "scripts"))  # scripts/ is a folder of tools, not a package
from torn_state import repair

pytestmark = pytest.mark.e2e

APP_SERVERS = ["app1", "app2"]
TOKEN = "wayshub-test-token-3f9c1d7e5b"


@pytest.fixture()
def hardened(site: Site) -> Iterator[Site]:
    yield site
    write_stack_config(site, app_servers=APP_SERVERS)
    site.cli.up()


def state_text(site: Site) -> str:
    state_dir = Path(site.cli.env["PULUMI_BACKEND_URL"].removeprefix("file://"))
    return "\n".join(p.read_text(errors="replace") for p in state_dir.rglob("*") if p.is_file())


def secret_lines(pem: str) -> list[str]:
    return [line for line in pem.splitlines() if line and "-----" not in line]


def test_https_with_the_self_signed_ca(hardened: Site) -> None:
    site = hardened
    write_stack_config(site, app_servers=APP_SERVERS, extra={"wayshub:lb": {"tls": "self-signed"}})
    site.cli.set_config("wayshub:appSecrets.API_TOKEN", TOKEN, secret=True, path=True)
    site.cli.up()

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
    key_mode = site.sh("lb", f"stat -c %a /etc/nginx/tls/wayshub-{SITE_STACK}.key").stdout.strip()
    assert key_mode == "600"


# --- Secrets: each carried by a change the engine really makes, then looked for everywhere it could show. ---


def encodings(secret: str) -> dict[str, str]:
    """The secret and its obvious encodings: base64 of it, and each body line of a PEM/OpenSSH key."""
    forms = {"plaintext": secret, "base64": base64.b64encode(secret.encode()).decode()}
    body = [line for line in secret.splitlines() if line and "-----" not in line]
    # A key's last body line can be a few characters that occur anywhere by chance: lines of 16+ only.
    forms.update({f"PEM body line {n}": line for n, line in enumerate(body, 1) if len(line) >= 16})
    return forms


def leaks(secrets_by_name: dict[str, str], texts: dict[str, str]) -> list[str]:
    """Where any encoding of any secret shows, as '<secret> (<encoding>) in <text>'."""
    return [
        f"{name} ({form}) in {where}"
        for name, secret in secrets_by_name.items()
        for form, value in encodings(secret).items()
        for where, text in texts.items()
        if value in text
    ]


def planned_ops(preview_json: str) -> dict[str, str]:
    """Resource name -> the step the engine plans for it, from `pulumi preview --json`'s raw output."""
    return {step["urn"].rsplit("::", 1)[-1]: step["op"] for step in json.loads(preview_json)["steps"]}


def set_secret(cli: PulumiCli, key: str, value: str, path: bool = False) -> None:
    cli.set_config(key, value, secret=True, path=path)


def tls_config(pair: dict[str, str]) -> dict[str, object]:
    return {"wayshub:lb": {"tls": "provided"}, "wayshub:tlsCertificate": pair["certificate"]}


def test_a_new_tls_key_and_app_secret_change_what_runs_and_never_show(hardened: Site) -> None:
    site = hardened
    old_pair, new_pair = self_signed(DOMAIN, "secrets-old"), self_signed(DOMAIN, "secrets-new")
    old_token, new_token = (f"wayshub-test-token-{secrets.token_hex(12)}" for _ in range(2))
    write_stack_config(site, app_servers=APP_SERVERS, extra=tls_config(old_pair))
    set_secret(site.cli, "wayshub:tlsPrivateKey", old_pair["private_key"])
    set_secret(site.cli, "wayshub:appSecrets.API_TOKEN", old_token, path=True)
    site.cli.up()

    # The change: a new certificate and key, and a new value of an app secret.
    write_stack_config(site, app_servers=APP_SERVERS, extra=tls_config(new_pair))
    set_secret(site.cli, "wayshub:tlsPrivateKey", new_pair["private_key"])
    set_secret(site.cli, "wayshub:appSecrets.API_TOKEN", new_token, path=True)
    diff = site.cli.preview()
    raw = site.cli.preview(diff=False, json_output=True).stdout
    up = site.cli.up(diff=True)

    # The change is real: the key file and every host's release are rewritten, and the new ones serve.
    ops = planned_ops(raw)
    carriers = ["lb-tls-key", "app1-app-release", "app2-app-release"]
    assert {name: ops.get(name) for name in carriers} == {
        name: ops.get(name) for name in carriers if ops.get(name) in ("update", "replace")
    }, f"every carrier must change: {ops}"
    assert all(name in diff.stdout and name in up.stdout for name in carriers), diff.stdout[-3000:]
    assert "[secret]" in diff.stdout, "the diff shows the secret inputs as [secret]"
    assert get_https(new_pair["ca_certificate"])[0] == 200, "the new key serves"
    assert f"API_TOKEN={new_token}\n" in site.sh("app1", "cat /opt/wayshub/current/env").stdout

    texts = {
        "preview --diff": diff.stdout + diff.stderr,
        "preview --json": raw,
        "up --diff": up.stdout + up.stderr,
        "state": state_text(site),
    }
    found = leaks(
        {
            "new TLS key": new_pair["private_key"],
            "old TLS key": old_pair["private_key"],
            "new app secret": new_token,
            "old app secret": old_token,
        },
        texts,
    )
    assert not found, found


def test_the_dns_tsig_secret_never_shows_in_a_preview_or_a_failed_up(hardened: Site) -> None:
    site = hardened
    tsig = base64.b64encode(secrets.token_bytes(32)).decode()
    # A DNS server nobody runs (the discard port on loopback): previews need no server; the up fails.
    dns = {"server": "127.0.0.1", "port": 9, "zone": DOMAIN, "keyName": "wayshub-update", "timeoutSeconds": 3}
    write_stack_config(site, app_servers=APP_SERVERS, extra={"wayshub:dns": dns})
    set_secret(site.cli, "wayshub:dnsTsigSecret", tsig)
    diff = site.cli.preview()
    raw = site.cli.preview(diff=False, json_output=True).stdout
    up = site.cli.up(diff=True, check=False)

    assert planned_ops(raw).get(f"dns-{DOMAIN}") == "create", planned_ops(raw)
    assert f"dns-{DOMAIN}" in diff.stdout and "[secret]" in diff.stdout
    assert up.returncode != 0 and f"dns-{DOMAIN}" in up.stdout, up.stdout[-3000:]
    texts = {
        "preview --diff": diff.stdout + diff.stderr,
        "preview --json": raw,
        "up --diff (failed)": up.stdout + up.stderr,
        "state": state_text(site),
    }
    found = leaks({"TSIG secret": tsig}, texts)
    assert not found, found


def host_key_of(site: Site, server: str) -> str:
    """The VM's ed25519 host key as '<type> <base64>' (what hosts.appServers[].hostKey pins)."""
    line = site.sh(server, "cat /etc/ssh/ssh_host_ed25519_key.pub").stdout
    return " ".join(line.split()[:2])


def test_a_rotated_ssh_key_changes_every_connection_and_never_shows(hardened: Site, tmp_path: Path) -> None:
    """A second stack, `provider: existing`, on this session's VMs as someone's own servers: its own app
    name, port, domain and nginx site, so it shares nothing with the site but the machines."""
    site = hardened
    old_private, old_public = generate_ed25519("wayshub-rotation-old")
    new_private, new_public = generate_ed25519("wayshub-rotation-new")
    servers = ["lb", *APP_SERVERS]  # sandbox order: the LB first
    keys_file = "/home/deploy/.ssh/authorized_keys"
    for server in servers:
        site.sh(
            server,
            f"cp -p {keys_file} /root/authorized_keys.before && printf '%s\\n%s\\n' '{old_public}' '{new_public}' >> {keys_file}",
        )
    project = tmp_path / "project"
    copy_program(project)
    (project / "stacks").mkdir()
    stack = f"{SITE_STACK}keys"
    cli = PulumiCli(project, engine_env(tmp_path / "state", tmp_path / "home"))
    cli.init_stack(stack)

    def entry(server: str) -> dict[str, object]:
        index = servers.index(server)
        return {
            "name": server,
            "address": "127.0.0.1",
            "sshPort": SSH_PORT_BASE + index,
            "privateAddress": host_address(SUBNET, index),
            "hostKey": host_key_of(site, server),
        }

    config: dict[str, Any] = {
        "wayshub:commands": COMMANDS,
        "wayshub:domain": f"keys.{DOMAIN}",
        "wayshub:hosts": {
            "provider": "existing",
            "user": "deploy",
            "appServers": [entry(s) for s in APP_SERVERS],
            "lbServer": entry("lb"),
        },
        "wayshub:app": {"name": "keyrot", "port": 3100},
        "wayshub:lb": {"healthCheck": {"enabled": False}},
        "wayshub:hostsFile": {"path": str(tmp_path / "hosts"), "address": "127.0.0.1"},
    }
    (tmp_path / "hosts").write_text(USER_HOSTS_LINES)
    (project / "stacks" / f"Pulumi.{stack}.yaml").write_text(stack_file_text(config))
    try:
        set_secret(cli, "wayshub:sshPrivateKey", old_private)
        cli.up()

        set_secret(cli, "wayshub:sshPrivateKey", new_private)
        diff = cli.preview()
        raw = cli.preview(diff=False, json_output=True).stdout
        up = cli.up(diff=True)

        # Every step on a server holds the connection, key included: each one is updated. The builtin backend
        # re-runs none (the key is not what a step does); pulumi-command runs each one's command again (any
        # input change does), the survey too: on a deployed server it must find our own app, no conflict.
        ops = planned_ops(raw)
        on_servers = [f"{s}-probe" for s in servers] + ["app1-app-release", "app2-app-release", "lb-site"]
        assert {name: ops.get(name) for name in on_servers} == {name: "update" for name in on_servers}, ops
        assert all(name in diff.stdout and name in up.stdout for name in on_servers), diff.stdout[-3000:]
        texts = {
            "preview --diff": diff.stdout + diff.stderr,
            "preview --json": raw,
            "up --diff": up.stdout + up.stderr,
            "state": "\n".join(p.read_text(errors="replace") for p in (tmp_path / "state").rglob("*") if p.is_file()),
        }
        found = leaks({"new SSH key": new_private, "old SSH key": old_private}, texts)
        assert not found, found
    finally:
        cli.destroy(check=False)
        for server in servers:
            site.sh(server, f"cp -p /root/authorized_keys.before {keys_file}", check=False)


def test_a_changed_host_key_is_refused(hardened: Site) -> None:
    site = hardened
    save = "mkdir -p /root/keys && cp -a /etc/ssh/ssh_host_* /root/keys/"
    swap = "rm -f /etc/ssh/ssh_host_* && ssh-keygen -A >/dev/null && systemctl restart ssh"
    restore = "cp -a /root/keys/ssh_host_* /etc/ssh/ && systemctl restart ssh"
    site.sh("app1", f"{save} && {swap}")
    try:
        write_stack_config(site, app_servers=APP_SERVERS, extra={"wayshub:app": {"env": {"GREETING": "hello"}}})
        result = site.cli.up(check=False)
        assert result.returncode != 0
        if COMMANDS == "builtin":
            assert "not the pinned" in result.stdout and "refusing to connect" in result.stdout
        else:  # pulumi-command is given the pinned key as host_key (golang.org/x/crypto's FixedHostKey)
            assert "ssh: host key mismatch" in result.stdout, result.stdout[-3000:]
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
        result = site.cli.up(check=False)
        took = time.monotonic() - started
        assert result.returncode != 0
        if COMMANDS == "builtin":
            assert "cannot reach deploy@127.0.0.1:" in result.stdout and "over SSH within 5s" in result.stdout
        else:  # pulumi-command: dial_error_limit=⌈5/10⌉ attempts, in its own words
            assert "after 1 failed attempts: dial tcp 127.0.0.1:" in result.stdout, result.stdout[-3000:]
        assert took < 120, f"the failure took {took:.0f}s"
        assert site.sh("lb", f"cat /etc/nginx/conf.d/wayshub-{SITE_STACK}.conf").stdout == site_before
        answers = [get() for _ in range(50)]
        assert {a.status for a in answers} == {200} and {a.backend for a in answers} == {"app1"}
    finally:
        subprocess.run(["docker", "start", site.container("app2")], check=True, capture_output=True)


def test_an_up_killed_between_two_hosts_switches_converges_when_run_again(hardened: Site) -> None:
    """The engine dies (SIGKILL, with the plugins it started) right after the event that starts host 1's
    switch and before host 2's; `make recover` + `up` converge; GETs run from before the kill to the end.

    The `up` runs through the Automation API on a thread; its engine events come to ``on_event`` as the
    engine emits them, and the test kills the engine the moment host 1's switch starts."""
    site = hardened
    old = site.cli.outputs()["release"]
    (site.project / "app" / "VARIANT").write_text("interrupted\n")
    max_requests = 1_000_000
    app1_switching = threading.Event()

    def watch(event: auto.EngineEvent) -> None:
        step = step_of(event)
        if step and step.kind == STARTED and step.name == "app1-app-release" and step.op != "same":
            app1_switching.set()

    done: list[UpResult] = []
    try:
        with BackgroundLoad(
            HTTP_PORT, DOMAIN, min_requests=1000, max_requests=max_requests, max_seconds=900
        ) as traffic:
            running = threading.Thread(target=lambda: done.append(up_with_events(site.cli, on_event=watch)))
            running.start()
            deadline = time.monotonic() + 600
            while not app1_switching.wait(0.05):
                assert running.is_alive(), f"the up ended before app1's switch: {[d.output[-3000:] for d in done]}"
                assert time.monotonic() < deadline, "app1's switch never started"
            # Kill what we started (the engine and the plugins it started, which run in process groups
            # of their own) by pid, all at once, like a closed laptop lid would.
            kill_tree(engine_of_this_process())
            running.join(timeout=120)
            assert not running.is_alive(), "the killed up's output never ended"
            # The engine is dead: its events are exactly what it had done when it died.
            (at_kill,) = done
            app2_releases = site.sh("app2", "ls /opt/wayshub/releases").stdout.split()
            app2_live = live_release(site, "app2")

            # What `make recover` does: mend metadata the kill may have torn (scripts/torn_state.py), drop the
            # dead run's lock, forget its half-made creates, read the hosts.
            repair(Path(site.cli.env["PULUMI_BACKEND_URL"].removeprefix("file://")))
            site.cli.cancel()
            site.cli.refresh(clear_pending_creates=True)
            site.cli.up()
            converged = site.cli.up_summary()
        new = site.cli.outputs()["release"]

        assert at_kill.returncode == -signal.SIGKILL
        assert at_kill.started("app1-app-release") is not None, "killed after host 1's switch started"
        assert at_kill.finished("app1-app-release") is None, "… and before it finished"
        assert at_kill.started("app2-app-release") is None, "… and before host 2's started"
        assert new != old and new not in app2_releases and app2_live == old, "host 2 was untouched at the kill"
        assert set(converged) == {"same"}, converged
        assert [live_release(site, s) for s in APP_SERVERS] == [new, new]
        print(f"\ninterrupted up: {traffic.report}")
        assert traffic.report.total < max_requests and traffic.report.seconds < 900, "the load ended before the up"
        assert traffic.report.failed == 0, traffic.report.error_samples
        assert set(traffic.report.releases) >= {old, new}, traffic.report.releases
    finally:
        (site.project / "app" / "VARIANT").unlink(missing_ok=True)


def test_someone_elses_hosts_file_edits_survive_and_our_block_is_restored(hardened: Site) -> None:
    site = hardened
    ours = f"# BEGIN wayshub-infra {SITE_STACK}\n127.0.0.1\t{DOMAIN}\n# END wayshub-infra {SITE_STACK}\n"
    assert site.hosts_file.read_text() == USER_HOSTS_LINES + ours
    edited = USER_HOSTS_LINES + ours.replace("127.0.0.1", "10.6.6.6") + "192.0.2.7\ttheirs.example\n"
    site.hosts_file.write_text(edited)

    refreshed = site.cli.refresh(diff=True)
    assert "10.6.6.6" in refreshed.stdout, "refresh must show the edited block as drift"
    site.cli.up()
    assert site.hosts_file.read_text() == USER_HOSTS_LINES + ours + "192.0.2.7\ttheirs.example\n"
    site.hosts_file.write_text(USER_HOSTS_LINES + ours)
