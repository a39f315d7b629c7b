"""Benchmarks of wayshub-infra against the seed's plain nginx config, nginx's common settings, and at
scale (`make bench`).

Everything runs on this machine against sandbox VMs of a dedicated `bench` stack. Each comparison runs
its configs side by side in one run, in alternating order (A,B then B,A …), and reports every figure as
median (min-max) over the rounds plus a ratio of medians: absolute numbers on a shared machine are noise.
The sections are printed as they are measured and appended to bench/RESULTS.md with the date and the
machine; bench/RESULTS.md holds nothing else, and the docs quote none of its figures (they link to it).

A benchmark is one function ``(Bench, Options) -> lines`` in ``BENCHMARKS``: it measures, then returns
its section (a heading, what was run, one table from ``bench.stats.table``).

    python -m bench.run [--rounds 3] [--seconds 10] [--scale 2,10] [--deploy-scale 1,4,10]
        [--skip deploy,deploy_scale,lb,failover,hang,rollout,engine,refresh]
        [--only lb,...] [--results FILE]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import state_size
from bench.cpu import CpuMeter
from bench.hang import HANGS, measure
from bench.loadgen import BackgroundLoad
from bench.stack import APP_UNIT, CHECKER, DOMAIN, HTTP_PORT, NETWORK, STACK, SUBNET_PREFIX, Bench, Variant, setup
from bench.state_size import StateSize
from bench.stats import Column, Sample, Samples, round_orders, run_rounds, table
from bench.wrk import CONNECTIONS, THREADS, build_image, run_wrk
from components.provider_server import DEFAULT_WORKERS, LOG_ENV, WORKERS_ENV
from tests.e2e.pulumi_cli import REPO, read_events

RESULTS = REPO / "bench" / "RESULTS.md"
SEED_PORT = 81  # the seed's plain site, next to ours on the same LB VM
SEED_DOMAIN = f"seed.{DOMAIN}"  # the seed's site on port 80 too (by name), for load from this machine
BACKENDS = [f"{SUBNET_PREFIX}.{11 + i}:3000" for i in range(2)]
OURS = Variant()
# nginx's common passive-check settings, and no wait between the rollout's batches.
CONTROL_FAIL_TIMEOUT_S = 10
CONTROL = Variant(lb=(("maxFails", 3), ("failTimeout", f"{CONTROL_FAIL_TIMEOUT_S}s")), settle=False)


@dataclass(frozen=True)
class Options:
    rounds: int
    seconds: int
    scales: list[int]
    hang_seconds: float = 10.0
    deploy_scales: tuple[int, ...] = (1, 4, 10)


def seed_site(backends: list[str]) -> str:
    """The seed's hand-written config: one upstream, one proxy_pass, nothing else."""
    servers = "".join(f"    server {b};\n" for b in backends)
    return (
        f"upstream seed_backends {{\n{servers}}}\n"
        f"server {{\n    listen {SEED_PORT};\n    server_name {DOMAIN};\n"
        "    location / {\n        proxy_pass http://seed_backends;\n    }\n}\n"
    )


def seed_by_name() -> str:
    """The seed's site once more, on our port 80 by server name, so load from this machine reaches it."""
    return (
        f"server {{\n    listen 80;\n    server_name {SEED_DOMAIN};\n"
        "    location / {\n        proxy_pass http://seed_backends;\n    }\n}\n"
    )


def with_seed(bench: Bench) -> None:
    """Our site (2 app servers) live, and the seed's site next to it on the same LB VM."""
    bench.deploy(OURS)
    bench.sh(
        "lb",
        f"cat > /etc/nginx/conf.d/seed.conf <<'EOF'\n{seed_site(BACKENDS)}{seed_by_name()}EOF\n"
        "nginx -t -q && systemctl reload nginx",
    )


# --- the benchmarks ------------------------------------------------------------------------


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
# that ran a release before: bench/stack.py chained_program). Name -> (pool, every host in turn).
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
        "this change, where a first deploy did that too (bench/stack.py `chained_program`). Their span "
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


WRK_COLUMNS = [
    Column("rps", "requests/s", 0),
    Column("p50_ms", "p50 ms"),
    Column("p99_ms", "p99 ms"),
    Column("failed", "failed", of="requests"),
]


def _wrk_rounds(bench: Bench, opts: Options, kill_after: float | None = None) -> Samples:
    """wrk against the seed's site (port 81) and ours (port 80) on the LB VM; with ``kill_after``,
    SIGKILL app1 that many seconds into each run."""
    with_seed(bench)
    build_image(bench.image)
    lb = bench.address("lb")

    def measure(label: str, _: int) -> Sample:
        killer = None
        if kill_after is not None:
            killer = threading.Timer(kill_after, lambda: bench.sh("app1", f"systemctl kill -s KILL {APP_UNIT}"))
            killer.start()
        result = run_wrk(NETWORK, STACK, lb, SEED_PORT if label == "seed" else 80, DOMAIN, opts.seconds)
        if killer:
            killer.join()
            time.sleep(3)  # app1 is back (Restart=always) and nginx has forgotten its failure
        print(f"  {label}: {result}", flush=True)
        return result.sample()

    return run_rounds(["seed", "ours"], opts.rounds, measure)


def _wrk_where() -> str:
    return (
        f"wrk -t{THREADS} -c{CONNECTIONS} in a container of its own on the bench network (not on the LB VM; "
        f"it shares this machine's {os.cpu_count()} cores with the VMs)"
    )


def lb_throughput(bench: Bench, opts: Options) -> list[str]:
    samples = _wrk_rounds(bench, opts)
    return [
        f"### LB throughput: the seed's config vs ours on the same LB VM, 2 backends, {opts.seconds} s per run, "
        f"{opts.rounds} alternating rounds",
        "",
        f"{_wrk_where()}.",
        "",
        *table({"": samples}, WRK_COLUMNS, ratio=("seed", "ours")),
    ]


def failover(bench: Bench, opts: Options) -> list[str]:
    kill_after = opts.seconds / 3
    samples = _wrk_rounds(bench, opts, kill_after=kill_after)
    return [
        f"### Failover: app1 SIGKILLed {kill_after:.0f} s into each {opts.seconds} s run (Restart=always), "
        f"{opts.rounds} alternating rounds",
        "",
        f"{_wrk_where()}.",
        "",
        *table({"": samples}, WRK_COLUMNS, ratio=("seed", "ours")),
    ]


def hung_backend(bench: Bench, opts: Options) -> list[str]:
    """Per hang kind, seed and ours in alternating order; app1 hangs mid-run. Our health check runs
    only in our runs: its `ss -K` would end the seed's stuck connections too."""
    with_seed(bench)
    groups: dict[str, Samples] = {kind: {"seed": [], "ours": []} for kind in HANGS}
    for order in round_orders(["seed", "ours"], opts.rounds):
        for kind, hang in HANGS.items():
            for label in order:
                bench.sh("lb", f"systemctl {'start' if label == 'ours' else 'stop'} {CHECKER}")
                time.sleep(4)  # app1 answers again and nginx has forgotten its failures
                host = DOMAIN if label == "ours" else SEED_DOMAIN
                report = measure(
                    HTTP_PORT, host, hang, bench.container("app1"), APP_UNIT, hang_seconds=opts.hang_seconds
                )
                print(f"  {kind} {label}: {report.summary()}", flush=True)
                groups[kind][label].append(
                    {
                        "worst_wait": report.worst_wait,
                        "over_2s": report.over_2s,
                        "failed": report.failed,
                        "total": len(report.requests),
                        "rps_hang": report.rps_during_hang,
                    }
                )
    bench.sh("lb", f"systemctl start {CHECKER}")
    columns = [
        Column("worst_wait", "worst wait s"),
        Column("over_2s", "requests over 2 s", 0),
        Column("failed", "failed", of="total"),
        Column("rps_hang", "answers/s during the hang", 0),
    ]
    return [
        f"### A hung backend: app1 hangs {opts.hang_seconds:.0f} s mid-run, 16 keep-alive clients GET for "
        f"{opts.hang_seconds + 6:.0f} s from this machine (through the LB VM's published port), the seed's "
        f"config vs ours on the same LB VM, {opts.rounds} alternating rounds per hang kind",
        "",
        *(f"- `{kind}`: {hang.describe}" for kind, hang in HANGS.items()),
        "",
        *table(groups, columns, ratio=("seed", "ours"), group_heading="hang"),
    ]


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
        return {
            "failed": report.failed,
            "total": report.total,
            "up_s": seconds,
            "p99_ms": report.percentile(99),
        }

    samples = run_rounds(["control", "ours"], opts.rounds, measure)
    bench.deploy(OURS)
    columns = [
        Column("failed", "failed GETs", 0),
        Column("failed", "failed", of="total"),
        Column("p99_ms", "GET p99 ms", 0),
        Column("up_s", "`up` seconds", 1),
    ]
    return [
        f"### Rolling update of 2 app hosts: ours vs nginx's common `max_fails=3 fail_timeout="
        f"{CONTROL_FAIL_TIMEOUT_S}s` with no wait between hosts, {opts.rounds} alternating rounds",
        "",
        "A new release per run (`pulumi up`) while 4 keep-alive clients GET the site from this machine "
        "(through the LB VM's published port). ours: `maxFails` 1, `failTimeout` 3s, the next host waits "
        "`failTimeout` + 1 s after the previous one is healthy. control: `lb.maxFails: 3`, "
        f"`lb.failTimeout: {CONTROL_FAIL_TIMEOUT_S}s`, and the program's wait removed (bench/stack.py "
        "`no_wait_program`; not a setting). Each run first waits "
        f"{CONTROL_FAIL_TIMEOUT_S + 1} s so nginx holds no failure from the run before.",
        "",
        *table({"": samples}, columns, ratio=("control", "ours")),
    ]


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


BENCHMARKS: dict[str, Callable[[Bench, Options], list[str]]] = {
    "deploy": first_deploy,
    "deploy_scale": first_deploy_scale,
    "lb": lb_throughput,
    "failover": failover,
    "hang": hung_backend,
    "rollout": rolling_update,
    "engine": engine_cost,  # it leaves the most VMs up
    "refresh": refresh_time,  # after engine: starts at the scale engine left up
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
            bench.cli.run("destroy", "--yes", "--skip-preview", check=False)
            with args.results.open("a") as results_file:
                results_file.write("\n".join(lines) + "\n\n")


if __name__ == "__main__":
    main()
