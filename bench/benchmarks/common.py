"""What every benchmark shares: the run's options, the signature of a benchmark, and our site's variant."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bench.loadgen import LoadReport
from bench.stack import Bench, Variant
from bench.stats import Column, Sample

OURS = Variant()


@dataclass(frozen=True)
class Options:
    """The command line's settings every benchmark reads (bench/run.py)."""

    rounds: int
    seconds: int
    scales: list[int]
    hang_seconds: float = 10.0
    deploy_scales: tuple[int, ...] = (1, 4, 10)


Benchmark = Callable[[Bench, Options], list[str]]


# A deploy under load, as the rolling-update benchmarks (VMs and containers) report it.
ROLLOUT_COLUMNS = [
    Column("failed", "failed GETs", 0),
    Column("failed", "failed", of="total"),
    Column("p99_ms", "GET p99 ms", 0),
    Column("up_s", "`up` seconds", 1),
]


def rollout_sample(report: LoadReport, up_seconds: float) -> Sample:
    """One deploy's sample: the GETs that failed of all sent, their p99, and the `up`'s seconds."""
    return {"failed": report.failed, "total": report.total, "up_s": up_seconds, "p99_ms": report.percentile(99)}
