"""Rolling order: app servers deploy in batches, each batch after the previous batch's health gate.

Only the switch-restart-health step is ordered; installing Node, the unit and the upload run on
every host at once. So a first deploy is parallel but for a few seconds per batch, and a release
that fails its health gate stops the rollout after its batch: the other hosts keep the old release.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pulumi

from components.app.node_app import NodeApp
from components.hosts import Host


def batches(hosts: Sequence[Host], batch_size: int) -> list[list[Host]]:
    return [list(hosts[i : i + batch_size]) for i in range(0, len(hosts), batch_size)]


def roll_out(
    hosts: Sequence[Host], batch_size: int, declare: Callable[[Host, Sequence[pulumi.Resource]], NodeApp]
) -> list[NodeApp]:
    """``declare(host, after)`` makes one host's app; ``after`` holds the previous batch's health gates."""
    apps: list[NodeApp] = []
    gate: list[pulumi.Resource] = []
    for batch in batches(hosts, batch_size):
        declared = [declare(host, gate) for host in batch]
        apps += declared
        gate = [app.deploy for app in declared]
    return apps
