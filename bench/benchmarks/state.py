"""The state on a team's PostgreSQL beside a local folder: a no-change `preview` and a no-op `up` of the
same stack, the same run (docs/team.md).

The bench stack's state is copied to a throwaway PostgreSQL cluster (tests/e2e/postgres_server.py: TLS, SCRAM,
set up by `make team-db`'s code, moved by `make state-move`'s), so both backends hold the same stack; the
rounds alternate between them. A no-op `up` writes its checkpoint to the backend it ran on: both copies stay
whole. The cluster runs on this machine (no network latency): the figures are the backends' own cost.
"""

from __future__ import annotations

import secrets
import sys
import tempfile
import time
from pathlib import Path

from bench.benchmarks.common import Options
from bench.stack import STACK, Bench, Variant
from bench.stats import Column, Sample, run_rounds, table
from tests.e2e.postgres_server import postgres_server
from tests.e2e.pulumi_cli import REPO, PulumiCli

sys.path.insert(0, str(REPO / "scripts"))  # scripts/ is a folder of tools, not a package
from state_backend.backend_url import Backend
from state_backend.database import TeamDatabase, setup
from state_backend.move import move

POSTGRES_PORT = 15600  # outside the e2e slots' block (15500-15599)
FILE, POSTGRES = "folder (file://)", "PostgreSQL (postgres://, TLS)"


def state_backends(bench: Bench, opts: Options) -> list[str]:
    if bench.deployed is None:
        bench.deploy(Variant())
    team = TeamDatabase()
    password = secrets.token_urlsafe(18)
    with tempfile.TemporaryDirectory(prefix="wayshub-bench-pg.") as folder, postgres_server(POSTGRES_PORT) as pg:
        (Path(folder) / "writer").write_text(password + "\n")
        setup(Backend(pg.admin_url()), team, {team.writer: Path(folder) / "writer"})
        url = pg.url(team.writer, team.database, password)
        file_url = bench.cli.env["PULUMI_BACKEND_URL"]
        move(STACK, file_url, url, bench.project, env=bench.cli.env)
        clis = {FILE: bench.cli, POSTGRES: PulumiCli(bench.project, {**bench.cli.env, "PULUMI_BACKEND_URL": url})}
        resources = len(bench.cli.resources())

        def measure(label: str, _round: int) -> Sample:
            cli = clis[label]
            started = time.monotonic()
            cli.run("preview", "--expect-no-changes", "--stack", STACK)
            preview_s = time.monotonic() - started
            started = time.monotonic()
            cli.run("up", "--yes", "--skip-preview", "--stack", STACK)
            up_s = time.monotonic() - started
            history = cli.json("stack", "history", "--stack", STACK)
            changes = sum(n for op, n in dict(history[0]["resourceChanges"]).items() if op != "same")
            return {"preview_s": preview_s, "up_s": up_s, "changes": changes}

        samples = run_rounds([FILE, POSTGRES], max(2, opts.rounds), measure)
    print(f"  state backends: {samples}", flush=True)
    return [
        f"### State backend: a no-change `preview` and a no-op `up` of the same stack ({resources} resources, "
        f"{bench.deployed.app_servers if bench.deployed else '?'} app hosts), its state in a folder and in "
        "PostgreSQL on this machine",
        "",
        *table(
            {"": samples},
            [
                Column("preview_s", "preview s", 1),
                Column("up_s", "no-op up s", 1),
                Column("changes", "changes in the up", 0, ratio=False),
            ],
            ratio=(FILE, POSTGRES),
            label_heading="state backend",
        ),
    ]
