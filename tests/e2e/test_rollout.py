"""Zero-downtime rollout, health gate with rollback, failover and `make rollback`, each under load.

Runs on the session's deployed site; every scenario keeps at least 2,000 GETs going through the LB
and must see zero failed requests. The module restores the app source and config when it is done.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.loadgen import BackgroundLoad
from tests.e2e.pulumi_cli import FINISHED, REPO, UpResult, up_with_events
from tests.e2e.site import DOMAIN, HTTP_PORT, SAMPLE_APP, SITE_STACK, Site, live_release, write_stack_config

pytestmark = pytest.mark.e2e

MIN_REQUESTS = 2000
APP_SERVERS = ["app1", "app2"]
HEALTHY = "res.json({ status: 'ok', version: release, hostname });"
BROKEN = "res.status(500).json({ status: 'broken', version: release, hostname });"


def load() -> BackgroundLoad:
    return BackgroundLoad(HTTP_PORT, DOMAIN, min_requests=MIN_REQUESTS, max_seconds=600)


def set_variant(site: Site, variant: str, broken: bool = False) -> None:
    """A new release: the app with a marker file (and, if ``broken``, a /health that answers 500)."""
    (site.project / "app" / "VARIANT").write_text(variant + "\n")
    server = site.project / "app" / "server.js"
    text = server.read_text()
    server.write_text(text.replace(HEALTHY, BROKEN) if broken else text.replace(BROKEN, HEALTHY))


def report(name: str, result: BackgroundLoad) -> None:
    print(f"\n{name}: {result.report}")


@pytest.fixture(scope="module")
def rollout_site(site: Site) -> Iterator[Site]:
    server = site.project / "app" / "server.js"
    original = server.read_text()
    write_stack_config(
        site, app_servers=APP_SERVERS, extra={"wayshub:app": {"health": {**SAMPLE_APP["health"], "timeoutSeconds": 8}}}
    )
    yield site
    # Back to the release and config the other site tests expect.
    server.write_text(original)
    (site.project / "app" / "VARIANT").unlink(missing_ok=True)
    write_stack_config(site, app_servers=APP_SERVERS)
    site.cli.up()


def assert_rolled_in_order(up: UpResult) -> None:
    first_done, second_started = up.finished("app1-app-release"), up.started("app2-app-release")
    assert first_done is not None and second_started is not None
    assert first_done < second_started, "app2 must start only after app1 passed its health gate"


def what_ran(up: UpResult) -> list[str]:
    """Each step the up finished that changed something, ``name:op`` in order (for a failure's message)."""
    return [f"{e.name}:{e.op}" for e in up.events if e.kind == FINISHED and e.op not in ("same", "read")]


def test_a_rolling_update_drops_no_request(rollout_site: Site, tmp_path: Path) -> None:
    set_variant(rollout_site, "a")
    with load() as traffic:
        up = up_with_events(rollout_site.cli)
    report("rolling update", traffic)
    assert up.returncode == 0, up.output[-3000:]
    assert traffic.report.total >= MIN_REQUESTS
    assert traffic.report.failed == 0, (traffic.report.error_samples, what_ran(up), up.output[-6000:])
    new = rollout_site.cli.outputs()["release"]
    assert [live_release(rollout_site, s) for s in APP_SERVERS] == [new, new]
    assert rollout_site.cli.outputs()["releases"] == [new, new]
    assert_rolled_in_order(up)


def test_a_first_deploy_waits_for_no_other_host_and_an_update_rolls_in_order(rollout_site: Site) -> None:
    # The session's first up deployed both hosts at once: neither served traffic yet. Since then (the
    # rolling update above, or this module's own up) app2's release step waits for app1's health gate.
    warnings = [line for line in rollout_site.first_output.splitlines() if "rollout:" in line]
    assert "app1-app-release" not in rollout_site.first_dependencies["app2-app-release"], warnings
    assert "app1-app-node" in rollout_site.first_dependencies["app1-app-release"]  # the state was read
    if "app1-app-release" not in rollout_site.dependencies()["app2-app-release"]:
        rollout_site.cli.up()  # registers the graph again, changes nothing
    assert "app1-app-release" in rollout_site.dependencies()["app2-app-release"]


def test_a_release_failing_its_health_gate_stops_after_the_first_host(rollout_site: Site, tmp_path: Path) -> None:
    before = rollout_site.cli.outputs()["release"]
    set_variant(rollout_site, "b", broken=True)
    with load() as traffic:
        up = up_with_events(rollout_site.cli)
    report("broken release", traffic)
    assert up.returncode != 0, "an up with a failing health gate must fail"
    assert "app1" in up.output and f"rolled back to {before} (healthy)" in up.output
    assert up.started("app2-app-release") is None, "no further host may be touched"
    assert [live_release(rollout_site, s) for s in APP_SERVERS] == [before, before]
    assert traffic.report.total >= MIN_REQUESTS
    assert traffic.report.failed == 0, traffic.report.error_samples

    set_variant(rollout_site, "c", broken=False)
    fixed = up_with_events(rollout_site.cli)
    assert fixed.returncode == 0, fixed.output[-3000:]
    new = rollout_site.cli.outputs()["release"]
    assert new != before
    assert [live_release(rollout_site, s) for s in APP_SERVERS] == [new, new]


def test_a_killed_backend_costs_no_request(rollout_site: Site) -> None:
    with load() as traffic:
        time.sleep(1)
        rollout_site.sh("app1", "systemctl kill --signal=SIGKILL wayshub")
        time.sleep(3)
    report("killed backend", traffic)
    assert traffic.report.total >= MIN_REQUESTS
    assert traffic.report.failed == 0, traffic.report.error_samples
    assert rollout_site.sh("app1", "systemctl is-active wayshub").stdout.strip() == "active"


def test_rollback_returns_every_host_to_the_previous_release(rollout_site: Site) -> None:
    outputs = rollout_site.cli.outputs()
    previous = outputs["previous_releases"]
    assert len(set(previous)) == 1 and previous[0] not in ("", outputs["release"])
    with load() as traffic:
        subprocess.run(
            [sys.executable, str(REPO / "scripts" / "rollback"), "--stack", SITE_STACK],
            cwd=rollout_site.project,
            env=rollout_site.cli.env,
            check=True,
            capture_output=True,
            text=True,
        )
    report("rollback", traffic)
    assert traffic.report.total >= MIN_REQUESTS
    assert traffic.report.failed == 0, traffic.report.error_samples
    assert [live_release(rollout_site, s) for s in APP_SERVERS] == previous
    assert rollout_site.cli.outputs()["releases"] == previous
