"""Benchmarks of wayshub-infra against the seed's plain nginx config and at scale (`make bench`).

Everything runs on this machine against sandbox VMs of a dedicated `bench` stack; load goes only to
127.0.0.1 inside the LB VM. Absolute numbers on shared machines are noise, so each comparison is
measured side by side in one run, alternating A/B, and reported as a ratio. Results are printed and
appended to bench/RESULTS.md with the date and the machine.

    python -m bench.run [--rounds 3] [--seconds 10] [--scale 2,10,20] [--skip lb,failover,hang,engine,deploy]
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.hang import HANGS, HangReport, measure
from tests.e2e.pulumi_cli import REPO, PulumiCli, copy_program, engine_env

STACK = "bench"
DOMAIN = "wayshub.bench"
SUBNET_PREFIX = "172.30.240"
SSH_PORT_BASE = 23000
HTTP_PORT, HTTPS_PORT = 19080, 19081
SEED_PORT = 81  # the seed's plain site, next to ours on the same LB VM
SEED_DOMAIN = f"seed.{DOMAIN}"  # the seed's site on port 80 too (by name), for load from this machine
CHECKER = f"wayshub-{STACK}-backend-health.service"
RESULTS = REPO / "bench" / "RESULTS.md"
BACKENDS = [f"{SUBNET_PREFIX}.{11 + i}:3000" for i in range(2)]


def seed_site(backends: list[str]) -> str:
    """The seed's hand-written config: one upstream, one proxy_pass, nothing else."""
    servers = "".join(f"    server {b};\n" for b in backends)
    return (
        f"upstream seed_backends {{\n{servers}}}\n"
        f"server {{\n    listen {SEED_PORT};\n    server_name {DOMAIN};\n"
        "    location / {\n        proxy_pass http://seed_backends;\n    }\n}\n"
    )


@dataclass
class Bench:
    cli: PulumiCli
    project: Path
    hosts_file: Path
    image: str

    def container(self, server: str) -> str:
        return f"wayshub-{STACK}-{server}"

    def sh(self, server: str, command: str) -> str:
        return subprocess.run(
            ["docker", "exec", self.container(server), "bash", "-c", command],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    def configure(self, app_servers: int) -> None:
        config: dict[str, Any] = {
            "wayshub:domain": DOMAIN,
            "wayshub:hosts": {
                "provider": "sandbox",
                "appServers": [{"name": f"app{i}"} for i in range(1, app_servers + 1)],
                "lbServer": {"name": "lb"},
            },
            "wayshub:sandbox": {
                "image": self.image,
                "network": f"wayshub-{STACK}",
                "subnet": f"{SUBNET_PREFIX}.0/24",
                "sshPortBase": SSH_PORT_BASE,
                "httpPort": HTTP_PORT,
                "httpsPort": HTTPS_PORT,
            },
            "wayshub:hostsFile": {"path": str(self.hosts_file)},
        }
        (self.project / "stacks").mkdir(exist_ok=True)
        (self.project / "stacks" / f"Pulumi.{STACK}.yaml").write_text(yaml.safe_dump({"config": config}))

    def up(self) -> float:
        started = time.monotonic()
        self.cli.run("up", "--yes", "--skip-preview")
        return time.monotonic() - started

    def destroy(self) -> None:
        self.cli.run("destroy", "--yes", "--skip-preview")


def setup(root: Path) -> Bench:
    subprocess.run([str(REPO / "scripts" / "ensure-docker")], check=True)
    image = subprocess.run(
        [str(REPO / "scripts" / "sandbox-image")], capture_output=True, text=True, check=True
    ).stdout.strip()
    copy_program(root / "project")
    hosts_file = root / "hosts"
    hosts_file.write_text("127.0.0.1\tlocalhost\n")
    cli = PulumiCli(root / "project", engine_env(root / "state", root / "home"))
    cli.run("stack", "init", STACK)
    return Bench(cli, root / "project", hosts_file, image)


# --- wrk inside the LB VM -------------------------------------------------------------------


@dataclass(frozen=True)
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    failed: int


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def parse_wrk(out: str) -> WrkResult:
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    failed = (int(non_2xx.group(1)) if non_2xx else 0) + (sum(int(g) for g in socket.groups()) if socket else 0)
    return WrkResult(
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        p50_ms=_ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        p99_ms=_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        requests=requests,
        failed=failed,
    )


def wrk(bench: Bench, port: int, seconds: int) -> WrkResult:
    out = bench.sh(
        "lb",
        f"wrk -t2 -c32 -d{seconds}s --latency -H 'Host: {DOMAIN}' http://127.0.0.1:{port}/",
    )
    return parse_wrk(out)


def prepare_lb(bench: Bench, backends: list[str]) -> None:
    bench.sh("lb", "command -v wrk >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null")
    bench.sh(
        "lb",
        f"cat > /etc/nginx/conf.d/seed.conf <<'EOF'\n{seed_site(backends)}EOF\nnginx -t -q && systemctl reload nginx",
    )


def seed_by_name() -> str:
    """The seed's site once more, on our port 80 by server name, so load from this machine reaches it."""
    return (
        f"server {{\n    listen 80;\n    server_name {SEED_DOMAIN};\n"
        "    location / {\n        proxy_pass http://seed_backends;\n    }\n}\n"
    )


def hang_rounds(bench: Bench, rounds: int, hang_seconds: float) -> dict[str, dict[str, list[HangReport]]]:
    """Per hang kind, alternate seed and ours; app1 hangs mid-run. Our health check runs only in our
    rounds: its `ss -K` would end the seed's stuck connections too."""
    bench.sh(
        "lb",
        f"cat > /etc/nginx/conf.d/seed-by-name.conf <<'EOF'\n{seed_by_name()}EOF\n"
        "nginx -t -q && systemctl reload nginx",
    )
    results: dict[str, dict[str, list[HangReport]]] = {kind: {"seed": [], "ours": []} for kind in HANGS}
    for _ in range(rounds):
        for kind in HANGS:
            for label, host_header in (("seed", SEED_DOMAIN), ("ours", DOMAIN)):
                bench.sh("lb", f"systemctl {'start' if label == 'ours' else 'stop'} {CHECKER}")
                time.sleep(4)  # app1 answers again and nginx has forgotten its failures
                report = measure(
                    HTTP_PORT, host_header, HANGS[kind], bench.container("app1"), "wayshub.service",
                    hang_seconds=hang_seconds,
                )  # fmt: skip
                print(f"  {kind} {label}: {report.summary()}", flush=True)
                results[kind][label].append(report)
    bench.sh("lb", f"systemctl start {CHECKER}")
    return results


def hang_table(results: dict[str, dict[str, list[HangReport]]]) -> list[str]:
    """Worst wait: the worst over all rounds; counts: summed; throughput during the hang: median."""
    rows = [
        "| hang | config | worst wait s | requests over 2 s | failed / total | rps during the hang |",
        "|---|---|---|---|---|---|",
    ]
    for kind, by_label in results.items():
        figures = {}
        for label in ("seed", "ours"):
            reports = by_label[label]
            figures[label] = (
                max(r.worst_wait for r in reports),
                sum(r.over_2s for r in reports),
                sum(r.failed for r in reports),
                sum(len(r.requests) for r in reports),
                float(statistics.median(r.rps_during_hang for r in reports)),
            )
            worst, slow, failed, total, rps = figures[label]
            rows.append(f"| {kind} | {label} | {worst:.2f} | {slow} | {failed} / {total} | {rps:.0f} |")
        seed, ours = figures["seed"], figures["ours"]
        rows.append(
            f"| {kind} | ratio ours/seed | {ours[0] / seed[0]:.2f} | "
            f"{ours[1] / seed[1] if seed[1] else float('nan'):.2f} | | {ours[4] / seed[4] if seed[4] else float('nan'):.2f} |"
        )
    return rows


def ab_rounds(bench: Bench, rounds: int, seconds: int, kill_after: float | None = None) -> dict[str, list[WrkResult]]:
    """Alternate A (seed) and B (ours); with ``kill_after``, SIGKILL app1 that many seconds into each run."""
    results: dict[str, list[WrkResult]] = {"seed": [], "ours": []}
    for _ in range(rounds):
        for label, port in (("seed", SEED_PORT), ("ours", 80)):
            killer = None
            if kill_after is not None:
                killer = threading.Timer(kill_after, lambda: bench.sh("app1", "systemctl kill -s KILL wayshub"))
                killer.start()
            results[label].append(wrk(bench, port, seconds))
            if killer:
                killer.join()
                time.sleep(3)  # app1 is back (Restart=always) and nginx has forgotten its failure
    return results


def lb_table(results: dict[str, list[WrkResult]], with_failures: bool) -> list[str]:
    def med(label: str, field: str) -> float:
        return float(statistics.median(getattr(r, field) for r in results[label]))

    rows = [
        "| config | rps (median) | p50 ms | p99 ms |" + (" failed / total |" if with_failures else ""),
        "|---|---|---|---|" + ("---|" if with_failures else ""),
    ]
    for label in ("seed", "ours"):
        row = f"| {label} | {med(label, 'rps'):.0f} | {med(label, 'p50_ms'):.2f} | {med(label, 'p99_ms'):.2f} |"
        if with_failures:
            failed = sum(r.failed for r in results[label])
            total = sum(r.requests for r in results[label])
            row += f" {failed} / {total} |"
        rows.append(row)
    rows.append(
        f"| ratio ours/seed | {med('ours', 'rps') / med('seed', 'rps'):.2f} | "
        f"{med('ours', 'p50_ms') / med('seed', 'p50_ms'):.2f} | {med('ours', 'p99_ms') / med('seed', 'p99_ms'):.2f} |"
        + (" |" if with_failures else "")
    )
    return rows


# --- engine cost and first deploy ----------------------------------------------------------


def preview_seconds(bench: Bench, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        started = time.monotonic()
        bench.cli.run("preview")
        times.append(time.monotonic() - started)
    return float(statistics.median(times))


def noop_changes(bench: Bench) -> int:
    summary = bench.cli.up_summary()
    return sum(count for op, count in summary.items() if op != "same")


def machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores, {memory:.0f} GiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--scale", default="2,10,20")
    parser.add_argument("--skip", default="")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    scales = [int(n) for n in args.scale.split(",")]
    lines = [f"## {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC — {machine()}", ""]

    def emit(block: list[str]) -> None:
        """Print a section as soon as it is measured; keep it for bench/RESULTS.md."""
        lines.extend(block)
        print("\n".join(block), flush=True)

    with tempfile.TemporaryDirectory(prefix="wayshub-bench-") as tmp:
        bench = setup(Path(tmp))
        try:
            if "deploy" not in skip:
                times: dict[int, list[float]] = {1: [], 2: []}
                for _ in range(2):
                    for count in (1, 2):
                        bench.configure(count)
                        times[count].append(bench.up())
                        bench.destroy()
                one, two = (float(statistics.median(times[n])) for n in (1, 2))
                emit(
                    [
                        "### First deploy (fresh `up`, median of 2)",
                        "",
                        "| app hosts | seconds |",
                        "|---|---|",
                        f"| 1 | {one:.1f} |",
                        f"| 2 | {two:.1f} |",
                        f"| ratio 2/1 | {two / one:.2f} |",
                        "",
                    ]
                )
            bench.configure(2)
            bench.up()
            backends = BACKENDS
            if not {"lb", "failover", "hang"} <= skip:
                prepare_lb(bench, backends)
            if "lb" not in skip:
                results = ab_rounds(bench, args.rounds, args.seconds)
                emit(
                    [
                        f"### LB throughput: seed config vs ours, 2 backends, wrk -t2 -c32 -d{args.seconds}s "
                        f"inside the LB VM, {args.rounds} alternating rounds",
                        "",
                        *lb_table(results, with_failures=False),
                        "",
                    ]
                )
            if "failover" not in skip:
                results = ab_rounds(bench, args.rounds, args.seconds, kill_after=args.seconds / 3)
                emit(
                    [
                        f"### Failover: app1 SIGKILLed {args.seconds / 3:.0f}s into each run (Restart=always)",
                        "",
                        *lb_table(results, with_failures=True),
                        "",
                    ]
                )
            if "hang" not in skip:
                hang_seconds = 10.0
                results_hang = hang_rounds(bench, args.rounds, hang_seconds)
                emit(
                    [
                        f"### A hung backend: app1 hangs {hang_seconds:.0f}s mid-run, 16 keep-alive clients GET for "
                        f"{hang_seconds + 6:.0f}s from this machine, seed config vs ours on the same LB VM, "
                        f"{args.rounds} alternating rounds per hang kind",
                        "",
                        *(f"- `{kind}`: {hang.describe}" for kind, hang in HANGS.items()),
                        "",
                        *hang_table(results_hang),
                        "",
                    ]
                )
            if "engine" not in skip:
                emit(
                    [
                        "### Engine cost (real engine, sandbox VMs, scaled up in steps)",
                        "",
                        "| app hosts | preview s (no changes, median of 3) | changes in a no-op up |",
                        "|---|---|---|",
                    ]
                )
                seconds: dict[int, float] = {}
                for count in scales:
                    bench.configure(count)
                    bench.up()
                    seconds[count] = preview_seconds(bench)
                    emit([f"| {count} | {seconds[count]:.1f} | {noop_changes(bench)} |"])
                low, high = min(scales), max(scales)
                emit([f"| ratio {high}/{low} | {seconds[high] / seconds[low]:.2f} | |", ""])
        except BaseException as err:
            # Keep what was measured, and say where the run stopped.
            first_line = (str(err).strip().splitlines() or [type(err).__name__])[0]
            emit([f"**Run stopped:** {first_line[:300]}", ""])
            raise
        finally:
            bench.cli.run("destroy", "--yes", "--skip-preview", check=False)
            with RESULTS.open("a") as results_file:
                results_file.write("\n".join(lines) + "\n\n")


if __name__ == "__main__":
    main()
