"""What every benchmark shares: the run's options, the signature of a benchmark, and our site's variant."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bench.stack import Bench, Variant

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
