"""The seed's plain nginx config vs ours on the same LB VM: throughput, failover, and a hung backend."""

from __future__ import annotations

import os
import threading
import time

from bench.benchmarks.common import OURS, Options
from bench.failover import FAULTS, RETRY_AFTER_SECONDS, TIMEOUT_SECONDS
from bench.failover import measure as measure_lb
from bench.hang import HANGS, measure
from bench.stack import APP_UNIT, CHECKER, DOMAIN, HTTP_PORT, NETWORK, STACK, SUBNET_PREFIX, Bench, Variant
from bench.stats import Column, Sample, Samples, round_orders, run_rounds, table
from bench.wrk import CONNECTIONS, THREADS, build_image, run_wrk

SEED_PORT = 81  # the seed's plain site, next to ours on the same LB VM
SEED_DOMAIN = f"seed.{DOMAIN}"  # the seed's site on port 80 too (by name), for load from this machine
BACKENDS = [f"{SUBNET_PREFIX}.{11 + i}:3000" for i in range(2)]


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


TWO_LBS = Variant(lbs=2)
VIRTUAL_ADDRESS = f"{SUBNET_PREFIX}.5"  # the bench subnet's shared address (components/config/hosts.py)


def _holder(bench: Bench, names: list[str], address: str) -> str:
    """The LB that has ``address`` on an interface now (the one a fault must hit)."""
    for name in names:
        if f" {address}/" in bench.sh(name, "ip -o -4 addr show"):
            return name
    raise RuntimeError(f"no LB holds {address}")


def _back_in_service(bench: Bench, names: list[str]) -> None:
    """Every LB's nginx (and keepalived, with two) active again after a fault: a stopped VM boots first."""
    wait = (
        "for _ in $(seq 240); do systemctl is-active --quiet nginx "
        "&& { ! systemctl cat keepalived >/dev/null 2>&1 || systemctl is-active --quiet keepalived; } && exit 0; "
        "sleep 0.5; done; exit 1"
    )
    for name in names:
        bench.sh(name, wait)
    time.sleep(2)  # the shared address settled on its holder


def lb_failover(bench: Bench, opts: Options) -> list[str]:
    """The LB fails under load: one LB (the site is down while it is) vs two sharing an address. Each fault
    hits the LB holding the address; clients GET the LB's address on the sandbox network (one LB: its own
    private address, two: the shared one) with a new connection each and one retry a second later."""
    configs = {"one LB": (OURS, ["lb"], f"{SUBNET_PREFIX}.10"), "two LBs": (TWO_LBS, ["lb", "lb2"], VIRTUAL_ADDRESS)}
    faults = list(FAULTS)  # stop, nginx, pause, drop
    groups: dict[str, Samples] = {fault: {label: [] for label in configs} for fault in faults}
    for order in round_orders(list(configs), opts.rounds):
        for label in order:
            variant, names, address = configs[label]
            bench.deploy(variant)
            for fault in faults:
                _back_in_service(bench, names)
                target = _holder(bench, names, address) if len(names) > 1 else names[0]
                report = measure_lb(address, 80, DOMAIN, FAULTS[fault], bench.container(target), fault_seconds=6.0)
                print(f"  {fault} {label} ({target}): {report.summary()}", flush=True)
                groups[fault][label].append(
                    {
                        "worst_wait": report.worst_wait,
                        "failed_first": report.failed_without_retry,
                        "failed_retry": report.failed_after_retry,
                        "total": len(report.gets),
                    }
                )
    columns = [
        Column("worst_wait", "worst wait s"),
        Column("failed_first", "failed without retry", of="total"),
        Column("failed_retry", "failed after one retry", of="total"),
    ]
    return [
        f"### The LB fails: one LB vs two sharing an address (keepalived), {opts.rounds} alternating rounds "
        "per fault; the LB holding the address fails 6 s mid-run while 4 clients GET for 12 s on the sandbox "
        f"network (a new connection per GET, given up after {TIMEOUT_SECONDS:g} s, one retry "
        f"{RETRY_AFTER_SECONDS:g} s later)",
        "",
        *(f"- `{f}`: {FAULTS[f].describe}" for f in faults),
        "",
        *table(groups, columns, ratio=("one LB", "two LBs"), group_heading="fault"),
    ]
