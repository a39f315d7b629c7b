"""Containers mode's rolling update: an app change over 2 app servers under load, through the real engine and
the pulumi-docker plugin (a stack of its own, tests/e2e/containers_engine.py; skipped without a plugin)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.benchmarks.common import ROLLOUT_COLUMNS, Options, rollout_sample
from bench.loadgen import BackgroundLoad
from bench.stack import Bench
from bench.stats import Sample, run_rounds, table
from tests.e2e.containers_engine import find_docker_plugin, new_site, remove_site
from tests.e2e.pulumi_cli import up_with_events
from tests.e2e.test_containers_docker import DOMAIN


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
