"""First-deploy benchmarks: a fresh `up` of 1 and of 2 app hosts, and at scale before and after issue #16."""

from __future__ import annotations

import json
import os
import re
import statistics
from typing import Any

from bench import state_size
from bench.benchmarks.common import Options
from bench.cpu import CpuMeter
from bench.stack import Bench, Variant
from bench.state_size import StateSize
from bench.stats import Column, Sample, run_rounds, table
from components.provider_server import DEFAULT_WORKERS, LOG_ENV, WORKERS_ENV
from tests.e2e.pulumi_cli import read_events


def first_deploy(bench: Bench, opts: Options) -> list[str]:
    rounds = max(2, opts.rounds - 1)

    def measure(label: str, _: int) -> Sample:
        bench.configure(Variant(app_servers=int(label)))
        seconds = bench.up()
        bench.destroy()
        print(f"  {label} app hosts: {seconds:.1f}s", flush=True)
        return {"up_s": seconds}

    samples = run_rounds(["1", "2"], rounds, measure)
    return [
        f"### First deploy: a fresh `up` of 1 and of 2 app hosts, destroyed after each, {rounds} alternating rounds",
        "",
        *table({"": samples}, [Column("up_s", "seconds", 1)], ratio=("1", "2"), label_heading="app hosts"),
    ]


# The first deploy before and after issue #16: the dynamic-provider server's pool (the SDK's own four,
# ours: components/provider_server.py) and the rolling order (every host in turn, or only the hosts
# that ran a release before: bench/stack.py, Tuning(chain_first_deploy=True)). Name -> (pool, every host in turn).
DEPLOY_CONFIGS = {
    "before: SDK's 4, every host in turn": ("4", True),
    f"ours {DEFAULT_WORKERS}, every host in turn": (str(DEFAULT_WORKERS), True),
    f"after: ours {DEFAULT_WORKERS}, first deploys at once": (str(DEFAULT_WORKERS), False),
}


def first_deploy_scale(bench: Bench, opts: Options) -> list[str]:
    """A fresh `up` of 1, 4 and 10 app hosts in each of DEPLOY_CONFIGS, every (config, hosts) pair in
    one alternating order; the peak of provider operations at once comes from the server's own log
    (WAYSHUB_PROVIDER_LOG), the CPU from bench/cpu.py."""
    scales = [str(n) for n in opts.deploy_scales]
    log = bench.project.parent / "provider.log"
    events = bench.project.parent / "events.json"
    sizes: list[StateSize] = []

    def measure(label: str, _: int) -> Sample:
        config, hosts = label.split("/")
        workers, chained = DEPLOY_CONFIGS[config]
        bench.configure(Variant(app_servers=int(hosts), chain_first_deploy=chained))
        log.unlink(missing_ok=True)
        with CpuMeter() as meter:
            seconds = bench.up({WORKERS_ENV: workers, LOG_ENV: str(log)}, event_log=events)
        cpu = meter.use(seconds)
        peak = max(int(n) for n in re.findall(r"peak=(\d+)", log.read_text()))
        chain = step_span(read_events(events), DEPLOY_STEP)
        if hosts == scales[-1] and not chained:
            sizes.append(state_size.measure(json.loads(bench.cli.run("stack", "export").stdout)))
        bench.destroy()
        print(
            f"  {config}, {hosts} app hosts: {seconds:.1f}s, peak {peak} at once, deploy steps {chain:.0f}s, "
            f"cores {100 * cpu.busy_share:.0f}% busy, pulumi {cpu.deploy_s:.1f} CPU s",
            flush=True,
        )
        return {
            "up_s": seconds,
            "peak": peak,
            "chain_s": chain,
            "busy_pct": 100 * cpu.busy_share,
            "deploy_cpu_s": cpu.deploy_s,
            "machine_cpu_s": cpu.machine_s,
        }

    samples = run_rounds([f"{c}/{hosts}" for c in DEPLOY_CONFIGS for hosts in scales], opts.rounds, measure)
    groups = {c: {hosts: samples[f"{c}/{hosts}"] for hosts in scales} for c in DEPLOY_CONFIGS}
    low, high = scales[0], scales[-1]
    medians = {c: statistics.median(s["up_s"] for s in groups[c][high]) for c in DEPLOY_CONFIGS}
    before, pool_only, after = DEPLOY_CONFIGS
    floor = statistics.median(s["machine_cpu_s"] / (os.cpu_count() or 1) for s in groups[after][high])
    return [
        f"### First deploy at scale: a fresh `up` of {', '.join(scales)} app hosts (+ the LB), destroyed after "
        f"each, before and after issue #16, {opts.rounds} rounds, all {len(scales) * len(DEPLOY_CONFIGS)} runs "
        "of a round in alternating order",
        "",
        *table(
            groups,
            [
                Column("up_s", "seconds", 1),
                Column("peak", "provider operations at once, peak", 0, ratio=False),
                Column("chain_s", "release steps, first start to last end, s", 0),
                Column("busy_pct", "cores busy, %", 0, ratio=False),
                Column("deploy_cpu_s", "pulumi and plugins, CPU s", 1),
                Column("machine_cpu_s", "whole machine, CPU s", 0),
            ],
            ratio=(low, high),
            label_heading="app hosts",
            group_heading="config",
        ),
        "",
        "The release steps (`appN-app-release`: unpack, switch, health check) of hosts that ran a release "
        'before go one batch after another (rolling order); "every host in turn" is the program before '
        "this change, where a first deploy did that too (bench/stack.py `Tuning(chain_first_deploy=True)`). Their span "
        "comes from the engine's event log (whole seconds). \"cores busy\": the machine's busy CPU "
        "seconds (/proc/stat) over cores times seconds; the sandbox VMs are containers on the same cores.",
        "",
        f"At {high} app hosts: after / before {medians[after] / medians[before]:.2f} of the seconds "
        f"(our pool alone: {medians[pool_only] / medians[before]:.2f}). After, the whole machine's CPU "
        f"seconds over its {os.cpu_count()} cores are {floor:.1f} s, the shortest this `up` could take here.",
        *([f"State after {high} app hosts: {sizes[-1].describe()}."] if sizes else []),
    ]


DEPLOY_STEP = "-app-release"  # NodeApp's deploy step, f"{host}-app-release"


def step_span(events: list[dict[str, Any]], suffix: str) -> float:
    """Seconds from the first start to the last end of the steps on resources named ``*suffix``."""
    starts: list[float] = []
    ends: list[float] = []
    for event in events:
        for kind, times in (("resourcePreEvent", starts), ("resOutputsEvent", ends)):
            meta = event.get(kind, {}).get("metadata", {})
            if meta.get("urn", "").endswith(suffix) and meta.get("op") != "same":
                times.append(float(event["timestamp"]))
    return max(ends) - min(starts) if starts and ends else 0.0
