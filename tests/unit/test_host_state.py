"""``HostState`` (components/shell/host_state.py): the read script run for real, the provider's life cycle
called directly with the SSH round trip answered by that script on local files."""

from __future__ import annotations

import getpass
import grp
import hashlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from components.shell import host_state, ssh
from components.shell.host_state import HostStateProvider, parse_read, repair_token
from components.shell.provider import CommandProvider
from components.shell.ssh import CommandResult

SCRIPT = host_state.READ_SCRIPT


def read_locally(checks: list[list[str]]) -> dict[str, str]:
    """read-state.sh as the provider sends it, minus sudo: bash with CHECKS set."""
    lines = "".join(f"{kind} {path}\n" for kind, path, *_ in checks)
    result = subprocess.run(
        ["bash", str(SCRIPT)], env={**os.environ, "CHECKS": lines}, capture_output=True, text=True, check=True
    )
    return parse_read(result.stdout)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def owner() -> str:
    return f"{getpass.getuser()}:{grp.getgrgid(os.getgid()).gr_name}"


def test_the_read_script_reports_digests_modes_links_and_what_is_missing(tmp_path: Path) -> None:
    site = tmp_path / "site.conf"
    site.write_text("keepalive 32;\n")
    site.chmod(0o640)
    (tmp_path / "link").symlink_to("/opt/x/releases/abc")
    (tmp_path / "dir").mkdir(mode=0o755)
    tool = tmp_path / "node"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    checks = [
        ["content", str(site)],
        ["mode", str(site)],
        ["content", str(tmp_path / "gone")],
        ["mode", str(tmp_path / "gone")],
        ["link", str(tmp_path / "link")],
        ["link", str(tmp_path / "dir")],
        ["dir", str(tmp_path / "dir")],
        ["dir", str(site)],
        ["exec", str(tool)],
        ["exec", str(site)],
        ["user", "root"],
        ["user", "no-such-user-wayshub"],
    ]
    got = read_locally(checks)
    assert got == {
        f"content {site}": sha("keepalive 32;\n"),
        f"mode {site}": f"640 {owner()}",
        f"content {tmp_path}/gone": "missing",
        f"mode {tmp_path}/gone": "missing",
        f"link {tmp_path}/link": "/opt/x/releases/abc",
        f"link {tmp_path}/dir": "missing",
        f"dir {tmp_path}/dir": f"755 {owner()}",
        f"dir {site}": "missing",
        f"exec {tool}": "present",
        f"exec {site}": "missing",
        "user root": "present",
        "user no-such-user-wayshub": "missing",
    }


def test_the_read_script_never_prints_file_content(tmp_path: Path) -> None:
    env = tmp_path / "env"
    env.write_text("SECRET=hunter2-very-secret\n")
    out = subprocess.run(
        ["bash", str(SCRIPT)], env={**os.environ, "CHECKS": f"content {env}\n"}, capture_output=True, text=True
    )
    assert "hunter2" not in out.stdout + out.stderr


def test_the_read_command_is_one_sudo_bash_with_the_checks_first() -> None:
    command = host_state.read_command([["content", "/etc/nginx/conf.d/a b.conf", "site"]])
    assert command.startswith("sudo -n bash -c ")
    assert "content /etc/nginx/conf.d/a b.conf" in command


# --- the provider, its one SSH round trip answered by the real script on local files ---------------------


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    calls: list[str] = []

    def run(_conn: Any, command: str, stdin: Any = None, timeout: float = 0, environment: Any = None) -> CommandResult:
        calls.append(command)
        assert command.startswith("sudo -n bash -c ")
        inner = subprocess.run(["bash", "-c", command.removeprefix("sudo -n ")], capture_output=True, text=True)
        return CommandResult(inner.returncode, inner.stdout, inner.stderr)

    monkeypatch.setattr(ssh, "run", run)
    monkeypatch.setattr(ssh.Connection, "from_props", staticmethod(lambda props: _Conn()))
    (tmp_path / "calls").write_text("")
    monkeypatch.setattr(host_state, "_calls", calls, raising=False)
    return tmp_path


class _Conn:
    host, port = "127.0.0.1", 2222


def props_for(root: Path, site_text: str, env_text: str) -> dict[str, Any]:
    site, env = root / "site.conf", root / "env"
    return {
        "name": "lb",
        "connection": {"host": "127.0.0.1", "port": 2222, "user": "u", "private_key": "k", "host_key": "h"},
        "checks": [["content", str(site), "site"], ["mode", str(site), "site"], ["content", str(env), "release"]],
        "expected": {f"content {site}": sha(site_text), f"mode {site}": f"644 {owner()}"},
        "expected_secret": {f"content {env}": sha(env_text)},
        "repairs": {},
    }


def deploy(root: Path, site_text: str, env_text: str) -> None:
    (root / "site.conf").write_text(site_text)
    (root / "site.conf").chmod(0o644)
    (root / "env").write_text(env_text)


def test_create_runs_nothing_and_records_what_is_expected(host: Path) -> None:
    props = props_for(host, "a", "X=1\n")
    created = HostStateProvider().create(props)
    assert created.outs["observed"] == props["expected"]
    assert created.outs["observed_secret"] == props["expected_secret"]
    assert created.outs["drift"] == [] and created.outs["repairs"] == {}
    assert host_state._calls == []  # type: ignore[attr-defined]


def test_refresh_of_an_undrifted_host_changes_nothing(host: Path) -> None:
    props = props_for(host, "keepalive 32;", "X=1\n")
    deploy(host, "keepalive 32;", "X=1\n")
    provider = HostStateProvider()
    stored = provider.create(props).outs
    read = provider.read("lb@127.0.0.1:2222", stored)
    assert read.outs == stored
    assert len(host_state._calls) == 1  # type: ignore[attr-defined]  # one round trip
    assert read.inputs == {k: stored[k] for k in host_state.INPUT_KEYS}
    assert not provider.diff("id", read.outs, provider.check(read.inputs or {}, props).inputs).changes


def test_drift_is_a_change_naming_host_and_file_and_raises_the_repair_count_once(host: Path) -> None:
    props = props_for(host, "keepalive 32;", "X=1\n")
    deploy(host, "keepalive 32;", "X=1\n")
    provider = HostStateProvider()
    stored = provider.create(props).outs
    (host / "site.conf").write_text("keepalive 2;")
    (host / "env").write_text("X=1\nEVIL=1\n")

    read = provider.read("id", stored)
    assert read.outs["drift"] == [
        f"lb: {host}/site.conf (content) content differs (sha256 {sha('keepalive 2;')[:12]}…, want "
        f"{sha('keepalive 32;')[:12]}…)",
        f"lb: {host}/env (content) content differs (sha256; secret)",
    ]
    assert read.outs["repairs"] == {"site": 1, "release": 1}
    assert read.inputs is not None and read.inputs["repairs"] == {"site": 1, "release": 1}
    assert "EVIL" not in str(read.outs)
    # A second refresh of the same drift is no further change.
    again = provider.read("id", read.outs)
    assert again.outs == read.outs

    # The next preview/up: check carries the counts forward, diff sees the drift, update lists what it restores.
    checked = provider.check(read.inputs, props).inputs
    assert checked["repairs"] == {"site": 1, "release": 1}
    assert provider.diff("id", read.outs, checked).changes
    updated = provider.update("id", read.outs, checked).outs
    assert updated["observed"] == props["expected"] and updated["drift"] == []
    assert [line.split(" (")[0] for line in updated["restored"]] == [f"lb: {host}/site.conf", f"lb: {host}/env"]
    assert updated["repairs"] == {"site": 1, "release": 1}


def test_a_missing_file_and_a_wrong_mode_are_named(host: Path) -> None:
    props = props_for(host, "s", "e")
    deploy(host, "s", "e")
    provider = HostStateProvider()
    stored = provider.create(props).outs
    (host / "site.conf").chmod(0o600)
    (host / "env").unlink()
    drift = provider.read("id", stored).outs["drift"]
    assert drift == [
        f"lb: {host}/site.conf (mode) is '600 {owner()}', want '644 {owner()}'",
        f"lb: {host}/env (content) missing",
    ]


def test_a_repeated_drift_after_a_repair_raises_the_count_again(host: Path) -> None:
    props = props_for(host, "s", "e")
    deploy(host, "s", "e")
    provider = HostStateProvider()
    stored = provider.create(props).outs
    (host / "site.conf").write_text("x")
    read = provider.read("id", stored)
    repaired = provider.update("id", read.outs, provider.check(read.inputs or {}, props).inputs).outs
    deploy(host, "s", "e")
    assert provider.read("id", repaired).outs["repairs"] == {"site": 1}
    (host / "site.conf").write_text("x")
    assert provider.read("id", repaired).outs["repairs"] == {"site": 2}


def test_a_changed_program_is_an_update_and_another_host_a_replacement(host: Path) -> None:
    props = props_for(host, "s", "e")
    provider = HostStateProvider()
    stored = provider.create(props).outs
    newer = {**props, "expected": {**props["expected"], f"content {host}/site.conf": sha("t")}}
    assert provider.diff("id", stored, newer).changes
    assert provider.diff("id", stored, {**props, "connection": {**props["connection"], "host_key": "other"}}).replaces


def test_a_failed_read_is_one_line(host: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ssh, "run", lambda *_a, **_k: CommandResult(1, "", "sudo: a password is required"))
    with pytest.raises(Exception, match=r"lb@127.0.0.1:2222: reading its state failed with exit code 1: sudo"):
        HostStateProvider().read("id", props_for(host, "s", "e"))


def test_repair_tokens_are_empty_until_a_component_was_repaired() -> None:
    assert repair_token({}, ["site", "tls-key"]) == []
    assert repair_token({"site": 0, "release": 2}, ["site", "release"]) == ["repair release #2"]


def test_checks_refuse_unknown_kinds_and_paths_on_two_lines() -> None:
    with pytest.raises(ValueError, match="unknown check kind"):
        host_state.Check("chmod", "/x", "1", "site")
    with pytest.raises(ValueError, match="one line"):
        host_state.Check("content", "/x\ncontent /etc/shadow", "1", "site")


def test_commands_that_never_stored_rerun_values_equal_an_empty_list() -> None:
    """A stack from before HostState holds no rerun_on on copies: [] must not re-copy anything."""
    assert CommandProvider._changed({"rerun_on": None}, {"rerun_on": []}, ("rerun_on",)) == []
    assert CommandProvider._changed({}, {"rerun_on": ["repair base #1"]}, ("rerun_on",)) == ["rerun_on"]


def test_an_app_server_is_checked_in_its_release_folder_and_a_pinned_release_by_what_is_known() -> None:
    from components.app.state_checks import BASE, RELEASE, SCHEDULES, app_checks, schedule_checks

    built = app_checks("wayshub", "r1", "b1", "/opt/wayshub/node/22.1.0/bin/node", "start", "unit", None)
    keys = {c.key: (c.expected, c.component) for c in built}
    assert keys["link /opt/wayshub/current"] == ("/opt/wayshub/releases/r1", RELEASE)
    assert keys["content /opt/wayshub/releases/r1/start"] == (sha("start"), RELEASE)
    assert keys["content /etc/systemd/system/wayshub.service"] == (sha("unit"), RELEASE)
    assert keys["unit wayshub.service"] == ("enabled active", RELEASE)
    assert keys["dir /opt/wayshub/code/b1"] == ("755 root:root", BASE)
    assert keys["exec /opt/wayshub/node/22.1.0/bin/node"] == ("present", BASE)
    pinned = {c.key for c in app_checks("wayshub", "r0", None, None, None, "unit", None)}
    assert not any(k.endswith("/start") or k.startswith("exec ") or "/code/" in k for k in pinned), pinned
    assert "link /opt/wayshub/current" in pinned
    # A release task (app.releaseTask) is the release's too: a changed task script is drift.
    assert not any(k.endswith("/task") for k in keys)
    with_task = app_checks("wayshub", "r1", "b1", None, "start", "unit", None, "task")
    tasks = {c.key: (c.expected, c.component) for c in with_task if c.key.endswith("/task")}
    assert tasks == {
        "content /opt/wayshub/releases/r1/task": (sha("task"), RELEASE),
        "mode /opt/wayshub/releases/r1/task": ("755 root:root", RELEASE),
    }
    # So are its processes (app.processes): their scripts, units and states.
    with_worker = app_checks("wayshub", "r1", "b1", None, "start", "unit", None, None, [("worker", "w", "u", "c")])
    workers = {c.key: (c.expected, c.component) for c in with_worker if "worker" in c.key}
    assert workers == {
        "content /opt/wayshub/releases/r1/processes/worker": (sha("w"), RELEASE),
        "content /opt/wayshub/releases/r1/processes/worker.check": (sha("c"), RELEASE),
        "content /etc/systemd/system/wayshub@worker.service": (sha("u"), RELEASE),
        "mode /etc/systemd/system/wayshub@worker.service": ("644 root:root", RELEASE),
        "unit wayshub@worker.service": ("enabled active", RELEASE),
    }
    # And the scripts of its scheduled jobs (app.schedules), in every host's release.
    with_job = app_checks("wayshub", "r1", "b1", None, "start", "unit", None, schedules=[("nightly", "n")])
    jobs = {c.key: (c.expected, c.component) for c in with_job if "nightly" in c.key}
    assert jobs == {
        "content /opt/wayshub/releases/r1/schedules/nightly": (sha("n"), RELEASE),
        "mode /opt/wayshub/releases/r1/schedules/nightly": ("755 root:root", RELEASE),
    }
    # Their units and timers are the Schedules step's, on the one server that runs them.
    timers = {c.key: (c.expected, c.component) for c in schedule_checks("wayshub", [("nightly", "u", "t")])}
    assert timers == {
        "content /etc/systemd/system/wayshub@job-nightly.service": (sha("u"), SCHEDULES),
        "mode /etc/systemd/system/wayshub@job-nightly.service": ("644 root:root", SCHEDULES),
        "content /etc/systemd/system/wayshub@job-nightly.timer": (sha("t"), SCHEDULES),
        "mode /etc/systemd/system/wayshub@job-nightly.timer": ("644 root:root", SCHEDULES),
        "unit wayshub@job-nightly.timer": ("enabled active", SCHEDULES),
    }


def test_the_read_script_reads_all_files_with_one_sha256sum_and_all_modes_with_one_stat(tmp_path: Path) -> None:
    """Every host runs it on every refresh: one command per kind of check, not one per check."""
    calls = tmp_path / "calls"
    shims = tmp_path / "bin"
    shims.mkdir()
    for tool in ("sha256sum", "stat"):
        real = shutil.which(tool)
        assert real is not None
        shim = shims / tool
        shim.write_text(f'#!/bin/sh\necho {tool} >>"{calls}"\nexec {real} "$@"\n')
        shim.chmod(0o755)
    files = [tmp_path / f"f {n}" for n in range(4)]
    for n, file in enumerate(files):
        file.write_text(f"{n}\n")
        file.chmod(0o644)
    checks = [[kind, str(file)] for file in files for kind in ("content", "mode")]
    checks += [["dir", str(tmp_path)], ["content", str(tmp_path / "gone")]]
    result = subprocess.run(
        ["bash", str(SCRIPT)],
        env={**os.environ, "PATH": f"{shims}:{os.environ['PATH']}", "CHECKS": "".join(f"{k} {p}\n" for k, p in checks)},
        capture_output=True,
        text=True,
        check=True,
    )
    got = parse_read(result.stdout)
    assert [line.partition("\t")[0] for line in result.stdout.splitlines()] == [f"{k} {p}" for k, p in checks]
    assert [got[f"content {file}"] for file in files] == [sha(f"{n}\n") for n in range(4)]
    assert {got[f"mode {file}"] for file in files} == {f"644 {owner()}"}
    assert got[f"content {tmp_path}/gone"] == "missing"
    assert sorted(calls.read_text().split()) == ["sha256sum", "stat", "stat"]  # files; modes; folders
