"""Benchmarks of wayshub-infra against the seed's plain nginx config, nginx's common settings, and at
scale (`make bench`).

Everything runs on this machine against sandbox VMs of a dedicated `bench` stack. Each comparison runs
its configs side by side in one run, in alternating order (A,B then B,A …), and reports every figure as
median (min-max) over the rounds plus a ratio of medians: absolute numbers on a shared machine are noise.
The sections are printed as they are measured and appended to bench/RESULTS.md with the date and the
machine; bench/RESULTS.md holds nothing else, and the docs quote none of its figures (they link to it).

A benchmark is one function ``(Bench, Options) -> lines`` in ``BENCHMARKS``: it measures, then returns
its section (a heading, what was run, one table from ``bench.stats.table``). They live in bench/benchmarks/
(deploy, lb, rollout, engine); this module is the command line that runs them and records the run.

    python -m bench.run [--rounds 3] [--seconds 10] [--scale 2,10] [--deploy-scale 1,4,10]
        [--skip deploy,deploy_scale,lb,failover,hang,abuse,lb_failover,rollout,containers_rollout,containers_hang,
         engine,refresh,state]
        [--only lb,...] [--results FILE]
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import time
from pathlib import Path

from bench.benchmarks.abuse import abuse
from bench.benchmarks.common import Benchmark, Options
from bench.benchmarks.containers import containers_hang, containers_rollout
from bench.benchmarks.deploy import DEPLOY_CONFIGS, DEPLOY_STEP, first_deploy, first_deploy_scale, step_span
from bench.benchmarks.engine import engine_cost, refresh_time
from bench.benchmarks.lb import failover, hung_backend, lb_failover, lb_throughput, seed_site
from bench.benchmarks.rollout import rolling_update
from bench.benchmarks.state import state_backends
from bench.stack import setup
from tests.e2e.pulumi_cli import REPO

# The benchmarks' modules hold their constants (patch them there); these names stay importable from here.
__all__ = [
    "BENCHMARKS",
    "DEPLOY_CONFIGS",
    "DEPLOY_STEP",
    "ONLY_WHEN_NAMED",
    "RESULTS",
    "Options",
    "containers_hang",
    "containers_rollout",
    "engine_cost",
    "failover",
    "first_deploy",
    "first_deploy_scale",
    "hung_backend",
    "lb_failover",
    "lb_throughput",
    "main",
    "refresh_time",
    "rolling_update",
    "seed_site",
    "state_backends",
    "step_span",
]

RESULTS = REPO / "bench" / "RESULTS.md"


BENCHMARKS: dict[str, Benchmark] = {
    "deploy": first_deploy,
    "deploy_scale": first_deploy_scale,
    "lb": lb_throughput,
    "failover": failover,
    "hang": hung_backend,
    "abuse": abuse,  # one LB with TLS: a slowloris, a flood and slow bodies vs polite visitors
    "lb_failover": lb_failover,  # two LBs re-create the first LB VM (no published ports): after the one-LB ones
    "rollout": rolling_update,
    "containers_rollout": containers_rollout,  # its own containers stack, after the VMs' rolling update
    "containers_hang": containers_hang,  # the same containers stack again: a hung app container
    "engine": engine_cost,  # it leaves the most VMs up
    "refresh": refresh_time,  # after engine: starts at the scale engine left up
    "state": state_backends,  # the stack as refresh left it, its state in a folder and in PostgreSQL
}
# Run only with --only: 12 fresh ups per round (up to 11 VMs) do not fit a whole run's time budget.
ONLY_WHEN_NAMED = {"deploy_scale"}


def machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores, {memory:.0f} GiB"


def minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {seconds % 60:.0f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--scale", default="2,10")
    parser.add_argument("--deploy-scale", default="1,4,10", help="app hosts of the first-deploy-at-scale runs")
    parser.add_argument("--skip", default="", help=f"any of {','.join(BENCHMARKS)}")
    parser.add_argument("--only", default="", help="run only these (comma-separated)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="append the section here (trial runs)")
    args = parser.parse_args()
    default = [k for k in BENCHMARKS if k not in ONLY_WHEN_NAMED]
    chosen = [k for k in (args.only.split(",") if args.only else default) if k and k not in args.skip.split(",")]
    unknown = [k for k in chosen if k not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    opts = Options(
        args.rounds,
        args.seconds,
        [int(n) for n in args.scale.split(",")],
        deploy_scales=tuple(int(n) for n in args.deploy_scale.split(",")),
    )
    command = " ".join(["python -m bench.run", *sys.argv[1:]])
    lines = [
        f"## {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC — {machine()}",
        "",
        f"`{command}`. Each cell: median (min-max) over the rounds; configs alternate their order between "
        "rounds (A,B then B,A); ratio rows divide medians.",
        "",
    ]
    started = time.monotonic()

    def emit(block: list[str]) -> None:
        """Print a section as soon as it is measured; keep it for bench/RESULTS.md."""
        lines.extend(block)
        print("\n".join(block), flush=True)

    with tempfile.TemporaryDirectory(prefix="wayshub-bench-") as tmp:
        bench = setup(Path(tmp))
        try:
            for key in chosen:
                begun = time.monotonic()
                emit([*BENCHMARKS[key](bench, opts), "", f"({key}: {minutes(time.monotonic() - begun)})", ""])
            emit([f"Whole run: {minutes(time.monotonic() - started)}.", ""])
        except BaseException as err:
            # Keep what was measured, and say where the run stopped.
            first_line = (str(err).strip().splitlines() or [type(err).__name__])[0]
            emit([f"**Run stopped:** {first_line[:300]}", ""])
            raise
        finally:
            bench.cli.destroy(check=False)
            with args.results.open("a") as results_file:
                results_file.write("\n".join(lines) + "\n\n")


if __name__ == "__main__":
    main()
