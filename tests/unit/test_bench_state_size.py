"""bench/state_size.py: the share of a stack's state that the pickled dynamic providers take."""

from __future__ import annotations

import json

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
