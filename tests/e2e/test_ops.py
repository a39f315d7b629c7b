"""Day-2 operations against the deployed site: scripts/ops (what make status/logs/ssh/exec run) reads the
stack's state and reaches every host with the stack's key and pinned host keys (issue 19)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.pulumi_cli import REPO, engine_env
from tests.e2e.site import SAMPLE_APP, SITE_STACK, Site, get, write_stack_config

pytestmark = pytest.mark.e2e

APP_SERVERS = ["app1", "app2"]


def ops(site: Site, *args: str, stdin: str | None = None, tmp: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**site.cli.env, **({"TMPDIR": str(tmp)} if tmp else {})}
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / "ops"), "--stack", SITE_STACK, "--project", str(site.project), *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def private_key(site: Site) -> str:
    state = json.dumps(site.cli.state(show_secrets=True))
    marker = "BEGIN OPENSSH " + "PRIVATE KEY"  # in two parts: no key-shaped text in git
    assert marker in state
    # The key's body: one of its base64 lines is enough to spot it in any output.
    return str(state.split(marker, 1)[1].split("\\n")[2])


def wait_for_status(site: Site, code: int, deadline_seconds: float = 120) -> subprocess.CompletedProcess[str]:
    deadline = time.monotonic() + deadline_seconds
    while True:
        result = ops(site, "status")
        if result.returncode == code or time.monotonic() > deadline:
            return result
        time.sleep(2)


def test_status_is_green_after_up_and_shows_each_host(site: Site) -> None:
    release = site.cli.outputs()["release"]
    result = wait_for_status(site, 0)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[1:4]}
    assert set(rows) == {"app1", "app2", "lb"}
    for app in ("app1", "app2"):
        assert rows[app][1:5] == ["app", "ok", release, "active"], result.stdout
        assert "ok" in rows[app] and any(cell.startswith("v") for cell in rows[app]), result.stdout
    assert rows["lb"][1:6] == ["lb", "ok", "-", "nginx", "active"], result.stdout
    assert "upstream 2/2" in result.stdout
    assert private_key(site) not in result.stdout + result.stderr


def test_status_names_a_stopped_host_and_fails(site: Site) -> None:
    site.sh("app2", "systemctl stop wayshub.service")
    try:
        result = ops(site, "status")
        assert result.returncode == 1, result.stdout + result.stderr
        assert "app2: wayshub.service is inactive" in result.stdout
        assert "NOT as the stack says on app2" in result.stdout
        assert "app1:" not in result.stdout  # no problem line for the healthy host
    finally:
        site.sh("app2", "systemctl start wayshub.service")
    assert wait_for_status(site, 0).returncode == 0


@pytest.fixture()
def logging_requests(site: Site) -> Iterator[Site]:
    """The sample app logging each request (LOG_REQUESTS=1 in its env), and back afterwards."""
    write_stack_config(site, app_servers=APP_SERVERS, extra={"wayshub:app": {**SAMPLE_APP, "env": {"LOG_REQUESTS": 1}}})
    site.cli.up()
    try:
        yield site
    finally:
        write_stack_config(site, app_servers=APP_SERVERS)
        site.cli.up()


def test_logs_show_a_request_on_the_lb_and_on_the_app_host_that_served_it(logging_requests: Site) -> None:
    site = logging_requests
    marker = f"ops-{uuid.uuid4().hex[:12]}"
    answer = get(f"/?{marker}")
    assert answer.status == 200 and answer.backend in APP_SERVERS
    # nginx and the app write their lines when the response is done; give them a moment.
    deadline = time.monotonic() + 30
    while True:
        result = ops(site, "logs", "--since", "10m")
        lines = [line for line in result.stdout.splitlines() if marker in line]
        if len(lines) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert result.returncode == 0, result.stderr
    assert len(lines) == 2, result.stdout
    (lb,) = [line for line in lines if " lb   | access.log: " in line]
    assert f"GET /?{marker} HTTP/1.1" in lb
    (app,) = [line for line in lines if line is not lb]
    assert f" {answer.backend} | " in app and app.endswith(f"GET /?{marker} 200"), app
    # Every host's app journal is there too, merged by time and prefixed by its host.
    assert " app1 | " in result.stdout and " app2 | " in result.stdout
    stamps = [line[:23] for line in result.stdout.splitlines()]
    assert stamps == sorted(stamps)
    # HOST= keeps one host's lines only.
    only = ops(site, "logs", "--host", "app1", "--since", "10m")
    assert only.stdout and all(" app1 | " in line for line in only.stdout.splitlines()), only.stdout


def test_exec_returns_each_app_hosts_hostname(site: Site) -> None:
    result = ops(site, "exec", "hostname")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["app1 | app1", "app2 | app2"]
    failing = ops(site, "exec", "test $(hostname) = app1")
    assert failing.returncode == 1
    assert failing.stdout.splitlines() == ["app2 | exit 1"]


def test_ssh_runs_a_command_non_interactively(site: Site) -> None:
    result = ops(site, "ssh", "app1", "--cmd", "hostname")
    assert (result.returncode, result.stdout) == (0, "app1\n"), result.stderr
    assert ops(site, "ssh", "lb", "--cmd", "exit 7").returncode == 7


def test_ssh_shell_uses_a_key_file_that_is_gone_afterwards(site: Site, tmp_path: Path) -> None:
    # No terminal here: the shell reads its commands from stdin (a person gets a terminal).
    result = ops(site, "ssh", "app2", stdin="hostname\nexit 3\n", tmp=tmp_path)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "app2" in result.stdout.split()
    assert list(tmp_path.iterdir()) == []
    assert private_key(site) not in result.stdout + result.stderr


@pytest.mark.parametrize("state", ["missing", "empty"])
@pytest.mark.parametrize("command", [["status"], ["logs"], ["exec", "uptime"], ["ssh", "app1"]])
def test_ops_before_any_up_say_to_deploy_first(tmp_path: Path, state: str, command: list[str]) -> None:
    """`make status` (logs, exec, ssh) in a fresh clone, before `make up`: one line saying what to do."""
    env = engine_env(tmp_path / "state", tmp_path / "home")
    if state == "missing":
        (tmp_path / "state").rmdir()
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "ops"), "--stack", SITE_STACK, "--project", str(REPO), *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (result.returncode, result.stderr) == (
        2,
        f"ops: stack {SITE_STACK} is not deployed here: make up STACK={SITE_STACK} first\n",
    )
