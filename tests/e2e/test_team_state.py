"""The deployed site's state on a team's PostgreSQL (docs/team.md): moved there and back with nothing lost,
two people's ups at once, an up killed mid-way and `make recover`, a read-only preview role, the database
restarted during an up, the database unreachable.

The database is a throwaway cluster of Debian's PostgreSQL (tests/e2e/postgres_server.py: TLS checked against
a CA made here, SCRAM passwords), set up by `make team-db`'s own code; the stack is the session's site.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import psycopg
import pytest
from pulumi import automation as auto

from tests.e2e import slots
from tests.e2e.postgres_server import Postgres, postgres_server
from tests.e2e.processes import engine_of_this_process, kill_tree
from tests.e2e.pulumi_cli import REPO, PulumiCli, Ran, step_of, up_with_events
from tests.e2e.site import SITE_STACK, Site, live_release

sys.path.insert(0, str(REPO / "scripts"))  # scripts/ is a folder of tools, not a package
from state_backend.backend_url import Backend

pytestmark = pytest.mark.e2e

WRITER, READER = "wayshub_deploy", "wayshub_preview"
DATABASE = "wayshub_state"
APP_SERVERS = ("app1", "app2")
ENGINE_ENV: dict[str, str] = {}  # the site's (the team fixture fills it in)


@dataclass
class Team:
    site: Site
    pg: Postgres
    writer_url: str
    reader_url: str
    file_url: str  # where the site's state was before the move
    moved_output: str = ""  # what the move printed

    def on(self, url: str) -> PulumiCli:
        """The site's project and stack on the backend at ``url``."""
        cli = self.site.cli.with_env(PULUMI_BACKEND_URL=url)
        cli.select_stack(SITE_STACK)
        return cli

    @cached_property
    def writer(self) -> PulumiCli:
        return self.on(self.writer_url)

    def clone(self, tmp: Path) -> PulumiCli:
        """A second person's checkout: the same program and stack file in another folder, their own home."""
        project = tmp / "clone"
        shutil.copytree(self.site.project, project, ignore=shutil.ignore_patterns("node_modules"))
        (tmp / "home").mkdir()
        clone = PulumiCli(project, {**self.writer.env, "PULUMI_HOME": str(tmp / "home")})
        clone.select_stack(SITE_STACK)
        return clone

    def reader(self) -> PulumiCli:
        return self.on(self.reader_url)


def state_backend(*args: str, url: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """scripts/state-backend as `make` runs it: PULUMI_BACKEND_URL and the site's engine environment
    (the engine on PATH, the stack's passphrase) as `make` sets them."""
    env = {**ENGINE_ENV, "PULUMI_BACKEND_URL": url}
    return subprocess.run(
        [str(REPO / "venv" / "bin" / "python"), str(REPO / "scripts" / "state-backend"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def move(project: Path, source: str, target: str) -> subprocess.CompletedProcess[str]:
    """`make state-move`'s move of the site's stack from the backend at ``source`` to ``target``."""
    return state_backend("move", "--stack", SITE_STACK, "--to", target, "--project-dir", str(project), url=source)


def urns(cli: PulumiCli) -> list[str]:
    return sorted(r["urn"] for r in cli.resources())


def stack_rm_keeping_config(cli: PulumiCli) -> None:
    """What docs/team.md says to do with the copy a move leaves behind, once the moved stack is checked."""
    cli.run("stack", "rm", "--force", "--yes", "--preserve-config", "--stack", SITE_STACK)


@pytest.fixture(scope="module")
def team(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    """The site's state moved to a fresh team database (`make team-db`, `make state-move`); back at the end."""
    folder = tmp_path_factory.mktemp("team")
    ENGINE_ENV.update(site.cli.env)
    with postgres_server(slots.POSTGRES_PORT) as pg:
        passwords = {WRITER: "deploy-" + os.urandom(6).hex(), READER: "preview-" + os.urandom(6).hex()}
        for role, secret in passwords.items():
            (folder / role).write_text(secret + "\n")
        made = state_backend(
            "team-db",
            pg.admin_url(),
            f"--writer-password-file={folder / WRITER}",
            f"--reader-password-file={folder / READER}",
            url="",
        )
        assert made.returncode == 0, made.stderr
        file_url = site.cli.env["PULUMI_BACKEND_URL"]
        team = Team(
            site=site,
            pg=pg,
            writer_url=pg.url(WRITER, DATABASE, passwords[WRITER]),
            reader_url=pg.url(READER, DATABASE, passwords[READER]),
            file_url=file_url,
        )
        moved = move(site.project, file_url, team.writer_url)
        assert moved.returncode == 0, moved.stderr
        team.moved_output = moved.stdout
        try:
            yield team
        finally:
            # The site goes back to its folder for the session's other tests, whatever failed here.
            (site.project / "app" / "VARIANT").unlink(missing_ok=True)
            if not _has_stack(site.cli):
                back = move(site.project, team.writer_url, file_url)
                print(f"\nteam fixture: the site moved back: {back.returncode} {back.stdout} {back.stderr}")
                site.cli.select_stack(SITE_STACK)
                site.cli.up(check=False)


def _has_stack(cli: PulumiCli) -> bool:
    listed = cli.run("stack", "ls", "--json", check=False)
    return listed.returncode == 0 and f'"name": "{SITE_STACK}"' in listed.stdout


def test_the_moved_stack_previews_no_change_and_keeps_every_resource(team: Team) -> None:
    """`make state-move`: the stack's resources, secrets and outputs on PostgreSQL; the program sees no change."""
    on_file = urns(team.site.cli)
    assert on_file, "the site has resources to move"
    assert f"{len(on_file)} resources moved" in team.moved_output
    assert urns(team.writer) == on_file
    assert team.writer.outputs()["release"] == team.site.cli.outputs()["release"]
    team.writer.preview(expect_no_changes=True)
    # Moving again onto a backend that holds the stack is refused in one line, nothing changed.
    again = move(team.site.project, team.file_url, team.writer_url)
    assert again.returncode == 1 and again.stderr.count("\n") == 1, again.stderr
    assert f"holds stack {SITE_STACK} already, with {len(on_file)} resources: nothing was moved" in again.stderr
    assert "deploy-" not in again.stderr, "the password never shows"
    # The copy the move left behind goes (docs/team.md), so that nobody deploys from it by mistake.
    stack_rm_keeping_config(team.site.cli)
    assert not _has_stack(team.site.cli)


def test_the_preview_role_previews_and_every_write_is_refused(team: Team) -> None:
    """Pull-request previews read the state with a role that may only SELECT: the preview runs, writes fail."""
    reader = team.reader()
    reader.preview(expect_no_changes=True)
    before = urns(team.writer)
    # What .github/workflows/preview.yml runs with PREVIEW_BACKEND_URL: list the stacks, preview as JSON,
    # summarize it for the pull request's comment.
    listed = reader.run("stack", "ls", "--json")
    assert SITE_STACK in {entry["name"].split("/")[-1] for entry in json.loads(listed.stdout)}
    previewed = reader.run("preview", "--diff", "--json", "--stack", SITE_STACK)
    summary = subprocess.run(
        [str(REPO / "venv" / "bin" / "python"), str(REPO / "scripts" / "preview-summary"), "--stack", SITE_STACK],
        input=previewed.stdout,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "**No changes**" in summary.stdout, summary.stdout[:2000]

    refused = reader.run("up", "--yes", "--skip-preview", "--stack", SITE_STACK, check=False)
    assert refused.returncode != 0
    assert "permission denied for table pulumi_state" in refused.stdout + refused.stderr
    checked = state_backend("check", "--stack", SITE_STACK, "--write", url=team.reader_url)
    assert checked.returncode == 1 and checked.stderr.count("\n") == 1, checked.stderr
    assert f"role {READER} may only read the state (a preview role)" in checked.stderr
    with psycopg.connect(Backend(team.reader_url).conninfo(10), autocommit=True) as connection:
        for statement in (
            "INSERT INTO pulumi_state (key, data) VALUES ('x', '{}')",
            "UPDATE pulumi_state SET data = '{}'",
            "DELETE FROM pulumi_state",
            "CREATE TABLE sneaky (x int)",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                connection.execute(statement)
    assert urns(team.writer) == before
    team.writer.preview(expect_no_changes=True)


def up_in_background(cli: PulumiCli, watch: threading.Event | None = None) -> tuple[threading.Thread, list[Ran]]:
    """An `up` on a thread; ``watch`` is set when app1's release step starts (the up is mid-way)."""

    def on_event(event: auto.EngineEvent) -> None:
        step = step_of(event)
        if watch is not None and step and step.name == "app1-app-release" and step.op != "same":
            watch.set()

    done: list[Ran] = []
    thread = threading.Thread(target=lambda: done.append(up_with_events(cli, on_event=on_event)))
    thread.start()
    return thread, done


def wait_for_lock(team: Team, running: threading.Thread) -> str:
    """The line `make up` prints while the lock is held (polls until the engine has written its lock)."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert running.is_alive(), "the up ended before its lock was seen"
        checked = state_backend("check", "--stack", SITE_STACK, "--write", url=team.writer_url)
        if checked.returncode != 0:
            return checked.stderr
        time.sleep(0.2)
    raise AssertionError("the up's lock never showed")


def test_two_ups_at_once_one_runs_the_other_stops_at_once_naming_the_holder(team: Team, tmp_path: Path) -> None:
    site = team.site
    before = urns(team.writer)
    old = team.writer.outputs()["release"]
    (site.project / "app" / "VARIANT").write_text("team-a\n")
    other = team.clone(tmp_path)
    (other.workdir / "app" / "VARIANT").write_text("team-b\n")
    running, done = up_in_background(team.writer)
    holder_line = wait_for_lock(team, running)
    engine = engine_of_this_process()
    # The second person's `make up`: the state check stops it in one line naming who holds the lock.
    assert holder_line.count("\n") == 1, holder_line
    assert f"stack {SITE_STACK} is locked by {pwd.getpwuid(os.getuid()).pw_name}@{socket.gethostname()}" in holder_line
    assert f"(pid {engine})" in holder_line and "make recover" in holder_line
    # And the engine's own lock, should the two checks race: the second up stops at once, changing nothing.
    started = time.monotonic()
    second = other.run("up", "--yes", "--skip-preview", "--stack", SITE_STACK, check=False)
    second_seconds = time.monotonic() - started
    assert second.returncode != 0 and "the stack is currently locked by 1 lock(s)" in second.stdout + second.stderr
    assert running.is_alive(), "the first up was still running when the second was refused"
    running.join(timeout=900)
    (first,) = done
    assert first.returncode == 0, first.output[-3000:]
    new = team.writer.outputs()["release"]
    assert new != old and [live_release(site, s) for s in APP_SERVERS] == [new, new], "the first up's release runs"
    assert urns(team.writer) == before, "no resource lost or doubled"
    print(f"\ntwo ups: the second stopped after {second_seconds:.1f} s: {holder_line.strip()}")
    assert second_seconds < 60, "the second up stopped at once, not after waiting"


def recover(cli: PulumiCli, url: str) -> str:
    """`make recover` on a PostgreSQL backend: the state check names the lock it clears; cancel; refresh."""
    checked = state_backend("check", "--stack", SITE_STACK, "--recover", url=url)
    assert checked.returncode == 0, checked.stderr
    cli.cancel()
    cli.refresh(clear_pending_creates=True)
    return checked.stderr


def test_an_up_killed_mid_way_leaves_a_lock_that_make_recover_clears_and_the_next_up_converges(team: Team) -> None:
    site = team.site
    before = urns(team.writer)
    (site.project / "app" / "VARIANT").write_text("killed\n")
    mid_way = threading.Event()
    running, done = up_in_background(team.writer, mid_way)
    assert mid_way.wait(600), f"app1's release never started: {[d.output[-2000:] for d in done]}"
    engine = engine_of_this_process()
    kill_tree(engine)
    running.join(timeout=120)
    assert done and done[0].returncode != 0

    stale = state_backend("check", "--stack", SITE_STACK, "--write", url=team.writer_url)
    assert stale.returncode == 1 and f"(pid {engine})" in stale.stderr, stale.stderr
    cleared = recover(team.writer, team.writer_url)
    assert "clearing the lock of" in cleared and f"(pid {engine})" in cleared, cleared
    assert state_backend("check", "--stack", SITE_STACK, "--write", url=team.writer_url).returncode == 0
    team.writer.up()
    converged = team.writer.up_summary()
    assert set(converged) == {"same"}, converged
    new = team.writer.outputs()["release"]
    assert [live_release(site, s) for s in APP_SERVERS] == [new, new]
    assert urns(team.writer) == before, "no resource lost or doubled"


def postmaster_started(pg: Postgres) -> object:
    with psycopg.connect(Backend(pg.admin_url()).conninfo(10), autocommit=True) as connection:
        return connection.execute("SELECT pg_postmaster_start_time()").fetchone()


def test_the_database_restarted_during_an_up_leaves_nothing_corrupt(team: Team) -> None:
    """What the engine does when its database restarts mid-up (a fast shutdown: its connections cut), and
    that afterwards the state reads whole, the next up converges, nothing is lost."""
    site = team.site
    before = urns(team.writer)
    (site.project / "app" / "VARIANT").write_text("restarted\n")
    mid_way = threading.Event()
    running, done = up_in_background(team.writer, mid_way)
    assert mid_way.wait(600), f"app1's release never started: {[d.output[-2000:] for d in done]}"
    started_at = postmaster_started(team.pg)
    team.pg.stop("fast")
    time.sleep(2)
    team.pg.start()
    assert running.is_alive(), "the database restarted while the up ran"
    assert postmaster_started(team.pg) != started_at, f"the database did not restart: {team.pg.log()}"
    running.join(timeout=900)
    (during,) = done
    print(f"\nup with a database restart: exit {during.returncode}; {during.output.strip().splitlines()[-1:]}")
    if during.returncode != 0:
        recover(team.writer, team.writer_url)
    team.writer.up()
    assert set(team.writer.up_summary()) == {"same"}
    assert urns(team.writer) == before, "no resource lost or doubled"
    history = team.writer.json("stack", "history", "--stack", SITE_STACK)
    assert history and history[0]["kind"] == "update", history[:1]


def test_an_unreachable_database_stops_make_in_one_line_before_anything_runs(team: Team, tmp_path: Path) -> None:
    """`make preview` / `make up` against a database nobody answers on: one line naming the backend, exit 2 (make's),
    before the engine starts (no stack select, no program, no host)."""
    unreachable = team.pg.url(WRITER, DATABASE, "deploy-never-shown", port=slots.POSTGRES_PORT + 1)
    for target in ("preview", "up"):
        # As a person runs it: not as a sub-make of `make test` (whose MAKELEVEL would show in make's lines).
        env = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
        ran = subprocess.run(
            ["make", "--no-print-directory", target, f"STACK={SITE_STACK}"],
            cwd=REPO,
            env={**env, "PULUMI_BACKEND_URL": unreachable, "PULUMI_HOME": str(tmp_path / "home")},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        ours = [
            line for line in ran.stderr.splitlines() if not re.match(r"make(\[\d+\])?: \*\*\*|ensure-pulumi:", line)
        ]
        assert ran.returncode != 0 and len(ours) == 1, ran.stderr
        assert ours[0].startswith(f"state-backend: state backend postgres://{WRITER}@127.0.0.1:"), ours[0]
        assert "cannot connect" in ours[0] and "deploy-never-shown" not in ran.stdout + ran.stderr
        assert "Previewing" not in ran.stdout and "Updating" not in ran.stdout


def test_moved_back_to_a_folder_the_stack_previews_no_change(team: Team) -> None:
    """`make state-move TO=file://…`: the way back, nothing lost."""
    on_postgres = urns(team.writer)
    back = move(team.site.project, team.writer_url, team.file_url)
    assert back.returncode == 0, back.stderr
    team.site.cli.select_stack(SITE_STACK)
    assert urns(team.site.cli) == on_postgres
    (team.site.project / "app" / "VARIANT").unlink(missing_ok=True)
    team.site.cli.up()  # back to the release of the committed app (the tests above changed it)
    team.site.cli.preview(expect_no_changes=True)
    stack_rm_keeping_config(team.writer)
