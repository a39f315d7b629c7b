"""The rolling-update benchmark: a new release over 2 app hosts under load, ours vs nginx's common settings."""

from __future__ import annotations

import time

from bench.benchmarks.common import OURS, ROLLOUT_COLUMNS, Options, rollout_sample
from bench.loadgen import BackgroundLoad
from bench.stack import DOMAIN, HTTP_PORT, Bench, Variant
from bench.stats import Sample, run_rounds, table

# nginx's common passive-check settings, and no wait between the rollout's batches.
CONTROL_FAIL_TIMEOUT_S = 10
CONTROL = Variant(lb=(("maxFails", 3), ("failTimeout", f"{CONTROL_FAIL_TIMEOUT_S}s")), settle=False)


def rolling_update(bench: Bench, opts: Options) -> list[str]:
    """A new release rolled over 2 app hosts under GETs from this machine: ours vs nginx's common
    ``max_fails=3 fail_timeout=10s`` with no wait between batches."""
    variants = {"control": CONTROL, "ours": OURS}

    def measure(label: str, index: int) -> Sample:
        bench.deploy(variants[label])  # an up of its own when the config changes, not measured
        time.sleep(CONTROL_FAIL_TIMEOUT_S + 1)  # nginx has forgotten failures from that up, in both configs
        (bench.project / "app" / "VARIANT").write_text(f"bench {label} {index} {time.time_ns()}\n")
        with BackgroundLoad(HTTP_PORT, DOMAIN, min_requests=0, max_requests=10_000_000) as load:
            seconds = bench.up()
        report = load.report
        print(f"  {label}: up {seconds:.1f}s, {report}", flush=True)
        return rollout_sample(report, seconds)

    samples = run_rounds(["control", "ours"], opts.rounds, measure)
    bench.deploy(OURS)
    columns = ROLLOUT_COLUMNS
    return [
        f"### Rolling update of 2 app hosts: ours vs nginx's common `max_fails=3 fail_timeout="
        f"{CONTROL_FAIL_TIMEOUT_S}s` with no wait between hosts, {opts.rounds} alternating rounds",
        "",
        "A new release per run (`pulumi up`) while 4 keep-alive clients GET the site from this machine "
        "(through the LB VM's published port). ours: `maxFails` 1, `failTimeout` 3s, the next host waits "
        "`failTimeout` + 1 s after the previous one is healthy. control: `lb.maxFails: 3`, "
        f"`lb.failTimeout: {CONTROL_FAIL_TIMEOUT_S}s`, and the program's wait removed (bench/stack.py "
        "`Tuning(settle=False)`; not a setting). Each run first waits "
        f"{CONTROL_FAIL_TIMEOUT_S + 1} s so nginx holds no failure from the run before.",
        "",
        *table({"": samples}, columns, ratio=("control", "ours")),
    ]
