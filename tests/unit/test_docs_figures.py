# ruff: noqa: RUF001, RUF002, RUF003  (the × and – of the figures this test looks for)
"""The docs quote no measured figure that the latest `make bench` run did not write: they link to
bench/RESULTS.md instead. A figure here is text that looks measured (a count out of a total, a ratio
like 5.46×, seconds to a tenth or finer, a before → after, a rate); each one found in README.md or docs/*.md
must appear word for word in the latest section of bench/RESULTS.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.pulumi_cli import REPO

RESULTS = REPO / "bench" / "RESULTS.md"
GENERATED = {"preview-example.md"}  # written by a script from a real preview, not a claim about speed
DOCS = [REPO / "README.md", *(p for p in sorted((REPO / "docs").glob("*.md")) if p.name not in GENERATED)]

FIGURE = re.compile(
    "|".join(
        [
            r"\b\d[\d,]* of \d[\d,]*\d\b",  # a count out of a total: 877 of 4,576
            r"\b\d+(?:\.\d+)?(?:×|x\b)",  # a measured ratio: 5.46× or 5.46x
            r"\b\d[\d,]* GETs (?:got|failed|fail)\b",  # an outcome under load
            r"\b\d+\.\d+ ?s\b",  # seconds to a tenth or finer: 10.56 s
            r"\d ?s → ",  # before → after
            r"\b\d[\d,.]* (?:rps|requests/s|requests per second)\b",  # a rate
        ]
    )
)


def figures(text: str) -> list[str]:
    return FIGURE.findall(text)


def latest_section(results: str) -> str:
    sections = re.split(r"^(?=## )", results, flags=re.M)
    return sections[-1] if len(sections) > 1 else ""


@pytest.mark.parametrize(
    "sentence",
    [
        "with nginx's common `max_fails=3 fail_timeout=10s` and no wait, 877 of 4,576 GETs got 502",
        "with these settings, 0 of 9,783.",
        "ours serves **5.46×** the requests per second of the seed's config",
        "worst wait seed → ours: SIGSTOP 10.56 s → 1.98 s, `docker pause` 11.08 s → 2.05 s",
        "69–93× the requests served during the hang",
        "every client waited the full 10.1 s",
        "The e2e test saw 5 of 9,905 GETs fail that way during one hang.",
        "A no-change preview takes 2.1 s at 2 app hosts",
        "ours serves 4322 requests/s",
    ],
)
def test_these_figures_count_as_measured(sentence: str) -> None:
    assert figures(sentence), sentence


@pytest.mark.parametrize(
    "sentence",
    [
        "every scenario under ≥ 2,000 GETs from `bench/loadgen.py`",
        "`lb.healthCheck.interval` (250 ms), each probe bounded by 750 ms",
        "one failure takes a backend out for 3 s; the rollout waits `failTimeout + 1s`",
        "a 5 s endpoint still answers from both backends",
    ],
)
def test_settings_and_thresholds_are_not_figures(sentence: str) -> None:
    assert figures(sentence) == []


def test_the_latest_section_is_the_last_run() -> None:
    results = "# Benchmark results\n\n## 2026-11-27 run\n\n| 1 of 2 |\n\n## 2026-11-28 run\n\n| 3 of 4 |\n"
    assert latest_section(results) == "## 2026-11-28 run\n\n| 3 of 4 |\n"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_docs_quote_only_figures_of_the_latest_bench_run(doc: Path) -> None:
    latest = latest_section(RESULTS.read_text())
    stray = [
        f"{doc.relative_to(REPO)}:{number}: {figure!r}"
        for number, line in enumerate(doc.read_text().splitlines(), start=1)
        for figure in figures(line)
        if figure not in latest
    ]
    assert not stray, (
        "measured figures the latest bench/RESULTS.md section does not hold (link to it instead):\n" + "\n".join(stray)
    )
