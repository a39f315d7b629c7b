"""Containers mode under load, through the real engine and the pulumi-docker plugin (a stack of its own,
tests/e2e/containers_engine.py; skipped without a plugin): the rolling update of an app change over 2 app
servers, and a hung app container with the LB's health checker off and on."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.benchmarks.common import ROLLOUT_COLUMNS, Options, rollout_sample
from bench.hang import CONTAINER_HANGS, measure
from bench.loadgen import BackgroundLoad
from bench.stack import Bench
from bench.stats import Column, Sample, Samples, round_orders, run_rounds, table
from tests.e2e.containers_engine import container, find_docker_plugin, new_site, remove_site
from tests.e2e.pulumi_cli import up_with_events
from tests.e2e.test_containers_docker import DOMAIN, docker


def containers_rollout(_bench: Bench, opts: Options) -> list[str]:
    """An env change and a code change, each rolled over 2 app containers while 4 clients GET the site."""
    heading = f"### Containers mode: rolling update of 2 app servers, {opts.rounds} rounds"
    with tempfile.TemporaryDirectory(prefix="wayshub-bench-containers-") as tmp:
        plugin = find_docker_plugin(Path(tmp) / "probe-state")
        if isinstance(plugin, str):
            return [heading, "", f"Skipped: {plugin}."]
        site = new_site(Path(tmp), plugin)
        try:
            site.cli.up()

            def measure(label: str, index: int) -> Sample:
                if label == "env change":
                    site.set("wayshub:app", {"env": {"BENCH_ROUND": str(index)}})
                else:
                    (site.project / "app" / "VARIANT").write_text(f"bench {index}\n")
                with BackgroundLoad(site.port, DOMAIN, min_requests=0, max_requests=10_000_000) as load:
                    started = time.monotonic()
                    up = up_with_events(site.cli)
                    seconds = time.monotonic() - started
                if up.returncode != 0:
                    raise RuntimeError(f"containers {label}: up failed: {up.output.strip().splitlines()[-1:]}")
                report = load.report
                print(f"  {label}: {report}", flush=True)
                return rollout_sample(report, seconds)

            samples = run_rounds(["env change", "code change"], opts.rounds, measure)
        finally:
            remove_site(site)
    columns = ROLLOUT_COLUMNS
    return [
        heading,
        "",
        "`hosts.provider: containers` with the pulumi-docker plugin the engine finds (built from ../shared/vendor "
        "here). Per round an `app.env` change and a code change (a new app image), each a `pulumi up` while 4 "
        "keep-alive clients GET the site through nginx's published port: per app server a new container in its "
        "other slot, health-gated, nginx's upstream file switched and nginx reloaded, one server at a time; the "
        "old containers removed at the end. Compare the rolling update of VMs above (ours).",
        "",
        *table({"": samples}, columns),
    ]


def containers_hang(_bench: Bench, opts: Options) -> list[str]:
    """Per hang kind, app1's serving container hangs mid-run with the checker container stopped ("off") and
    running ("ours"), in alternating order: the same nginx, the same config."""
    heading = (
        f"### Containers mode: a hung app container, {opts.hang_seconds:.0f} s mid-run under 16 keep-alive "
        f"clients for {opts.hang_seconds + 6:.0f} s, the LB's health checker off vs ours, {opts.rounds} "
        "alternating rounds per hang kind"
    )
    checker = container("lb-health")
    with tempfile.TemporaryDirectory(prefix="wayshub-bench-containers-") as tmp:
        plugin = find_docker_plugin(Path(tmp) / "probe-state")
        if isinstance(plugin, str):
            return [heading, "", f"Skipped: {plugin}."]
        site = new_site(Path(tmp), plugin)
        groups: dict[str, Samples] = {kind: {"off": [], "ours": []} for kind in CONTAINER_HANGS}
        try:
            site.cli.up()
            for order in round_orders(["off", "ours"], opts.rounds):
                for kind, hang in CONTAINER_HANGS.items():
                    for label in order:
                        docker("start" if label == "ours" else "stop", checker)
                        time.sleep(4)  # app1 answers again and nginx has forgotten its failures
                        app1 = container("app1", "a")
                        report = measure(site.port, DOMAIN, hang, app1, "", hang_seconds=opts.hang_seconds)
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
        finally:
            remove_site(site)
    columns = [
        Column("worst_wait", "worst wait s"),
        Column("over_2s", "requests over 2 s", 0),
        Column("failed", "failed", of="total"),
        Column("rps_hang", "answers/s during the hang", 0),
    ]
    return [
        heading,
        "",
        "`hosts.provider: containers`; the checker is the container `…-lb-health` in nginx's network namespace "
        '(docs/hung-backends.md), `docker stop`ped for the "off" rounds. Compare the VMs\' hung backend above.',
        "",
        *(f"- `{kind}`: {hang.describe}" for kind, hang in CONTAINER_HANGS.items()),
        "",
        *table(groups, columns, ratio=("off", "ours"), group_heading="hang"),
    ]
