"""CPU seconds around a measured run: the whole machine's (from /proc/stat) and the deploying side's
(``pulumi`` and every plugin it waited for, from this process's children's rusage).

On this machine the sandbox VMs are containers sharing its cores, so a fresh `up` of many hosts can be
bound by the cores rather than by the program's order of steps: ``busy_share`` near 1 says so.
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from pathlib import Path

# /proc/stat's first line: cpu user nice system idle iowait irq softirq steal ...
_IDLE_FIELDS = (3, 4)


def machine_busy_seconds(stat_line: str | None = None) -> float:
    """CPU seconds every core spent not idle since boot (user, nice, system, irq, softirq, steal)."""
    line = stat_line if stat_line is not None else Path("/proc/stat").read_text().splitlines()[0]
    ticks = [int(x) for x in line.split()[1:9]]
    busy = sum(t for i, t in enumerate(ticks) if i not in _IDLE_FIELDS)
    return busy / os.sysconf("SC_CLK_TCK")


def children_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class CpuUse:
    machine_s: float  # every process on the machine (VMs, dockerd, the engine, anything else running)
    deploy_s: float  # the engine and its plugins: what a deploying machine would spend
    wall_s: float
    cores: int

    @property
    def busy_share(self) -> float:
        """The share of the machine's cores that were busy during the run."""
        return self.machine_s / (self.cores * self.wall_s) if self.wall_s else 0.0


class CpuMeter:
    """``with CpuMeter() as m: run()`` then ``m.use(wall_s)``."""

    def __enter__(self) -> CpuMeter:
        self._machine, self._children = machine_busy_seconds(), children_seconds()
        return self

    def __exit__(self, *_: object) -> None:
        self._machine = machine_busy_seconds() - self._machine
        self._children = children_seconds() - self._children

    def use(self, wall_s: float) -> CpuUse:
        return CpuUse(self._machine, self._children, wall_s, os.cpu_count() or 1)
