"""Rolling order: app servers that already run a release switch in batches, each batch after the previous
batch's health gate.

Only the switch-restart-health step is ordered; installing Node, the unit and the upload run on
every host at once. A release that fails its health gate stops the rollout after its batch: the other
hosts keep the old release.

A host's FIRST deploy waits for nobody and nobody waits for it: with no release yet it serves no
traffic (the load balancer takes it in only after every app is deployed), so there is nothing to keep
up. Which hosts ran a release before comes from the stack's last checkpoint, read once before any
resource is declared (``deployed_before``): the same answer for ``preview`` and ``up``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pulumi

from components.app.node_app import NodeApp, release_step_name
from components.checkpoint import checkpoint_urns
from components.hosts import Host
from components.layout import app_component


def app_name(host: Host, site: str = "") -> str:
    """``NodeApp``'s resource name on a host (``site``: one of ``wayshub:sites``, else the stack's own)."""
    return app_component(host.name, site)


def release_step(host: Host, site: str = "") -> str:
    """The resource name of a host's release step (``NodeApp.deploy``): in the state once it first succeeded."""
    return release_step_name(app_name(host, site))


def checkpoint_names() -> frozenset[str] | None:
    """The resource names of this stack's last checkpoint; None when it cannot be read."""
    urns = checkpoint_urns()
    if urns is None:  # assume every host serves
        pulumi.log.warn("rollout: without the stack's last state every host waits its turn")
        return None
    return frozenset(urn.rsplit("::", 1)[-1] for urn in urns)


def deployed_before(takeover: bool, site: str = "") -> Callable[[Host], bool]:
    """Whether a host may be serving a release now, so its switch must wait for its turn.

    True for every host when the state cannot be read, and with ``hosts.takeover`` (an app run by hand
    may be serving it through someone else's nginx)."""
    names = None if takeover else checkpoint_names()
    if names is None:
        return lambda _host: True
    return lambda host: release_step(host, site) in names


def batches(hosts: Sequence[Host], batch_size: int) -> list[list[Host]]:
    return [list(hosts[i : i + batch_size]) for i in range(0, len(hosts), batch_size)]


def roll_out(
    hosts: Sequence[Host],
    batch_size: int,
    declare: Callable[[Host, Sequence[pulumi.Resource]], NodeApp],
    deployed: Callable[[Host], bool] = lambda _host: True,
) -> list[NodeApp]:
    """``declare(host, after)`` makes one host's app, in ``hosts``' order; ``after`` holds the health gates
    of the previous batch of hosts that were ``deployed`` before (empty for a host's first deploy)."""
    serving = [h for h in hosts if deployed(h)]
    batch_of = {h.name: i for i, batch in enumerate(batches(serving, batch_size)) for h in batch}
    gates: dict[int, list[pulumi.Resource]] = {}
    apps: list[NodeApp] = []
    for host in hosts:
        batch = batch_of.get(host.name)
        if batch is None:  # a first deploy: no gate before it, none after
            apps.append(declare(host, []))
            continue
        app = declare(host, gates.get(batch - 1, []))
        gates.setdefault(batch, []).append(app.deploy)
        apps.append(app)
    return apps
