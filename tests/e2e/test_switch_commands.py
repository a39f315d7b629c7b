"""scripts/switch-commands on the real engine: a backend switch changes every command URN, and no delete runs.

The program (tests/e2e/programs/switch) declares its command resources under the token ``wayshub:commands``
picks; its deletes tear down what a test can see (a marker file, a running process) and every
create/delete writes a line to a log. A plain `up` after the switch tears it down (the control); the
script does not, and afterwards the stack behaves as one made under the new token.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bench.loadgen import BackgroundLoad
from tests.e2e import slots
from tests.e2e.other_servers import OtherServers, other_servers
from tests.e2e.processes import kill_tree
from tests.e2e.pulumi_cli import REPO, PulumiCli, copy_program, engine_env, stack_file_text
from tests.e2e.test_existing_hosts import DOMAIN, USER_HOSTS_LINES, existing_hosts, site_config

pytestmark = pytest.mark.e2e

STACK = slots.name("switch")
OLD = "pulumi-python:dynamic/wayshub:LocalCommand"
NEW = "pulumi-python:dynamic/renamed:LocalCommand"
COMMANDS = ("site-marker", "site-service")


@dataclass(frozen=True)
class Deployed:
    cli: PulumiCli
    run_dir: Path

    @property
    def log(self) -> list[str]:
        return (self.run_dir / "log").read_text().splitlines()

    @property
    def pid(self) -> int:
        return int((self.run_dir / "service.pid").read_text())

    def state(self) -> dict[str, Any]:
        return dict(self.cli.state()["deployment"])

    def command_types(self) -> dict[str, str]:
        """name -> type of every command resource in the state."""
        return {
            r["urn"].rsplit("::", 1)[1]: r["type"]
            for r in self.state()["resources"]
            if r["urn"].rsplit("::", 1)[1] in COMMANDS
        }

    def switch(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(REPO / "scripts" / "switch-commands"), "--stack", STACK, *args],
            cwd=self.cli.workdir,
            env=env or self.cli.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )


def alive(pid: int) -> bool:
    """The process runs (a zombie nobody has reaped yet does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


@pytest.fixture()
def deployed(tmp_path: Path) -> Iterator[Deployed]:
    """The program deployed with the built-in token: the marker written, the service started."""
    project = tmp_path / "project"
    shutil.copytree(REPO / "tests" / "e2e" / "programs" / "switch", project)
    (project / "Pulumi.yaml").write_text(
        f"name: wayshub-switch\nruntime:\n  name: python\n  options:\n    toolchain: pip\n    virtualenv: {REPO / 'venv'}\n"
    )
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    cli = PulumiCli(project, {**engine_env(tmp_path / "state", tmp_path / "home")})
    cli.init_stack(STACK)
    cli.set_config("dir", str(run_dir))
    cli.set_config("wayshub:commands", "builtin")
    site = Deployed(cli, run_dir)
    try:
        cli.up()
        assert site.log == ["create marker", "create service"] or site.log == ["create service", "create marker"]
        assert alive(site.pid)
        assert site.command_types() == dict.fromkeys(COMMANDS, OLD)
        yield site
    finally:
        for pid_file in run_dir.glob("*.pid"):
            pid = int(pid_file.read_text())
            if alive(pid):
                os.kill(pid, signal.SIGTERM)


def deletes(log: list[str]) -> list[str]:
    return sorted(line for line in log if line.startswith("delete"))


def test_without_the_script_the_switch_runs_the_old_deletes_and_tears_everything_down(deployed: Deployed) -> None:
    """The control: the danger is real. A plain up creates the new twins, then deletes the old ones."""
    pid = deployed.pid
    deployed.cli.set_config("wayshub:commands", "renamed")
    deployed.cli.up()
    assert deletes(deployed.log) == ["delete marker", "delete service"]
    assert not (deployed.run_dir / "marker").exists()
    assert not alive(pid)
    assert deployed.command_types() == dict.fromkeys(COMMANDS, NEW)


def test_the_script_switches_every_command_resource_without_running_a_delete(deployed: Deployed) -> None:
    pid = deployed.pid
    state_before = deployed.state()
    stack_file = deployed.cli.workdir / f"Pulumi.{STACK}.yaml"
    config_before = stack_file.read_bytes()

    dry = deployed.switch("--to", "renamed", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "2 resources change type" in dry.stdout, dry.stdout
    for name in COMMANDS:
        assert f"    {name}: wayshub:test:Site${OLD} -> wayshub:test:Site${NEW}" in dry.stdout.splitlines()
    assert dry.stdout.splitlines()[-1] == "switch-commands: dry run: nothing was changed"
    assert stack_file.read_bytes() == config_before, "a dry run must leave the stack's config alone"
    assert deployed.state()["resources"] == state_before["resources"], "a dry run must leave the state alone"
    assert deployed.log == ["create marker", "create service"] or deployed.log == ["create service", "create marker"]

    switched = deployed.switch("--to", "renamed")
    assert switched.returncode == 0, switched.stdout + switched.stderr
    assert deletes(deployed.log) == [], f"a delete command ran: {deployed.log}"
    assert (deployed.run_dir / "marker").read_text() == "deployed\n"
    assert deployed.pid == pid and alive(pid), "the service must keep running, the same process"
    assert deployed.command_types() == dict.fromkeys(COMMANDS, NEW)
    assert not any(r.get("retainOnDelete") for r in deployed.state()["resources"]), "no mark may outlive the switch"
    assert deployed.cli.get_config("wayshub:commands") == "renamed"

    again = deployed.cli.up_summary()
    assert set(again) == {"same"}, f"a second up must change nothing, the engine reported {again}"

    deployed.cli.destroy()
    assert deletes(deployed.log) == ["delete marker", "delete service"], "destroy runs the NEW resources' deletes"
    assert not (deployed.run_dir / "marker").exists()
    assert not alive(pid)


def test_pending_operations_are_refused_in_one_line_before_anything_changes(deployed: Deployed) -> None:
    """An `up` killed in the middle of a create leaves a pending operation (`stack import` would drop it)."""
    deployed.cli.set_config("wayshub:slow", "true")
    up = subprocess.Popen(
        ["pulumi", "--non-interactive", "up", "--yes", "--skip-preview"],
        cwd=deployed.cli.workdir,
        env=deployed.cli.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while "create slow" not in deployed.log:
            assert time.monotonic() < deadline and up.poll() is None, "the slow create never started"
            time.sleep(0.2)
    finally:
        kill_tree(up.pid)  # the engine and the plugins it started (their own process groups)
        up.wait()
    pending = deployed.state().get("pending_operations") or []
    assert [(op["type"], op["resource"]["urn"].rsplit("::", 1)[1]) for op in pending] == [("creating", "site-slow")]
    deployed.cli.set_config("wayshub:slow", "false")

    refused = deployed.switch("--to", "renamed")
    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [
        f"switch-commands: stack {STACK} has 1 pending operations (an interrupted up: creating "
        f"{pending[0]['resource']['urn']}): run `make recover` first; nothing was changed"
    ]
    assert deployed.cli.get_config("wayshub:commands") == "builtin"
    assert deployed.command_types() == dict.fromkeys(COMMANDS, OLD)
    assert deletes(deployed.log) == []


def test_a_backend_whose_plugin_is_absent_is_refused_in_one_line(deployed: Deployed) -> None:
    # `make test` puts the real plugins on PATH (scripts/ensure-plugins): leave that folder out here.
    path = ":".join(
        p for p in deployed.cli.env["PATH"].split(":") if not shutil.which("pulumi-resource-command", path=p)
    )
    refused = deployed.switch("--to", "pulumi-command", env={**deployed.cli.env, "PATH": path})
    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [
        "switch-commands: wayshub:commands=pulumi-command: the 'command' resource plugin is not installed "
        "(`pulumi plugin install resource command`); nothing was changed"
    ]
    assert deployed.cli.get_config("wayshub:commands") == "builtin"


def test_a_change_besides_the_switch_is_refused_because_its_delete_would_run(deployed: Deployed) -> None:
    deployed.cli.set_config("wayshub:extra", "true")
    deployed.cli.up()
    deployed.cli.set_config("wayshub:extra", "false")  # the next up would delete site-extra for good
    state_before = deployed.state()["resources"]

    refused = deployed.switch("--to", "renamed")
    assert refused.returncode == 1
    urn = next(r["urn"] for r in state_before if r["urn"].endswith("::site-extra"))
    assert refused.stderr.splitlines() == [
        f"switch-commands: {urn} would be deleted with no new twin of that name (its delete would run): "
        "not a pure backend switch, run a plain `pulumi up` first; nothing was changed"
    ]
    assert deployed.state()["resources"] == state_before
    assert deletes(deployed.log) == []


# --- The whole site on servers of the user's own (provider: existing), switched under load. ---

SITE_STACK = slots.name("extswitch")
EXT_HTTP_PORT = slots.EXT_HTTP_PORT
OLD_TYPES = tuple(f"pulumi-python:dynamic/wayshub:{n}" for n in ("LocalCommand", "RemoteCommand", "CopyFileToRemote"))


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory, sandbox_image: str) -> Iterator[OtherServers]:
    with other_servers(sandbox_image, tmp_path_factory.mktemp("switch-servers")) as made:
        yield made


def site_project(root: Path, servers: OtherServers) -> PulumiCli:
    """The real program behind tests/e2e/programs/switch_site (which can rename the built-in tokens)."""
    project = root / "project"
    copy_program(project)
    (project / "__main__.py").rename(project / "wayshub_program.py")
    shutil.copy(REPO / "tests" / "e2e" / "programs" / "switch_site" / "__main__.py", project / "__main__.py")
    (project / "stacks").mkdir()
    hosts_file = root / "hosts"
    hosts_file.write_text(USER_HOSTS_LINES)
    config = {
        **site_config(existing_hosts(servers, servers.known_hosts), hosts_file),
        "wayshub:commands": "builtin",
        "switchtest:tokens": "builtin",
    }
    (project / "stacks" / f"Pulumi.{SITE_STACK}.yaml").write_text(stack_file_text(config))
    cli = PulumiCli(project, engine_env(root / "state", root / "home"))
    cli.init_stack(SITE_STACK)
    cli.set_config("wayshub:sshPrivateKey", servers.private_key, secret=True)
    return cli


def resources(cli: PulumiCli) -> list[dict[str, Any]]:
    return list(cli.state()["deployment"]["resources"])


def test_the_whole_site_switches_under_load_with_no_failed_get_and_no_teardown(
    tmp_path: Path, servers: OtherServers
) -> None:
    cli = site_project(tmp_path, servers)
    try:
        cli.up()
        before = resources(cli)
        commands = {r["urn"].rsplit("::", 1)[1] for r in before if r["type"] in OLD_TYPES}
        probes = {r["urn"] for r in before if r["urn"].endswith("-probe")}
        releases = cli.outputs()["releases"]
        nginx_pid = servers.sh("lb", "systemctl show -p MainPID --value nginx").stdout.strip()
        site_file = f"/etc/nginx/conf.d/wayshub-{SITE_STACK}.conf"

        with BackgroundLoad(EXT_HTTP_PORT, DOMAIN, min_requests=2000, max_seconds=600) as traffic:
            switched = subprocess.run(
                [
                    str(REPO / "scripts" / "switch-commands"),
                    "--stack",
                    SITE_STACK,
                    "--to",
                    "renamed",
                    "--setting",
                    "switchtest:tokens",
                ],
                cwd=cli.workdir,
                env=cli.env,
                capture_output=True,
                text=True,
                timeout=1200,
                check=False,
            )
        print("switch-commands:", switched.stdout[-3000:], switched.stderr[-2000:], "load:", traffic.report)
        assert switched.returncode == 0, switched.stdout[-3000:] + switched.stderr
        assert traffic.report.total >= 2000
        assert traffic.report.failed == 0, traffic.report.error_samples

        after = resources(cli)
        renamed = {r["urn"].rsplit("::", 1)[1] for r in after if r["type"].startswith("pulumi-python:dynamic/renamed:")}
        assert renamed == commands - {u.rsplit("::", 1)[1] for u in probes}, "every command is under the new token"
        assert {r["urn"] for r in after if r["type"] in OLD_TYPES} == probes, "only the probes keep their type"
        assert not any(r.get("retainOnDelete") for r in after)
        # No teardown ran: nginx was never restarted, our site and units are in place, the releases unchanged.
        assert servers.sh("lb", "systemctl show -p MainPID --value nginx").stdout.strip() == nginx_pid
        assert servers.sh("lb", f"test -f {site_file}", check=False).returncode == 0
        for app in ("app1", "app2"):
            assert servers.sh(app, "systemctl is-active wayshub").stdout.strip() == "active"
            assert servers.sh(app, "test -L /opt/wayshub/current && id wayshub", check=False).returncode == 0
        assert cli.outputs()["releases"] == releases

        again = cli.up_summary()
        assert set(again) == {"same"}, f"a second up must change nothing, the engine reported {again}"

        cli.destroy()
        # destroy ran the NEW resources' deletes: the site, the unit and the app's folder are gone.
        assert servers.sh("lb", f"test -e {site_file}", check=False).returncode != 0
        for app in ("app1", "app2"):
            assert servers.sh(app, "test -e /etc/systemd/system/wayshub.service", check=False).returncode != 0
            assert servers.sh(app, "test -e /opt/wayshub", check=False).returncode != 0
    finally:
        cli.destroy(check=False)


THEIR_TYPES = ("command:local:Command", "command:remote:Command", "command:remote:CopyToRemote")


def switch_site_under_load(cli: PulumiCli, servers: OtherServers, to: str) -> None:
    """`scripts/switch-commands --to <to>` (wayshub:commands) under load: 0 failed GETs, nginx never restarted,
    the apps untouched, every command resource (not the probes) of the new backend, then nothing to change."""
    before = resources(cli)
    releases = cli.outputs()["releases"]
    nginx_pid = servers.sh("lb", "systemctl show -p MainPID --value nginx").stdout.strip()
    with BackgroundLoad(EXT_HTTP_PORT, DOMAIN, min_requests=2000, max_seconds=600) as traffic:
        switched = subprocess.run(
            [str(REPO / "scripts" / "switch-commands"), "--stack", SITE_STACK, "--to", to],
            cwd=cli.workdir,
            env=cli.env,
            capture_output=True,
            text=True,
            timeout=1200,
            check=False,
        )
    print(f"switch-commands --to {to}:", switched.stdout[-3000:], switched.stderr[-2000:], "load:", traffic.report)
    assert switched.returncode == 0, switched.stdout[-3000:] + switched.stderr
    assert traffic.report.total >= 2000
    assert traffic.report.failed == 0, traffic.report.error_samples
    assert cli.get_config("wayshub:commands") == to
    after = resources(cli)
    probes = {r["urn"] for r in before if r["urn"].endswith("-probe")}
    commands = {r["urn"].rsplit("::", 1)[1] for r in before if r["type"] in OLD_TYPES + THEIR_TYPES} - {
        u.rsplit("::", 1)[1] for u in probes
    }
    wanted = OLD_TYPES if to == "builtin" else THEIR_TYPES
    assert {r["urn"].rsplit("::", 1)[1] for r in after if r["type"] in wanted and r["urn"] not in probes} == commands
    assert not any(r.get("retainOnDelete") for r in after)
    assert servers.sh("lb", "systemctl show -p MainPID --value nginx").stdout.strip() == nginx_pid
    for app in ("app1", "app2"):
        assert servers.sh(app, "systemctl is-active wayshub").stdout.strip() == "active"
    assert cli.outputs()["releases"] == releases
    again = cli.up_summary()
    assert set(again) == {"same"}, f"a second up must change nothing, the engine reported {again}"


def test_the_whole_site_switches_to_pulumi_command_and_back_under_load(tmp_path: Path, servers: OtherServers) -> None:
    """The real pulumi-command plugin (scripts/ensure-plugins puts it on PATH for `make test`), on servers of
    the user's own: builtin -> pulumi-command -> builtin, each under load; then destroy leaves nothing."""
    cli = site_project(tmp_path, servers)
    if not shutil.which("pulumi-resource-command", path=cli.env["PATH"]):
        pytest.skip("no pulumi-resource-command on PATH (scripts/ensure-plugins builds it from ../shared/vendor)")
    try:
        cli.up()
        switch_site_under_load(cli, servers, "pulumi-command")
        switch_site_under_load(cli, servers, "builtin")
        cli.destroy()
        for app in ("app1", "app2"):
            assert servers.sh(app, "test -e /opt/wayshub", check=False).returncode != 0
        assert servers.sh("lb", f"test -e /etc/nginx/conf.d/wayshub-{SITE_STACK}.conf", check=False).returncode != 0
    finally:
        cli.destroy(check=False)
