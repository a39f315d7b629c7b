"""Rounds in alternating order, and the tables made of them: median and spread (min-max) per row.

A benchmark compares configs (labels) over several rounds. Round 1 runs A then B, round 2 B then A, and
so on, so neither config always runs first (warm caches, a neighbour's load that fades). Every row of a
table gives each figure as ``median (min-max)`` over the rounds, and a ratio row divides medians.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

Sample = dict[str, float]  # one run of one config: its figures by key
Samples = dict[str, list[Sample]]  # by label, in the order measured


def round_orders(labels: Sequence[str], rounds: int) -> list[list[str]]:
    """A,B then B,A then A,B …: each label goes first in half the rounds."""
    return [list(labels) if index % 2 == 0 else list(reversed(labels)) for index in range(rounds)]


def run_rounds(labels: Sequence[str], rounds: int, measure: Callable[[str, int], Sample]) -> Samples:
    """``measure(label, round)`` for every label in every round, in alternating order."""
    samples: Samples = {label: [] for label in labels}
    for index, order in enumerate(round_orders(labels, rounds)):
        for label in order:
            samples[label].append(measure(label, index))
    return samples


@dataclass(frozen=True)
class Column:
    """One figure of a table. ``of``: the cell is ``sum(key) of sum(of)`` over the rounds instead."""

    key: str
    heading: str
    digits: int = 2
    of: str | None = None
    ratio: bool = True


def _values(samples: list[Sample], key: str) -> list[float]:
    return [sample[key] for sample in samples if key in sample]


def spread(values: Sequence[float], digits: int) -> str:
    """``median (min-max)``; a single value alone."""
    if not values:
        return ""
    middle = f"{statistics.median(values):.{digits}f}"
    if len(values) == 1:
        return middle
    return f"{middle} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def _cell(samples: list[Sample], column: Column) -> str:
    if column.of is not None:
        return f"{sum(_values(samples, column.key)):.0f} of {sum(_values(samples, column.of)):.0f}"
    return spread(_values(samples, column.key), column.digits)


def _ratio(a: list[Sample], b: list[Sample], column: Column) -> str:
    if column.of is not None or not column.ratio:
        return ""
    low, high = _values(a, column.key), _values(b, column.key)
    if not low or not high or statistics.median(low) == 0:
        return "n/a"
    value = statistics.median(high) / statistics.median(low)
    return "n/a" if math.isnan(value) else f"{value:.2f}"


def _row(cells: Sequence[str]) -> str:
    return "|" + "|".join(f" {cell} " if cell else " " for cell in cells) + "|"


def table(
    groups: Mapping[str, Samples],
    columns: Sequence[Column],
    ratio: tuple[str, str] | None = None,
    label_heading: str = "config",
    group_heading: str | None = None,
) -> list[str]:
    """A markdown table: per group (e.g. a hang kind), one row per label and a ``ratio B/A`` row of
    medians. Without ``group_heading`` there is one group and no group column."""
    lead = ([group_heading] if group_heading else []) + [label_heading, "rounds"]
    headings = [f"{c.heading}, all rounds" if c.of else f"{c.heading} median (min-max)" for c in columns]
    rows = [_row(lead + headings), "|" + "---|" * (len(lead) + len(columns))]
    for group, samples in groups.items():
        first = [group] if group_heading else []
        for label, runs in samples.items():
            rows.append(_row([*first, label, str(len(runs)), *(_cell(runs, c) for c in columns)]))
        if ratio is not None:
            a, b = ratio
            cells = [_ratio(samples[a], samples[b], c) for c in columns]
            rows.append(_row([*first, f"ratio {b}/{a}", "", *cells]))
    return rows
