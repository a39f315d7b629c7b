"""The benchmark's pieces that need no VMs: the wrk parser (a real wrk 4.1 report), the seed's config,
the wrk container's command, and the rolling-update control's program (the wait removed)."""

from __future__ import annotations

import pytest

from bench.run import seed_site
from bench.stack import bench_program
from bench.wrk import parse_wrk, wrk_argv
from tests.e2e.pulumi_cli import REPO

WRK_REPORT = """Running 10s test @ http://127.0.0.1:80/
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.12ms    3.01ms  48.16ms   85.50%
    Req/Sec     3.20k   412.33     4.10k    70.00%
  Latency Distribution
     50%    4.51ms
     75%    6.02ms
     90%    8.33ms
     99%   17.90ms
  63712 requests in 10.01s, 30.12MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 5
Requests/sec:   6365.21
Transfer/sec:      3.01MB
"""


def test_wrk_report_numbers() -> None:
    result = parse_wrk(WRK_REPORT)
    assert (result.rps, result.p50_ms, result.p99_ms) == (6365.21, 4.51, 17.90)
    assert (result.requests, result.failed) == (63712, 8)


def test_microseconds_and_no_errors() -> None:
    report = WRK_REPORT.replace("     50%    4.51ms", "     50%  912.00us").replace(
        "  Socket errors: connect 0, read 2, write 0, timeout 1\n  Non-2xx or 3xx responses: 5\n", ""
    )
    result = parse_wrk(report)
    assert (result.p50_ms, result.failed) == (0.912, 0)


def test_seed_site_is_the_plain_config() -> None:
    assert seed_site(["10.0.0.11:3000", "10.0.0.12:3000"]) == (
        "upstream seed_backends {\n    server 10.0.0.11:3000;\n    server 10.0.0.12:3000;\n}\n"
        "server {\n    listen 81;\n    server_name wayshub.bench;\n"
        "    location / {\n        proxy_pass http://seed_backends;\n    }\n}\n"
    )


def test_wrk_runs_in_its_own_container_on_the_bench_network() -> None:
    assert wrk_argv("wayshub-bench", "bench", "172.30.240.13", 81, "wayshub.bench", 10) == [
        "docker", "run", "--rm", "--network", "wayshub-bench", "--label", "wayshub.stack=bench",
        "--entrypoint", "wrk", "wayshub/bench-wrk:bookworm",
        "-t2", "-c32", "-d10s", "--latency", "-H", "Host: wayshub.bench", "http://172.30.240.13:81/",
    ]  # fmt: skip


@pytest.mark.parametrize(("settle", "chain"), [(True, False), (False, False), (True, True)])
def test_the_bench_program_is_ours_with_its_tuning(settle: bool, chain: bool) -> None:
    """The bench's __main__.py makes the program's one call, as ours does, with the variant's tuning."""
    program = bench_program(settle, chain)
    compile(program, "__main__.py", "exec")
    ours = (REPO / "__main__.py").read_text()
    assert "main(Path(__file__).resolve().parent)" in ours
    assert f"main(Path(__file__).resolve().parent, Tuning(settle={settle}, chain_first_deploy={chain}))" in program
    for line in ("from components.site.program import main", "leave_quietly_when_stopped()"):
        assert line in ours and line in program
