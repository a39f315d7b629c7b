"""Benchmark rounds alternate their order, and every table row gives median (min-max) per figure."""

from __future__ import annotations

from bench.stats import Column, Sample, round_orders, run_rounds, spread, table


def test_rounds_alternate_which_config_goes_first() -> None:
    assert round_orders(["seed", "ours"], 4) == [["seed", "ours"], ["ours", "seed"], ["seed", "ours"], ["ours", "seed"]]


def test_run_rounds_measures_in_that_order() -> None:
    calls: list[tuple[str, int]] = []

    def measure(label: str, index: int) -> Sample:
        calls.append((label, index))
        return {"x": float(len(calls))}

    samples = run_rounds(["a", "b"], 3, measure)
    assert calls == [("a", 0), ("b", 0), ("b", 1), ("a", 1), ("a", 2), ("b", 2)]
    assert samples == {"a": [{"x": 1.0}, {"x": 4.0}, {"x": 5.0}], "b": [{"x": 2.0}, {"x": 3.0}, {"x": 6.0}]}


def test_spread_is_median_and_min_max() -> None:
    assert spread([3.0, 1.0, 10.0], 1) == "3.0 (1.0-10.0)"
    assert spread([2.0, 4.0], 0) == "3 (2-4)"
    assert spread([7.25], 2) == "7.25"


def test_table_rows_medians_spread_sums_and_ratio_of_medians() -> None:
    samples = {
        "seed": [{"rps": 100.0, "failed": 2, "total": 50}, {"rps": 300.0, "failed": 0, "total": 70}, {"rps": 200.0, "failed": 1, "total": 60}],
        "ours": [{"rps": 900.0, "failed": 0, "total": 90}, {"rps": 500.0, "failed": 0, "total": 80}, {"rps": 700.0, "failed": 0, "total": 70}],
    }  # fmt: skip
    rows = table(
        {"": samples}, [Column("rps", "requests/s", 0), Column("failed", "failed", of="total")], ("seed", "ours")
    )
    assert rows == [
        "| config | rounds | requests/s median (min-max) | failed, all rounds |",
        "|---|---|---|---|",
        "| seed | 3 | 200 (100-300) | 3 of 180 |",
        "| ours | 3 | 700 (500-900) | 0 of 240 |",
        "| ratio ours/seed | | 3.50 | |",
    ]


def test_grouped_table_and_a_ratio_over_zero() -> None:
    groups = {
        "stop": {"seed": [{"slow": 48.0}], "ours": [{"slow": 0.0}]},
        "drop": {"seed": [{"slow": 0.0}], "ours": [{"slow": 2.0}]},
    }
    rows = table(groups, [Column("slow", "over 2 s", 0)], ("seed", "ours"), group_heading="hang")
    assert rows[0] == "| hang | config | rounds | over 2 s median (min-max) |"
    assert rows[2:] == [
        "| stop | seed | 1 | 48 |",
        "| stop | ours | 1 | 0 |",
        "| stop | ratio ours/seed | | 0.00 |",
        "| drop | seed | 1 | 0 |",
        "| drop | ours | 1 | 2 |",
        "| drop | ratio ours/seed | | n/a |",
    ]


def test_a_figure_measured_once_per_label_and_no_ratio_for_counts() -> None:
    samples = {
        "2": [{"preview_s": 2.0, "changes": 0.0}, {"preview_s": 2.4}],
        "10": [{"preview_s": 3.9, "changes": 0.0}],
    }
    columns = [Column("preview_s", "preview s", 1), Column("changes", "changes", 0, ratio=False)]
    rows = table({"": samples}, columns, ("2", "10"), label_heading="app hosts")
    assert rows[2:] == ["| 2 | 2 | 2.2 (2.0-2.4) | 0 |", "| 10 | 1 | 3.9 | 0 |", "| ratio 10/2 | | 1.77 | |"]
