"""wrk in a container of its own on the bench network, so nginx does not share its VM with the load.

The image is the sandbox VM image plus Debian's ``wrk`` package (bench/wrk.Dockerfile); each run is a
``docker run --rm`` on the stack's network that targets the LB VM's private address. The container
still shares this machine's cores with the VMs: only ratios within one run mean anything.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

DOCKERFILE = Path(__file__).with_name("wrk.Dockerfile")
IMAGE = "wayshub/bench-wrk:bookworm"
THREADS, CONNECTIONS = 2, 32


@dataclass(frozen=True)
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    failed: int

    def sample(self) -> dict[str, float]:
        return {key: float(value) for key, value in asdict(self).items()}


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


def build_image(base: str) -> str:
    """The wrk image on top of ``base`` (the sandbox image); Docker's layer cache makes a rebuild instant."""
    subprocess.run(
        [
            "docker",
            "build",
            "-q",
            "-t",
            IMAGE,
            "--build-arg",
            f"BASE={base}",
            "-f",
            str(DOCKERFILE),
            str(DOCKERFILE.parent),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return IMAGE


def wrk_argv(network: str, stack_label: str, address: str, port: int, host_header: str, seconds: int) -> list[str]:
    """The ``docker run`` of one wrk run against ``address:port`` on ``network``."""
    return [
        "docker", "run", "--rm", "--network", network, "--label", f"wayshub.stack={stack_label}",
        "--entrypoint", "wrk", IMAGE,
        f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "-H", f"Host: {host_header}",
        f"http://{address}:{port}/",
    ]  # fmt: skip


def run_wrk(network: str, stack_label: str, address: str, port: int, host_header: str, seconds: int) -> WrkResult:
    argv = wrk_argv(network, stack_label, address, port, host_header, seconds)
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    return parse_wrk(out)
