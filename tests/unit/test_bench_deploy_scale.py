"""The first-deploy-at-scale benchmark's figures: the span of the rolling deploy steps from the engine's
event log, and the share of a stack's state that the pickled dynamic providers take (bench/state_size.py)."""

from __future__ import annotations

import json
import os
from typing import Any

from bench.cpu import CpuUse, machine_busy_seconds
from bench.run import DEPLOY_STEP, step_span
from bench.state_size import measure

SECRET = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "v1:abc"}
EXPORT = {
    "deployment": {
        "resources": [
            {"urn": "urn:stack", "type": "pulumi:pulumi:Stack"},
            {
                "urn": "urn:a",
                "type": "pulumi-python:dynamic/wayshub:RemoteCommand",
                "inputs": {"__provider": SECRET, "create": "true"},
                "outputs": {"__provider": SECRET, "stdout": ""},
            },
            {
                "urn": "urn:b",
                "type": "pulumi-python:dynamic/wayshub:LocalCommand",
                "inputs": {"__provider": "gASV"},
                "outputs": {},
            },
        ]
    }
}


def test_counts_every_provider_copy_against_the_whole_state() -> None:
    size = measure(EXPORT)
    compact = len(json.dumps(SECRET, separators=(",", ":")))
    assert (size.resources, size.dynamic, size.encrypted_providers) == (3, 2, 2)
    assert size.provider_bytes == 2 * compact + len('"gASV"')
    assert size.resource_bytes == sum(
        len(json.dumps(r, separators=(",", ":"))) for r in EXPORT["deployment"]["resources"]
    )
    assert 0 < size.share < 1


def test_an_empty_stack() -> None:
    size = measure({"deployment": {}})
    assert (size.resources, size.provider_bytes, size.share) == (0, 0, 0.0)


def event(kind: str, name: str, at: int, op: str = "create") -> dict[str, Any]:
    return {"timestamp": at, kind: {"metadata": {"urn": f"urn:pulumi:bench::wayshub::T::{name}", "op": op}}}


def test_the_deploy_span_runs_from_the_first_start_to_the_last_end() -> None:
    events = [
        event("resourcePreEvent", "app1-app-node", 100),
        event("resourcePreEvent", "app1-app-release", 110),
        event("resOutputsEvent", "app1-app-release", 117),
        event("resourcePreEvent", "app2-app-release", 117),
        event("resOutputsEvent", "app2-app-node", 140),
        event("resOutputsEvent", "app2-app-release", 125),
        event("resourcePreEvent", "app3-app-release", 90, op="same"),
    ]
    assert step_span(events, DEPLOY_STEP) == 15.0
    assert step_span([], DEPLOY_STEP) == 0.0


def test_machine_busy_seconds_leave_out_idle_and_iowait() -> None:
    # cpu user nice system idle iowait irq softirq steal guest guest_nice (in clock ticks)
    line = "cpu  100 20 30 5000 400 6 4 10 0 0"
    ticks = os.sysconf("SC_CLK_TCK")
    assert machine_busy_seconds(line) == (100 + 20 + 30 + 6 + 4 + 10) / ticks


def test_busy_share_is_busy_seconds_over_cores_times_wall() -> None:
    assert CpuUse(machine_s=30.0, deploy_s=5.0, wall_s=20.0, cores=2).busy_share == 0.75
