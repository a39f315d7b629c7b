"""Engine benchmarks at scale: a no-change `pulumi preview`, a no-op `up`, and `pulumi refresh`."""

from __future__ import annotations

import time

from bench.benchmarks.common import Options
from bench.cpu import CpuMeter
from bench.stack import Bench, Variant
from bench.stats import Column, Samples, table


def engine_cost(bench: Bench, opts: Options) -> list[str]:
    runs = 3
    samples: Samples = {}
    stopped: list[str] = []
    for count in opts.scales:
        try:
            bench.deploy(Variant(app_servers=count))
            label = str(count)
            samples[label] = []
            for _ in range(runs):
                started = time.monotonic()
                bench.cli.run("preview")
                samples[label].append({"preview_s": time.monotonic() - started})
            summary = bench.cli.up_summary()
            samples[label][0]["changes"] = sum(n for op, n in summary.items() if op != "same")
            print(f"  {count} hosts: {samples[label]}", flush=True)
        except Exception as err:  # more VMs than this machine takes: keep the smaller scales
            first_line = (str(err).strip().splitlines() or [type(err).__name__])[0]
            stopped = ["", f"**Stopped at {count} app hosts:** {first_line[:300]}"]
            samples.pop(str(count), None)
            break
    low, high = next(iter(samples), None), next(reversed(samples), None)
    ratio = (low, high) if low and high and low != high else None
    return [
        f"### Engine cost: a no-change `pulumi preview` ({runs} runs) and the changes a no-op `up` makes, "
        "scaled up in steps",
        "",
        *table(
            {"": samples},
            [Column("preview_s", "preview s", 1), Column("changes", "changes in a no-op up", 0, ratio=False)],
            ratio=ratio,
            label_heading="app hosts",
        ),
        *stopped,
    ]


REFRESH_GOAL = 1.5  # issue #21: refresh of 10 app hosts within 1.5x that of 2 (hosts are read in parallel)


REFRESH_IDLE_SECONDS = 2.0  # the machine's CPU with the stack just running, measured before each refresh


def refresh_time(bench: Bench, opts: Options) -> list[str]:
    """`pulumi refresh` of an undrifted stack at each scale: its wall time, the changes it found (0), and
    the CPU it took (bench/cpu.py) beside what the running stack alone takes over the same seconds."""
    samples: Samples = {}
    # The scale already live first (engine leaves its largest up): one fewer re-deploy.
    live = bench.deployed.app_servers if bench.deployed else None
    for count in sorted(opts.scales, key=lambda n: n != live):
        bench.deploy(Variant(app_servers=count))
        label = str(count)
        samples[label] = []
        for _ in range(max(2, opts.rounds)):
            with CpuMeter() as idle:
                time.sleep(REFRESH_IDLE_SECONDS)
            background = idle.use(REFRESH_IDLE_SECONDS).machine_s / REFRESH_IDLE_SECONDS
            with CpuMeter() as meter:
                started = time.monotonic()
                bench.cli.run("refresh", "--yes", "--skip-preview")
                seconds = time.monotonic() - started
            cpu = meter.use(seconds)
            history = bench.cli.json("stack", "history")
            changes = sum(n for op, n in dict(history[0]["resourceChanges"]).items() if op != "same")
            samples[label].append(
                {
                    "refresh_s": seconds,
                    "changes": changes,
                    "deploy_cpu_s": cpu.deploy_s,
                    "hosts_cpu_s": max(0.0, cpu.machine_s - cpu.deploy_s - background * seconds),
                    "background_cpu_s": background * seconds,
                    "busy_pct": 100 * cpu.busy_share,
                }
            )
        print(f"  {count} app hosts: {samples[label]}", flush=True)
    low, high = str(min(opts.scales)), str(max(opts.scales))
    ratio = (low, high) if low != high else None
    return [
        f"### Refresh: `pulumi refresh` of an undrifted stack at {' and '.join(sorted(samples, key=int))} app hosts "
        f"(each host's state read in one SSH round trip; goal: {high} hosts ≤ {REFRESH_GOAL} x {low})",
        "",
        *table(
            {"": {label: samples[label] for label in sorted(samples, key=int)}},
            [
                Column("refresh_s", "refresh s", 1),
                Column("changes", "changes found", 0, ratio=False),
                Column("deploy_cpu_s", "pulumi and plugins, CPU s", 1),
                Column("hosts_cpu_s", "the reads on the VMs, CPU s", 1),
                Column("background_cpu_s", "the running stack meanwhile, CPU s", 1),
                Column("busy_pct", "cores busy, %", 0, ratio=False),
            ],
            ratio=ratio,
            label_heading="app hosts",
        ),
        "",
        f'"the running stack meanwhile": the machine\'s CPU per second over {REFRESH_IDLE_SECONDS:.0f} s just '
        "before the refresh (the LB's backend health checker, nginx, the apps, Docker), times the refresh's "
        'seconds; "the reads on the VMs" is the rest of the machine\'s CPU during the refresh (sshd logins, '
        "sudo, the read script). The VMs are containers on this machine's cores.",
    ]
