"""ops/: reading hosts from a stack's exported state, judging status, parsing logs, the ssh helpers."""

from __future__ import annotations

import dataclasses
import json
import shlex
import stat
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from components import config as stack_config
from components.shell.ssh import CommandResult, Connection
from ops.fanout import HostResult
from ops.logs import HostParser, parse_since
from ops.shell import key_files, known_hosts_line, report, ssh_argv
from ops.stack import SECRET_SIG, OpsHost, OpsSite, StackError, StackView, view_of
from ops.status import address_problem, judge, status_command
from tests.unit.pulumi_mocks import fake_private_key_pem

KEY = fake_private_key_pem("c2VjcmV0")
PROJECT = "urn:pulumi:s::wayshub::"


def secret(value: Any) -> dict[str, str]:
    return {SECRET_SIG: "1b47061264138c4ac30d75fd1eb44270", "plaintext": json.dumps(value)}


def connection(port: int) -> dict[str, Any]:
    return {"host": "127.0.0.1", "port": port, "user": "wayshub", "private_key": KEY, "host_key": "ssh-ed25519 AAAA"}


def deployment() -> dict[str, Any]:
    app, lb = f"{PROJECT}wayshub:app:NodeApp::", f"{PROJECT}wayshub:load_balancer:NginxLoadBalancer::lb"
    command = "pulumi-python:dynamic/wayshub:RemoteCommand"
    site = "upstream wayshub_s {\n    server 10.0.0.11:3000;\n}\n"
    return {
        "resources": [
            {"urn": app + "app2-app", "type": "wayshub:app:NodeApp", "outputs": {}},
            {"urn": app + "app1-app", "type": "wayshub:app:NodeApp", "outputs": {}},
            {"urn": lb, "type": "wayshub:load_balancer:NginxLoadBalancer", "outputs": {"site": site}},
            {
                "urn": "x::app2-app-base",
                "type": command,
                "parent": app + "app2-app",
                "inputs": {"connection": secret(connection(2202))},
            },
            {
                "urn": "x::app1-app-base",
                "type": command,
                "parent": app + "app1-app",
                "inputs": {"connection": secret(connection(2201))},
            },
            {
                "urn": "x::lb-site",
                "type": command,
                "parent": lb,
                "inputs": {"connection": secret(connection(2200)), "create": "mv x /etc/nginx/conf.d/wayshub-s.conf"},
            },
        ]
    }


def settings(provider: str = "sandbox") -> stack_config.StackConfig:
    return stack_config.parse(
        {
            "domain": "wayshub.test",
            "hosts": {
                "provider": provider,
                "appServers": [{"name": "app1"}, {"name": "app2"}],
                "lbServer": {"name": "lb"},
            },
            **(
                {}
                if provider == "containers"
                else {"app": {"health": {"path": "/health", "bodyContains": "{release}"}}}
            ),
        }
    )


def view() -> StackView:
    outputs = {"release": "r1", "backends": ["10.0.0.11:3000", "10.0.0.12:3000"]}
    return view_of("s", deployment(), outputs, settings())


def test_hosts_come_from_the_state_in_config_order_with_their_secret_connections() -> None:
    v = view()
    assert [(h.name, h.role, h.connection.port) for h in v.hosts] == [
        ("app1", "app", 2201),
        ("app2", "app", 2202),
        ("lb", "lb", 2200),
    ]
    assert v.hosts[0].connection.private_key == KEY
    assert (v.sites[0].site_name, v.sites[0].upstream, v.sites[0].release) == ("wayshub-s", "wayshub_s", "r1")
    assert KEY not in repr(v)  # a host's repr never shows its key
    with pytest.raises(StackError, match="no host 'app3'"):
        v.host("app3")


def test_a_stack_without_deployed_hosts_or_in_containers_says_so() -> None:
    with pytest.raises(StackError, match="no deployed hosts"):
        view_of("s", {"resources": []}, {}, settings())
    with pytest.raises(StackError, match="containers"):
        view_of("s", deployment(), {}, settings("containers"))


def test_status_command_quotes_every_input() -> None:
    app = settings().app.model_copy(update={"name": "x; whoami"})
    hostile = OpsSite("", "wayshub.test", app, ("app1",), "r", [], "", "", False)
    command = status_command(
        StackView("s", [], [hostile]), OpsHost("app1", "app", Connection("h", 22, "u", KEY)), hostile
    )
    argv = shlex.split(command)
    assert argv[:4] == ["sudo", "-n", "bash", "-c"]
    assert "\nAPP='x; whoami'\n" in argv[4]


def outcome(host: OpsHost, stdout: str, code: int = 0) -> HostResult:
    return HostResult(host, CommandResult(code, stdout, ""))


APP_OK = "release=r1\nunit_state=active\nunit_since=100\nunit_restarts=0\nnode=v22.1.0\nhealth=ok\nhealth_ms=12\ndisk_free_kb=2097152\ndisk_used=40%\n"
LB_OK = (
    "nginx_state=active\nnginx_since=100\nnginx_config=ok\nupstream=10.0.0.12:3000,10.0.0.11:3000\nhealth_unit=active\n"
)


def test_a_host_as_the_stack_says_has_no_problems() -> None:
    v = view()
    app = judge(v, v.sites[0], outcome(v.hosts[0], APP_OK), now=160)
    assert app.ok and (app.release, app.unit, app.since, app.health, app.node, app.disk) == (
        "r1",
        "active",
        "1m ago",
        "ok 12ms",
        "v22.1.0",
        "2.0G free (40% used)",
    )
    lb = judge(v, v.sites[0], outcome(v.hosts[2], LB_OK), now=160)
    assert lb.ok and lb.health == "upstream 2/2"
    # app.processes the live release carries: each one's state beside the unit's.
    worker = judge(v, v.sites[0], outcome(v.hosts[0], APP_OK + "process_worker=active\n"), now=160)
    assert worker.ok and worker.unit == "active, worker active"


@pytest.mark.parametrize(
    ("facts", "problem"),
    [
        (APP_OK.replace("release=r1", "release=r0"), "runs release r0, the stack's is r1"),
        (APP_OK.replace("unit_state=active", "unit_state=failed"), "wayshub.service is failed"),
        (APP_OK.replace("health=ok", "health=status 500"), "health check: status 500"),
        (APP_OK + "process_worker=failed\n", "wayshub@worker.service is failed"),
    ],
)
def test_an_app_host_not_as_the_stack_says_is_named(facts: str, problem: str) -> None:
    v = view()
    assert judge(v, v.sites[0], outcome(v.hosts[0], facts), now=0).problems == (problem,)


JOB = "job_report_timer=active\njob_report_state=inactive\njob_report_result=success\njob_report_exit=0\njob_report_last=100\njob_report_next=400\n"


def with_job(v: StackView, **app: object) -> OpsSite:
    """The view's site with the scheduled job ``report`` (and ``app``'s other settings)."""
    job = {"name": "report", "command": "node report.js", "calendar": "daily"}
    config = v.sites[0].app.model_validate({"schedules": [job], **app})
    return dataclasses.replace(v.sites[0], app=config)


def test_a_scheduled_job_shows_its_last_and_next_run_on_the_server_that_runs_it() -> None:
    v = view()
    site = with_job(v)
    row = judge(v, site, outcome(v.hosts[0], APP_OK + JOB), now=160)
    assert row.ok, row.problems
    assert row.unit == "active, job report: ok 1m ago, next in 4m"
    running = judge(v, site, outcome(v.hosts[0], APP_OK + JOB.replace("state=inactive", "state=activating")), now=160)
    assert running.ok and running.unit == "active, job report: running since 1m ago, next in 4m"
    # While a run goes systemd plans no next time: none is shown.
    going = APP_OK + JOB.replace("state=inactive", "state=activating").replace("next=400", "next=")
    assert judge(v, site, outcome(v.hosts[0], going), now=160).unit == "active, job report: running since 1m ago"
    idle = APP_OK + JOB.replace("next=400", "next=")
    assert judge(v, site, outcome(v.hosts[0], idle), now=160).unit == "active, job report: ok 1m ago, next not planned"
    # The other app server runs no job, and says nothing of it.
    assert judge(v, site, outcome(v.hosts[1], APP_OK), now=160).ok


@pytest.mark.parametrize(
    ("host", "facts", "problem"),
    [
        (0, APP_OK, "job report has no timer here"),
        (0, APP_OK + JOB.replace("timer=active", "timer=inactive"), "wayshub@job-report.timer is inactive"),
        (
            0,
            APP_OK + JOB.replace("result=success", "result=exit-code").replace("exit=0", "exit=3"),
            "job report's last run failed (exit-code, exit code 3)",
        ),
        (1, APP_OK + JOB, "job report has a timer here; the stack runs it on app1"),
    ],
)
def test_a_scheduled_job_not_as_the_stack_says_is_named(host: int, facts: str, problem: str) -> None:
    v = view()
    assert judge(v, with_job(v), outcome(v.hosts[host], facts), now=160).problems == (problem,)


def test_schedules_server_moves_where_the_jobs_are_expected() -> None:
    v = view()
    site = with_job(v, schedulesServer="app2")
    assert judge(v, site, outcome(v.hosts[1], APP_OK + JOB), now=160).ok
    assert judge(v, site, outcome(v.hosts[0], APP_OK), now=160).ok


@pytest.mark.parametrize(
    ("facts", "problem"),
    [
        (LB_OK.replace("nginx_state=active", "nginx_state=inactive"), "nginx is inactive"),
        (
            LB_OK.replace("upstream=10.0.0.12:3000,", "upstream="),
            "upstream is 10.0.0.11:3000, the stack's is 10.0.0.11:3000, 10.0.0.12:3000",
        ),
        (LB_OK.replace("health_unit=active", "health_unit=failed"), "backend health check is failed"),
    ],
)
def test_an_lb_not_as_the_stack_says_is_named(facts: str, problem: str) -> None:
    v = view()
    assert judge(v, v.sites[0], outcome(v.hosts[2], facts), now=0).problems == (problem,)


def test_an_unreachable_host_is_a_problem() -> None:
    v = view()
    row = judge(v, v.sites[0], HostResult(v.hosts[1], None, "cannot reach wayshub@127.0.0.1:2202"), now=0)
    assert not row.reachable and row.problems == ("cannot reach wayshub@127.0.0.1:2202",)


def test_log_lines_get_their_time_from_the_journal_and_nginx() -> None:
    parser = HostParser("lb")
    assert parser.parse("tz +0200") is None
    journal = parser.parse("journal 1764319100.250000 lb nginx[5]: started")
    assert journal is not None and (journal.time, journal.source, journal.text) == (
        1764319100.25,
        "nginx[5]",
        "started",
    )
    access = parser.parse(
        'file:/var/log/nginx/access.log 10.0.0.1 - - [28/Nov/2026:08:38:20 +0000] "GET / HTTP/1.1" 200'
    )
    assert access is not None and access.source == "access.log"
    assert access.time == datetime.fromisoformat("2026-11-28T08:38:20+00:00").timestamp()
    error = parser.parse("file:/var/log/nginx/error.log 2026/11/28 10:38:21 [error] 7#7: upstream timed out")
    assert error is not None and error.time == datetime.fromisoformat("2026-11-28T08:38:21+00:00").timestamp()
    follow_on = parser.parse("file:/var/log/nginx/error.log   while reading")
    assert follow_on is not None and follow_on.time == error.time
    assert parser.parse("journal -- No entries --") is None
    assert journal.render(4).endswith(" lb   | nginx[5]: started")


def test_since_takes_durations_and_dates() -> None:
    assert parse_since("10m", now=1000.0) == 400.0
    assert parse_since("2h", now=10000.0) == 2800.0
    assert parse_since("2026-11-28T08:00+00:00", now=0) == datetime.fromisoformat("2026-11-28T08:00+00:00").timestamp()
    with pytest.raises(ValueError, match="SINCE='yesterdayish'"):
        parse_since("yesterdayish", now=0)


def test_the_shell_trusts_only_the_pinned_host_key_and_our_key() -> None:
    conn = Connection("127.0.0.1", 2201, "wayshub", KEY, host_key="ssh-ed25519 AAAA comment")
    assert known_hosts_line(conn) == "[127.0.0.1]:2201 ssh-ed25519 AAAA\n"
    argv = ssh_argv(conn, Path("/t/id"), Path("/t/known_hosts"))
    assert argv[:5] == ["ssh", "-i", "/t/id", "-p", "2201"]
    for option in ("IdentitiesOnly=yes", "StrictHostKeyChecking=yes", "UserKnownHostsFile=/t/known_hosts"):
        assert option in argv
    assert argv[-4:] == ["-l", "wayshub", "-t", "127.0.0.1"]


def test_key_files_are_private_and_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    conn = Connection("h", 22, "u", KEY, host_key="ssh-ed25519 AAAA")
    with pytest.raises(RuntimeError), key_files(conn) as (key_file, known_hosts):
        assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert key_file.read_text() == KEY
        assert known_hosts.read_text() == "h ssh-ed25519 AAAA\n"
        raise RuntimeError("the shell ended badly")
    assert list(tmp_path.iterdir()) == []


def test_known_hosts_file_is_used_without_a_pin() -> None:
    conn = Connection("h", 22, "u", KEY, known_hosts_file="/etc/wayshub/known_hosts")
    with key_files(conn) as (_, known_hosts):
        assert known_hosts == Path("/etc/wayshub/known_hosts")


def test_exec_report_prefixes_every_line_with_its_host() -> None:
    hosts = [OpsHost(n, "app", Connection("h", 22, "u", KEY)) for n in ("app1", "app10")]
    results = [
        HostResult(hosts[0], CommandResult(0, "a\nb\n", "")),
        HostResult(hosts[1], CommandResult(2, "", "boom\n")),
    ]
    assert report(results).splitlines() == ["app1  | a", "app1  | b", "app10 | boom", "app10 | exit 2"]
    assert report([HostResult(hosts[0], None, "no answer")]) == "app1 | unreachable: no answer"


def test_no_pulumi_on_path_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    """`scripts/ops` run by hand in a shell without the engine on PATH (make puts it there)."""
    env = {"PATH": str(tmp_path), "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    result = subprocess.run(
        [sys.executable, "scripts/ops", "--stack", "local", "status"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stderr) == (
        2,
        "ops: no pulumi on PATH: run this through make (make status, logs, ssh, exec), which finds the engine\n",
    )


def failover_view() -> StackView:
    """Two LBs (hosts.lbServers): components ``lb`` and ``lb2``, the second's in the state first."""
    state = deployment()
    lb2 = f"{PROJECT}wayshub:load_balancer:NginxLoadBalancer::lb2"
    state["resources"] += [
        {"urn": lb2, "type": "wayshub:load_balancer:NginxLoadBalancer", "outputs": {}},
        {"urn": "x::lb2-site", "type": "pulumi-python:dynamic/wayshub:RemoteCommand", "parent": lb2,
         "inputs": {"connection": secret(connection(2203))}},
    ]  # fmt: skip
    config = stack_config.parse(
        {
            "domain": "wayshub.test",
            "hosts": {
                "provider": "sandbox",
                "appServers": [{"name": "app1"}, {"name": "app2"}],
                "lbServers": [{"name": "lb1"}, {"name": "lb2"}],
            },
        }
    )
    return view_of("s", state, {"release": "r1", "backends": ["10.0.0.11:3000", "10.0.0.12:3000"]}, config)


KEEPALIVED = "keepalived_state=active\nkeepalived_since=100\n"


def test_two_lbs_are_both_listed_and_status_says_which_holds_the_address() -> None:
    v = failover_view()
    assert [(h.name, h.role, h.connection.port) for h in v.hosts][2:] == [("lb1", "lb", 2200), ("lb2", "lb", 2203)]
    assert v.virtual_address == "172.30.77.5"
    assert "\nVIRTUAL_ADDRESS=172.30.77.5\n" in shlex.split(status_command(v, v.hosts[2], v.sites[0]))[4]
    holder = judge(v, v.sites[0], outcome(v.hosts[2], LB_OK + KEEPALIVED + "holds=yes\n"), now=160)
    standby = judge(v, v.sites[0], outcome(v.hosts[3], LB_OK + KEEPALIVED + "holds=no\n"), now=160)
    assert holder.ok and standby.ok
    assert (holder.unit, holder.health) == ("nginx active, keepalived active", "upstream 2/2, HOLDS 172.30.77.5")
    assert standby.health == "upstream 2/2, standby"
    down = judge(v, v.sites[0], outcome(v.hosts[3], LB_OK + "keepalived_state=failed\nholds=no\n"), now=0)
    assert down.problems == ("keepalived is failed: this LB cannot take 172.30.77.5 over",)


@pytest.mark.parametrize(
    ("held", "problem"),
    [
        (("no", "no"), "no LB holds 172.30.77.5: the site is unreachable there"),
        (("yes", "yes"), "lb1 and lb2 both hold 172.30.77.5 (split brain: they cannot see each other)"),
    ],
)
def test_none_or_both_holding_the_address_is_named(held: tuple[str, str], problem: str) -> None:
    v = failover_view()
    rows = [
        judge(v, v.sites[0], outcome(h, LB_OK + KEEPALIVED + f"holds={x}\n"), now=0)
        for h, x in zip(v.hosts[2:], held, strict=True)
    ]
    assert address_problem(v, rows) == problem
