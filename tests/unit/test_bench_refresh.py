"""The refresh benchmark (bench/benchmarks/engine.py ``refresh_time``, run by bench/run.py) driven with a
stand-in stack: what it runs, in which order, and the section it returns. (Its figures come only from `make bench` on real VMs.)"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from bench.benchmarks import engine
from bench.run import BENCHMARKS, Options, refresh_time
from bench.stack import Variant


@dataclass
class FakeCli:
    runs: list[tuple[str, ...]] = field(default_factory=list)

    def run(self, *args: str, check: bool = True) -> None:
        self.runs.append(args)

    def json(self, *args: str) -> Any:
        return [{"resourceChanges": {"same": 40}}]


@dataclass
class FakeBench:
    cli: FakeCli = field(default_factory=FakeCli)
    deployed: Variant | None = None
    deploys: list[int] = field(default_factory=list)

    def deploy(self, variant: Variant) -> None:
        self.deploys.append(variant.app_servers)
        self.deployed = variant


def test_refresh_is_a_benchmark_after_engine() -> None:
    names = list(BENCHMARKS)
    assert "refresh" in names and names.index("refresh") > names.index("engine")


def test_it_refreshes_each_scale_and_reports_time_changes_and_the_ratio(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "REFRESH_IDLE_SECONDS", 0.01)
    bench = FakeBench(deployed=Variant(app_servers=10))
    lines = refresh_time(bench, Options(rounds=2, seconds=1, scales=[2, 10]))  # type: ignore[arg-type]
    assert bench.deploys == [10, 2], "the scale already live goes first"
    assert bench.cli.runs == [("refresh", "--yes", "--skip-preview")] * 4
    text = "\n".join(lines)
    assert lines[0].startswith("### Refresh: `pulumi refresh` of an undrifted stack at 2 and 10 app hosts")
    assert "goal: 10 hosts ≤ 1.5 x 2" in lines[0]
    rows = [line for line in lines if line.startswith("| ")]
    assert rows[1].startswith("| 2 |") and rows[2].startswith("| 10 |"), text
    assert "ratio" in text and "| 0 |" in text.replace("| 0 (0-0) |", "| 0 |")
    header = rows[0]
    for column in ("pulumi and plugins, CPU s", "the reads on the VMs, CPU s", "the running stack meanwhile, CPU s"):
        assert column in header, header
