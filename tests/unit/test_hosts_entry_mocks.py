"""``HostsEntry`` declared against Pulumi mocks: the ``block`` input the engine receives, and sorting.

Mocks are set (once, in tests.unit.pulumi_mocks) before any resource is declared; no file is touched
(mocks never run the provider).
"""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from components.names import HostsEntry, HostsEntryArgs
from tests.unit.pulumi_mocks import MOCKS, pulumi_test

TOKEN = "pulumi-python:dynamic/wayshub:HostsEntry"


EXPECTED_BLOCK = (
    "# BEGIN wayshub-infra test\n"
    "10.0.0.11\tapi.wayshub.test\n"
    "fd00::11\tapi.wayshub.test\n"
    "10.0.0.10\twayshub.test www.wayshub.test\n"
    "# END wayshub-infra test\n"
)
EXPECTED_ENTRIES = [
    ["10.0.0.11", "api.wayshub.test"],
    ["fd00::11", "api.wayshub.test"],
    ["10.0.0.10", "wayshub.test www.wayshub.test"],
]


def _declare(name: str) -> HostsEntry:
    # Out of order, one address still an Output (as a host's address would be), one IPv6 not canonical.
    return HostsEntry(
        name,
        HostsEntryArgs(
            path="/tmp/wayshub-test-hosts",
            stack="test",
            entries=[
                (pulumi.Output.from_input("10.0.0.10"), "wayshub.test www.wayshub.test"),
                ("FD00::0011", "api.wayshub.test"),
                (pulumi.Output.from_input("10.0.0.11"), "api.wayshub.test"),
            ],
        ),
    )


@pulumi_test
def test_block_output_is_the_sorted_rendered_block() -> pulumi.Output[None]:
    entry = _declare("names-hosts")

    def check(values: list[Any]) -> None:
        block, entries = values
        assert block == EXPECTED_BLOCK, f"{entry._name}: block"
        assert entries == EXPECTED_ENTRIES, f"{entry._name}: entries"

    return pulumi.Output.all(entry.block, entry.entries).apply(check)


@pulumi_test
def test_engine_receives_block_and_sorted_entries_as_plain_inputs() -> pulumi.Output[None]:
    entry = _declare("names-hosts-inputs")

    def check(_: str) -> None:
        args = MOCKS.registered["names-hosts-inputs"]
        assert args.typ == TOKEN
        inputs = {key: value for key, value in args.inputs.items() if key != "__provider"}
        assert inputs == {
            "path": "/tmp/wayshub-test-hosts",
            "stack": "test",
            "entries": EXPECTED_ENTRIES,
            "block": EXPECTED_BLOCK,
        }

    return entry.id.apply(check)


@pulumi_test
def test_no_entries_give_an_empty_block() -> pulumi.Output[None]:
    entry = HostsEntry("names-empty", HostsEntryArgs(path="/tmp/wayshub-test-hosts", stack="test", entries=[]))

    def check(block: str) -> None:
        assert block == "# BEGIN wayshub-infra test\n# END wayshub-infra test\n"

    return entry.block.apply(check)


def test_a_hostile_address_is_refused() -> None:
    with pytest.raises(ValueError, match="not an IP address"):
        HostsEntry(
            "names-hostile",
            HostsEntryArgs(path="/tmp/h", stack="test", entries=[("10.0.0.1\n0.0.0.0 evil", "a.test")]),
        )
