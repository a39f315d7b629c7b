"""The release task (app.releaseTask), more processes (app.processes) and scheduled jobs (app.schedules), issue
32, on the session's deployed site (app1, app2, lb), in file order, each `up` under continuous load through the
LB (0 failed GETs).

Fixture tests/fixtures/apps/jobs: its task (`npm run migrate`) prints the release it migrates and the host; the
tests count those lines in the task's journal (SyslogIdentifier wayshub-release-task) on each host. A task runs
once per new release, on app1 only, before any host switches; a failing task blocks every switch, the `up` says
so in one line, and the next `up` runs it again. Its worker (`npm run work`, on app1 only) runs the release its
host runs: it switches with a new release, follows a rollback, and a worker that does not keep running fails
its host's switch (which rolls back), as does one whose health command (`node worker.js --check`) fails. Its
scheduled job (`npm run report`, every 4 s, a run of 6 s) logs each run's start and end: it runs on one server
only, one run at a time; a rolling update neither stops a run nor starts one; moved to another server, it stops
on the first before it starts on the second; refresh reads a disabled timer back and the next `up` restores
it; removed, its units go. The module puts the sample app back when it is done.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from typing import Any

import pytest

from bench.loadgen import BackgroundLoad
from tests.e2e.pulumi_cli import REPO, UpResult, up_with_events
from tests.e2e.site import DOMAIN, HTTP_PORT, Site, live_release, write_stack_config
from tests.e2e.test_ops import wait_for_status

pytestmark = pytest.mark.e2e

APP_SERVERS = ["app1", "app2"]
MIN_REQUESTS = 1500
JOBS: dict[str, Any] = {
    "source": "apps/jobs",
    "releaseTask": "npm run migrate",
    "health": {"path": "/health", "timeoutSeconds": 8, "intervalSeconds": 0.5},
}


@pytest.fixture(scope="module")
def jobs_site(site: Site) -> Iterator[Site]:
    shutil.copytree(REPO / "tests" / "fixtures" / "apps" / "jobs", site.project / "apps" / "jobs", dirs_exist_ok=True)
    yield site
    write_stack_config(site, app_servers=APP_SERVERS)
    site.cli.up()


WORKER = {"name": "worker", "command": "npm run work", "servers": ["app1"], "healthySeconds": 2}


def deploy(site: Site, env: dict[str, str] | None = None, **app: Any) -> UpResult:
    settings = {**JOBS, "env": env or {}, **app}
    write_stack_config(site, app_servers=APP_SERVERS, extra={"wayshub:app": settings})
    with BackgroundLoad(HTTP_PORT, DOMAIN, min_requests=MIN_REQUESTS, max_seconds=900) as load:
        up = up_with_events(site.cli)
    print(f"\n{load.report.summary()}")
    assert load.report.total >= MIN_REQUESTS
    assert load.report.failed == 0, load.report.error_samples
    return up


def task_runs(site: Site, server: str) -> list[str]:
    """The releases the task migrated on ``server``, one per run, oldest first (from its journal)."""
    out = site.sh(server, "journalctl -q -t wayshub-release-task -o cat --no-pager", check=False).stdout
    return [line.split()[2] for line in out.splitlines() if line.startswith("migrating release ")]


def test_a_new_release_runs_its_task_once_on_one_host_before_any_host_switches(jobs_site: Site) -> None:
    before = {server: task_runs(jobs_site, server) for server in APP_SERVERS}
    up = deploy(jobs_site)
    assert up.returncode == 0, up.output[-3000:]
    rid = str(jobs_site.cli.outputs()["release"])
    assert task_runs(jobs_site, "app1") == [*before["app1"], rid], "once, for the new release"
    assert task_runs(jobs_site, "app2") == before["app2"], "on one host only"
    task_done = up.finished("release-task-run")
    assert task_done is not None
    for server in APP_SERVERS:
        started = up.started(f"{server}-app-release")
        assert started is not None and started > task_done, f"{server} switched before the task passed"
        assert up.finished(f"{server}-app-prepare") is not None
        assert live_release(jobs_site, server) == rid
    assert "migrations applied: 0042_add_orders" in up.output
    # The same release again: nothing runs (no new task run, no switch).
    again = deploy(jobs_site)
    assert again.returncode == 0, again.output[-3000:]
    assert task_runs(jobs_site, "app1") == [*before["app1"], rid]
    assert again.started("release-task-run") is None


def test_a_failing_task_switches_no_host_and_the_next_up_runs_it_again(jobs_site: Site) -> None:
    live = str(jobs_site.cli.outputs()["release"])
    failed = deploy(jobs_site, {"MIGRATE_FAIL": "1"})
    assert failed.returncode != 0, "an up whose release task fails must fail"
    runs = task_runs(jobs_site, "app1")
    new = runs[-1]
    assert new != live
    assert (
        f"wayshub:app.releaseTask failed on app1 for release {new} (exit code 3): no app server switched to it"
        in failed.output
    ), failed.output[-3000:]
    assert 'relation "orders" already exists' in failed.output, "the task's output tail says why"
    assert "Traceback" not in failed.output
    for server in APP_SERVERS:
        assert failed.started(f"{server}-app-release") is None, f"{server} was touched"
        assert live_release(jobs_site, server) == live
    assert jobs_site.cli.outputs()["release"] == live
    # The next up runs the task again (it did not pass), and fails again the same way.
    retried = deploy(jobs_site, {"MIGRATE_FAIL": "1"})
    assert retried.returncode != 0
    assert task_runs(jobs_site, "app1") == [*runs, new]
    # Fixed (a new release): its task runs once, and every host switches to it.
    fixed = deploy(jobs_site, {"MIGRATE_FAIL": "0"})
    assert fixed.returncode == 0, fixed.output[-3000:]
    rid = str(jobs_site.cli.outputs()["release"])
    assert task_runs(jobs_site, "app1") == [*runs, new, rid]
    for server in APP_SERVERS:
        assert live_release(jobs_site, server) == rid


def worker_release(site: Site, server: str) -> str:
    """The release the worker process on ``server`` runs (its WAYSHUB_RELEASE), or what systemd says of it."""
    script = (
        'u=wayshub@worker.service; [ "$(systemctl is-active $u)" = active ] || { systemctl is-active $u; exit; }; '
        "pid=$(systemctl show -p MainPID --value $u); "
        "runuser -u wayshub -- tr '\\0' '\\n' < /proc/$pid/environ | sed -n 's/^WAYSHUB_RELEASE=//p'"
    )
    return site.sh(server, script, check=False).stdout.strip()


def test_a_worker_runs_its_hosts_release_switches_with_it_and_follows_a_rollback(jobs_site: Site) -> None:
    first = deploy(jobs_site, processes=[WORKER])
    assert first.returncode == 0, first.output[-3000:]
    old = str(jobs_site.cli.outputs()["release"])
    assert worker_release(jobs_site, "app1") == old
    assert worker_release(jobs_site, "app2") in ("inactive", ""), "the worker runs on app1 only"
    assert (
        "ExecStart=/opt/wayshub/current/processes/worker"
        in jobs_site.sh("app1", "cat /etc/systemd/system/wayshub@worker.service").stdout
    )
    new = deploy(jobs_site, {"NOTE": "2"}, processes=[WORKER])
    assert new.returncode == 0, new.output[-3000:]
    rid = str(jobs_site.cli.outputs()["release"])
    assert rid != old and worker_release(jobs_site, "app1") == rid
    # make rollback: the release before, pinned; its worker comes back with it.
    back = deploy(jobs_site, {"NOTE": "2"}, processes=[WORKER], releasePin=old)
    assert back.returncode == 0, back.output[-3000:]
    assert worker_release(jobs_site, "app1") == old and live_release(jobs_site, "app1") == old


def test_a_worker_that_does_not_keep_running_fails_its_hosts_switch_which_rolls_back(jobs_site: Site) -> None:
    good = deploy(jobs_site, {"NOTE": "3"}, processes=[WORKER])
    assert good.returncode == 0, good.output[-3000:]
    live = str(jobs_site.cli.outputs()["release"])
    broken = deploy(jobs_site, {"NOTE": "3", "WORKER_CRASH": "1"}, processes=[WORKER])
    assert broken.returncode != 0
    assert "(wayshub@worker.service running): process worker did not keep running for 2s after its start" in (
        broken.output
    ), broken.output[-3000:]
    assert "worker: cannot reach the queue" in broken.output, "the worker's journal tail says why"
    assert f"rolled back to {live} (healthy)" in broken.output
    assert broken.started("app2-app-release") is None, "the rollout stops at the failing host"
    for server in APP_SERVERS:
        assert live_release(jobs_site, server) == live
    assert worker_release(jobs_site, "app1") == live
    # Without processes the next release removes the worker's unit.
    gone = deploy(jobs_site, {"NOTE": "3"})
    assert gone.returncode == 0, gone.output[-3000:]
    assert jobs_site.sh("app1", "ls /etc/systemd/system/ | grep -c '^wayshub@' || true").stdout.strip() == "0"


def test_a_worker_whose_health_command_fails_fails_its_hosts_switch_which_rolls_back(jobs_site: Site) -> None:
    checked = {**WORKER, "healthCommand": "node worker.js --check"}
    good = deploy(jobs_site, {"NOTE": "6"}, processes=[checked])
    assert good.returncode == 0, good.output[-3000:]
    live = str(jobs_site.cli.outputs()["release"])
    assert worker_release(jobs_site, "app1") == live
    broken = deploy(jobs_site, {"NOTE": "6", "WORKER_CHECK_FAIL": "1"}, processes=[checked])
    assert broken.returncode != 0
    assert (
        "(wayshub@worker.service running): process worker's healthCommand failed: worker check: queue lag too high"
        in (broken.output)
    ), broken.output[-3000:]
    assert f"rolled back to {live} (healthy)" in broken.output
    assert broken.started("app2-app-release") is None, "the rollout stops at the failing host"
    assert worker_release(jobs_site, "app1") == live and live_release(jobs_site, "app1") == live


# Every 4 s; a run takes 6 s, so a timer that started runs regardless would overlap them.
REPORT = {"name": "report", "command": "npm run report", "calendar": "*:*:0/4"}
JOB_ENV = {"NOTE": "4", "JOB_SECONDS": "6"}


def job_lines(site: Site, server: str) -> list[tuple[str, str, int]]:
    """The job's lines on ``server``, oldest first: (start|end|stopped, release, time in ms)."""
    out = site.sh(server, "journalctl -q -t wayshub-job-report -o cat --no-pager", check=False).stdout
    words = [line.split() for line in out.splitlines()]
    return [(w[1], w[2], int(w[4])) for w in words if len(w) == 5 and w[0] == "report"]


def wait_for_ends(site: Site, server: str, count: int, release: str = "", deadline_seconds: float = 90) -> None:
    """Until ``server`` has logged ``count`` ends of runs (of ``release``, if given)."""
    deadline = time.monotonic() + deadline_seconds
    while sum(1 for what, rid, _ in job_lines(site, server) if what == "end" and release in rid) < count:
        assert time.monotonic() < deadline, f"{server}: fewer than {count} runs ended: {job_lines(site, server)}"
        time.sleep(1)


def one_at_a_time(lines: list[tuple[str, str, int]]) -> None:
    """Each start is followed by that run's own end (same release) before the next start: no overlap, no kill."""
    for index in range(0, len(lines) - 1, 2):
        (start, rid, _), (end, end_rid, _) = lines[index], lines[index + 1]
        assert (start, end, end_rid) == ("start", "end", rid), f"runs overlap or one was stopped: {lines}"


def test_a_schedule_runs_on_one_host_one_run_at_a_time_and_a_rolling_update_neither_stops_nor_repeats_it(
    jobs_site: Site,
) -> None:
    first = deploy(jobs_site, JOB_ENV, schedules=[REPORT])
    assert first.returncode == 0, first.output[-3000:]
    timer = "systemctl is-active wayshub@job-report.timer"
    assert [jobs_site.sh(server, timer, check=False).stdout.strip() for server in APP_SERVERS] == ["active", "inactive"]
    old = str(jobs_site.cli.outputs()["release"])
    wait_for_ends(jobs_site, "app1", 2, old)
    assert job_lines(jobs_site, "app2") == [], "the job runs on one server only"
    # make status: the job on app1's row, its last run and its next.
    status = wait_for_status(jobs_site, 0)
    assert status.returncode == 0, status.stdout + status.stderr
    row = next(line for line in status.stdout.splitlines() if line.startswith("app1 "))
    assert re.search(r"job report: (ok \d+s ago, next in \ds|running since \d+s ago)\W", row), status.stdout
    assert "job" not in next(line for line in status.stdout.splitlines() if line.startswith("app2 "))
    # A rolling update while a run is going: the run ends on its own release, the next starts on the new one;
    # the timers are not touched (no run is started, stopped or repeated by the deploy).
    deadline = time.monotonic() + 30
    while jobs_site.sh("app1", "systemctl is-active wayshub@job-report.service", check=False).stdout.strip() != (
        "activating"
    ):
        assert time.monotonic() < deadline, "no run of the job started"
        time.sleep(0.5)
    new = deploy(jobs_site, {**JOB_ENV, "NOTE": "5"}, schedules=[REPORT])
    assert new.returncode == 0, new.output[-3000:]
    rid = str(jobs_site.cli.outputs()["release"])
    assert rid != old
    assert new.started("schedules-timers") is None, "a deploy leaves the timers alone"
    wait_for_ends(jobs_site, "app1", 1, rid)
    lines = job_lines(jobs_site, "app1")
    one_at_a_time(lines[: len(lines) - len(lines) % 2])
    releases = [r for what, r, _ in lines if what == "start"]
    assert releases == sorted(releases, key=lambda r: r == rid) and old in releases, "old runs, then new ones"
    assert job_lines(jobs_site, "app2") == []


def test_schedules_move_to_another_server_without_an_overlap_and_go_when_removed(jobs_site: Site) -> None:
    moved = deploy(jobs_site, {**JOB_ENV, "NOTE": "5"}, schedules=[REPORT], schedulesServer="app2")
    assert moved.returncode == 0, moved.output[-3000:]
    wait_for_ends(jobs_site, "app2", 1)
    last_on_app1 = job_lines(jobs_site, "app1")[-1]
    assert last_on_app1[0] in ("end", "stopped")
    assert job_lines(jobs_site, "app2")[0][2] > last_on_app1[2], "app2 ran the job before app1 had stopped it"
    assert jobs_site.sh("app1", "ls /etc/systemd/system | grep -c '^wayshub@job-' || true").stdout.strip() == "0"
    one_at_a_time([line for line in job_lines(jobs_site, "app2")][:2])
    # Drift: a timer disabled by hand is read back by refresh and started again by the next up.
    jobs_site.sh("app2", "systemctl disable --now wayshub@job-report.timer")
    jobs_site.cli.refresh()
    repaired = deploy(jobs_site, {**JOB_ENV, "NOTE": "5"}, schedules=[REPORT], schedulesServer="app2")
    assert repaired.returncode == 0, repaired.output[-3000:]
    assert jobs_site.sh("app2", "systemctl is-enabled wayshub@job-report.timer").stdout.strip() == "enabled"
    # Removed from the settings: its timer and unit go from every server.
    gone = deploy(jobs_site, {"NOTE": "5"})
    assert gone.returncode == 0, gone.output[-3000:]
    for server in APP_SERVERS:
        assert jobs_site.sh(server, "ls /etc/systemd/system | grep -c '^wayshub@job-' || true").stdout.strip() == "0"
