"""Which container serves each app server now, and so which slot a release goes to.

Each app server has two slots (spec.py). Its switch step (``<site>-<server>-switch``, commands.py) prints
``serving <slot> <key> <release> <previous release>`` when nginx has been pointed at a container; the stack's
last checkpoint keeps that output (a failed switch keeps the previous one). The stack output
``release_images`` (release id → app image) says which image each recent release ran: a pinned release
(``app.releasePin``, scripts/rollback) runs its image again, with no build. It is read once, before any resource is declared, with the
engine's built-in ``pulumi:pulumi:readStackResourceOutputs`` invoke (as components/app/rollout.py does), so
``preview`` and ``up`` declare the same graph:

- no switch yet (a new server): slot a;
- the serving key is the release's key: the same slot (nothing changes);
- another key: the other slot. The new container starts there and must pass its health check before nginx
  takes it; the old slot's container is no longer declared, so the engine removes it at the end of the `up`.

A stack deployed before slots existed has ``<site>-<server>`` containers at slot a's address: they count as
slot a serving, so the next release goes to b.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from components.checkpoint import checkpoint_resources
from components.containers.spec import SLOTS, other_slot

SERVING_LINE = re.compile(r"serving (a|b) ([0-9a-f]{12}) ([0-9a-f]{12}) ([0-9a-f]{12}|-)")
RELEASE_IMAGES = "release_images"
STACK_TYPE = "pulumi:pulumi:Stack"
LEGACY_KEY = "legacy"


@dataclass(frozen=True)
class Serving:
    slot: str
    key: str
    release: str = ""
    previous: str = ""  # the release this server ran before ``release`` ("" when none)


@dataclass(frozen=True)
class Checkpoint:
    """What the last checkpoint says: the serving container per server, and the recent releases' images."""

    serving: dict[str, Serving]
    release_images: dict[str, str]


def switch_name(site: str, server: str) -> str:
    return f"{site}-{server}-switch"


def app_resource_name(site: str, server: str, slot: str) -> str:
    return f"{site}-{server}-{slot}"


def serving_from(resources: Mapping[str, Any], site: str, servers: Sequence[str]) -> dict[str, Serving]:
    """From the checkpoint's resources (URN → ``{"type", "outputs"}``): the serving slot and key per server."""
    by_name = {urn.rsplit("::", 1)[-1]: value for urn, value in resources.items()}
    found: dict[str, Serving] = {}
    for server in servers:
        switch = by_name.get(switch_name(site, server))
        stdout = str(((switch or {}).get("outputs") or {}).get("stdout") or "")
        lines = [m for m in (SERVING_LINE.fullmatch(line.strip()) for line in stdout.splitlines()) if m]
        if lines:
            slot, key, release, previous = lines[-1].groups()  # served_slot's line, in full
            found[server] = Serving(slot, key, release, "" if previous == "-" else previous)
        elif f"{site}-{server}" in by_name:  # a container from before slots, at slot a's address
            found[server] = Serving(SLOTS[0], LEGACY_KEY)
    return found


def served_slot(stdout: str) -> str | None:
    """The slot a switch step's output says its server serves (its last ``serving`` line), None without one."""
    lines = [m for m in (SERVING_LINE.fullmatch(line.strip()) for line in stdout.splitlines()) if m]
    return lines[-1].group(1) if lines else None


def release_images_from(resources: Mapping[str, Any]) -> dict[str, str]:
    """The stack output ``release_images`` of the checkpoint (release id → image), in its order."""
    for value in resources.values():
        if (value or {}).get("type") == STACK_TYPE:
            images = ((value or {}).get("outputs") or {}).get(RELEASE_IMAGES) or {}
            if isinstance(images, Mapping):
                return {str(k): str(v) for k, v in images.items()}
    return {}


def read_checkpoint(site: str, servers: Sequence[str]) -> Checkpoint:
    """What the stack's last checkpoint says (nothing when it cannot be read: a new stack)."""
    resources = checkpoint_resources()
    if resources is None:  # no state to read: every server starts in slot a
        pulumi.log.warn("containers: without the stack's last state every server deploys to slot a")
        return Checkpoint({}, {})
    return Checkpoint(serving_from(resources, site, servers), release_images_from(resources))


def previous_release(serving: Serving | None, slot: str, release: str) -> str:
    """The release a server ran before the one it runs after this `up` ("" when none)."""
    if serving is None:
        return ""
    if serving.slot == slot or serving.release in ("", release):
        return serving.previous
    return serving.release


def kept_images(current: Mapping[str, str], before: Mapping[str, str], kept: int) -> dict[str, str]:
    """``release_images`` after this `up`: the releases now serving first, then the ones before, ``kept`` more."""
    older = [(r, image) for r, image in before.items() if r not in current]
    return {**current, **dict(older[:kept])}


def target_slot(serving: Serving | None, key: str) -> str:
    if serving is None:
        return SLOTS[0]
    return serving.slot if serving.key == key else other_slot(serving.slot)
