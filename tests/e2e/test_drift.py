"""Drift (issue #21): `pulumi refresh` sees what changed on the hosts, the next `up` puts it back.

On the session's site with HTTPS (self-signed), each kind of drift is made by hand on a host, under
continuous HTTPS load through the LB: `refresh` must report it as a change of that host's state resource,
naming host and file, and the next `up` must repair exactly it through the normal steps (nginx -t and a
reload, never a restart; the health-gated release switch) with 0 failed GETs. A refresh of an undrifted
stack changes nothing.
"""

from __future__ import annotations

import datetime
import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bench.loadgen import BackgroundLoad
from tests.e2e.pulumi_cli import REPO, UpResult, up_with_events
from tests.e2e.site import COMMANDS, DOMAIN, HTTPS_PORT, SITE_STACK, Site, write_stack_config

pytestmark = pytest.mark.e2e

MIN_REQUESTS = 1500
APP_SERVERS = ["app1", "app2"]
TLS: dict[str, object] = {"wayshub:lb": {"tls": "self-signed"}}
SITE_FILE = f"/etc/nginx/conf.d/wayshub-{SITE_STACK}.conf"
KEY_FILE = f"/etc/nginx/tls/wayshub-{SITE_STACK}.key"
UNIT_FILE = "/etc/systemd/system/wayshub.service"
ROOT = "/opt/wayshub"


@dataclass(frozen=True)
class Drift:
    host: str
    make: str  # a root shell command on the host
    file: str  # what refresh must name (a regular expression)
    repaired_by: tuple[str, ...]  # the steps the next up must run (besides the host's state resource)
    restored: str  # a root shell command that succeeds once the host is as the stack wants it


def fresh_key_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return pem.decode()


def current_is_the_release() -> str:
    return f'[ "$(readlink {ROOT}/current)" = "{ROOT}/releases/$(cat {ROOT}/current/RELEASE)" ]'


DRIFTS = {
    "edited nginx site": Drift(
        "lb",
        f"sed -i 's/keepalive 32;/keepalive 2;/' {SITE_FILE} && nginx -s reload",
        SITE_FILE,
        ("lb-site",),
        f"grep -q 'keepalive 32;' {SITE_FILE}",
    ),
    "edited unit": Drift(
        "app1",
        f"sed -i 's/^Description=.*/Description=edited by hand/' {UNIT_FILE} && systemctl daemon-reload",
        UNIT_FILE,
        ("app1-app-release",),
        f"! grep -q 'edited by hand' {UNIT_FILE} && ! systemctl show -p Description --value wayshub | grep -q edited",
    ),
    "extra env line": Drift(
        "app2",
        f"echo EVIL=1 >> {ROOT}/current/env",
        rf"{ROOT}/releases/\w+/env",
        ("app2-app-release",),
        f"! grep -q EVIL {ROOT}/current/env && ! tr '\\0' '\\n' < /proc/$(systemctl show -p MainPID --value wayshub)/environ"
        " | grep -q '^EVIL='",
    ),
    "replaced TLS key": Drift(
        "lb",
        f"cat > {KEY_FILE}",  # stdin: a new key
        KEY_FILE,
        ("lb-tls-key", "lb-site"),
        "true",  # checked by its digest below
    ),
    "current pointed elsewhere": Drift(
        "app1",
        f"mkdir -p /tmp/elsewhere && ln -sfn /tmp/elsewhere {ROOT}/current",
        f"{ROOT}/current",
        ("app1-app-release",),
        current_is_the_release(),
    ),
    "unit stopped and disabled": Drift(
        "app2",
        "systemctl disable --now wayshub",
        "wayshub.service",
        ("app2-app-release",),
        "systemctl is-enabled --quiet wayshub && systemctl is-active --quiet wayshub",
    ),
    "app folder deleted": Drift(
        "app1",
        f"rm -rf {ROOT}",
        ROOT,
        # With the copies, the steps that make their private folders (issue 28) run again.
        (
            "app1-app-base",
            "app1-app-node-upload-dir",
            "app1-app-node-upload",
            "app1-app-node",
            "app1-app-upload-dir",
            "app1-app-upload",
            "app1-app-release",
        ),
        f"{current_is_the_release()} && [ -x {ROOT}/current/bin/node ] && systemctl is-active --quiet wayshub",
    ),
}


@pytest.fixture(scope="module")
def drift_site(site: Site) -> Iterator[Site]:
    write_stack_config(site, app_servers=APP_SERVERS, extra=TLS)
    site.cli.up()
    yield site
    write_stack_config(site, app_servers=APP_SERVERS)
    site.cli.up()


def load(site: Site) -> BackgroundLoad:
    ca = site.cli.outputs()["ca_certificate"]
    return BackgroundLoad(HTTPS_PORT, DOMAIN, min_requests=MIN_REQUESTS, max_seconds=600, ca_pem=ca)


def refresh(site: Site) -> tuple[str, dict[str, int]]:
    """`pulumi refresh` with its diff; the output and the engine's count of changes."""
    result = site.cli.refresh(diff=True)
    return result.stdout + result.stderr, result.changes


def outputs_of(site: Site, name: str) -> dict[str, Any]:
    state = site.cli.state()
    (resource,) = [r for r in state["deployment"]["resources"] if r["urn"].endswith(f"::{name}")]
    return dict(resource.get("outputs") or {})


def changed(up: UpResult) -> set[str]:
    """Resources the up did anything to (the steps it finished, from its engine events)."""
    return up.changed()


def restored_report(site: Site, since: str) -> list[str]:
    """scripts/drift-report on the stack's export, as `make up` runs it."""
    exported = json.dumps(site.cli.state())
    result = subprocess.run(
        [str(REPO / "scripts" / "drift-report"), "--since", since],
        input=exported,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.splitlines()


def planned(site: Site, refresh: bool = False) -> set[str]:
    """The resources a preview would change (``refresh``: `preview --refresh`, reading the hosts first)."""
    steps = site.cli.preview(refresh=refresh).steps
    return {s.name for s in steps if s.op not in ("same", "refresh", "read")}


def state_name(host: str) -> str:
    return "lb-state" if host == "lb" else f"{host}-app-state"


def nginx_pid(site: Site) -> str:
    return site.sh("lb", "cat /run/nginx.pid").stdout.strip()


def key_digest(site: Site) -> str:
    return site.sh("lb", f"sha256sum {KEY_FILE}").stdout.split()[0]


def test_a_refresh_of_an_undrifted_stack_changes_nothing(drift_site: Site) -> None:
    _, changes = refresh(drift_site)
    assert set(changes) == {"same"}, changes
    steps = drift_site.cli.preview_steps()
    assert {s.op for s in steps} == {"same"}, [(s.op, s.urn) for s in steps if s.op != "same"]


# On pulumi-command (WAYSHUB_E2E_COMMANDS; the HostState that reads hosts is ours on both backends) a
# representative subset, to keep `make test` short: a re-run through `update`'s rerun comment on the LB
# (site; TLS key then site) and on an app (env), and copies replaced through their triggers (folder deleted).
PULUMI_COMMAND_CASES = ("edited nginx site", "replaced TLS key", "extra env line", "app folder deleted")


@pytest.mark.parametrize("case", list(DRIFTS) if COMMANDS == "builtin" else list(PULUMI_COMMAND_CASES))
def test_drift_is_reported_by_refresh_and_repaired_by_up(drift_site: Site, case: str, tmp_path: Path) -> None:
    site, drift = drift_site, DRIFTS[case]
    pid, key = nginx_pid(site), key_digest(site)
    with load(site) as traffic:
        stdin = fresh_key_pem() if case == "replaced TLS key" else None
        subprocess.run(
            ["docker", "exec", "-i", site.container(drift.host), "bash", "-c", drift.make],
            input=stdin,
            text=True,
            check=True,
            capture_output=True,
        )
        previewed = planned(site, refresh=True)  # reads the hosts, stores nothing
        output, changes = refresh(site)
        refreshed = outputs_of(site, state_name(drift.host))
        drift_lines = refreshed["drift"]
        then = planned(site)  # what `make preview` shows after `make refresh`
        started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        up = up_with_events(site.cli)
        report = restored_report(site, started)
        restored = site.sh(drift.host, drift.restored, check=False)
        _, after = refresh(site)
    print(f"\n{case}: {traffic.report}")

    # refresh: one change, on that host's state, naming host and file; no secret shown.
    assert changes.get("update") == 1 and set(changes) <= {"same", "update"}, changes
    assert any(re.match(rf"{drift.host}: {drift.file} ", line) for line in drift_lines), drift_lines
    assert re.search(rf"{drift.host}: {drift.file} ", output), output[-3000:]
    assert "PRIVATE KEY" not in output
    # the digests of secret-bearing files (env file, TLS key) stay secrets in the refreshed state
    assert isinstance(refreshed["observed_secret"], dict) and "ciphertext" in refreshed["observed_secret"]
    # preview --refresh, and a preview after the refresh, name exactly what the up then runs.
    assert previewed == then == {state_name(drift.host), *drift.repaired_by}, (previewed, then)
    # up: exactly the steps that make what drifted, with their normal safety; the state says what it restored.
    assert up.returncode == 0, up.output[-4000:]
    assert changed(up) == {state_name(drift.host), *drift.repaired_by}, changed(up)
    restored_lines = outputs_of(site, state_name(drift.host))["restored"]
    assert any(re.match(rf"{drift.host}: {drift.file} ", line) for line in restored_lines), restored_lines
    # what `make up` prints after the up (scripts/drift-report): this repair, nothing else
    assert report and all(line.startswith(f"restored: {drift.host}: ") for line in report), report
    assert any(re.match(rf"restored: {drift.host}: {drift.file} ", line) for line in report), report
    assert restored.returncode == 0, f"{case} is not repaired: {restored.stdout}{restored.stderr}"
    assert nginx_pid(site) == pid, "nginx must be reloaded, never restarted"
    assert key_digest(site) == key
    # and then nothing is left to repair, with no failed request at any point.
    assert set(after) == {"same"}, after
    assert traffic.report.total >= MIN_REQUESTS
    assert traffic.report.failed == 0, traffic.report.error_samples


def test_a_repair_that_fails_its_health_check_leaves_the_live_release_in_place(drift_site: Site) -> None:
    """Re-running the live release (a repair) whose restart fails the health check must not stop the app
    and drop `current` for want of a "previous release": the release stays; the next up finishes it."""
    site = drift_site
    node = f"{ROOT}/current/bin/node"
    squat = f"systemd-run --unit wayshub-squatter {node} -e \"require('net').createServer((s) => s.destroy()).listen(3000, '0.0.0.0')\""
    with load(site) as traffic:
        site.sh("app1", f"systemctl disable --now wayshub && {squat}")
        _, changes = refresh(site)
        failed = site.cli.up(check=False)
        output = failed.stdout + failed.stderr
        link = site.sh("app1", f"readlink {ROOT}/current", check=False).stdout.strip()
        enabled = site.sh("app1", "systemctl is-enabled wayshub", check=False).stdout.strip()
        site.sh("app1", "systemctl stop wayshub-squatter")
        fixed = site.cli.up(check=False)
        healthy = site.sh("app1", "systemctl is-active --quiet wayshub && " + current_is_the_release(), check=False)
        _, after = refresh(site)
    print(f"\nfailed repair: {traffic.report}")
    assert changes.get("update") == 1, changes
    assert failed.returncode != 0, output[-3000:]
    assert "no other release to roll back to" in output and "stays the current release" in output, output[-3000:]
    assert link.startswith(f"{ROOT}/releases/"), f"current must stay: {link!r}"
    assert enabled == "enabled"
    assert fixed.returncode == 0, (fixed.stdout + fixed.stderr)[-3000:]
    assert healthy.returncode == 0
    assert set(after) == {"same"}, after
    assert traffic.report.failed == 0, traffic.report.error_samples
