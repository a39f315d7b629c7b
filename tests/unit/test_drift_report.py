"""scripts/drift-report: the lines `make up` prints for what it restored after drift."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
sys.path.insert(0, str(SCRIPTS))
from drift_report import restored, timestamp  # noqa: E402

STATE = "wayshub:load_balancer:NginxLoadBalancer$pulumi-python:dynamic/wayshub:HostState"
LINE = "lb: /etc/nginx/conf.d/wayshub-local.conf (content) content differs (sha256 107d…, want 392a…)"


def resource(modified: str, lines: list[str], kind: str = "pulumi-python:dynamic/wayshub:HostState") -> dict[str, Any]:
    return {
        "type": kind,
        "urn": f"urn:pulumi:local::wayshub::{STATE}::lb-state",
        "modified": modified,
        "outputs": {"restored": lines},
    }


def test_only_state_resources_this_up_changed_are_reported() -> None:
    since = timestamp("2026-11-28T13:00:00Z")
    resources = [
        resource("2026-11-28T13:00:01.123456789Z", [LINE]),
        resource("2026-11-28T12:59:59.999999999Z", ["app1: an older repair"]),
        resource("2026-11-28T13:05:00Z", ["not a state"], kind="pulumi-python:dynamic/wayshub:RemoteCommand"),
        {"type": "pulumi-python:dynamic/wayshub:HostState", "outputs": {"restored": ["no modified time"]}},
    ]
    assert restored(resources, since) == [f"restored: {LINE}"]


def test_the_executable_reads_a_stack_export() -> None:
    exported = {"deployment": {"resources": [resource("2026-11-28T13:00:01Z", [LINE])]}}
    out = subprocess.run(
        [str(SCRIPTS / "drift-report"), "--since", "2026-11-28T13:00:00Z"],
        input=json.dumps(exported),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out == f"restored: {LINE}\n"
    quiet = subprocess.run(
        [str(SCRIPTS / "drift-report"), "--since", "2026-11-28T14:00:00Z"],
        input=json.dumps(exported),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert quiet == ""
