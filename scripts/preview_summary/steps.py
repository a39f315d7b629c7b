"""Classify the preview's steps: one :class:`Change` per resource that changes, with its layer, its host,
what it does there (its role) and its place in the comment's order."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from components.layout import SITE_TYPE, site_of_component, site_of_resource, site_resource

from .engine import SECRET, Urn

# Inputs that are bookkeeping, never worth a reviewer's attention.
IGNORED_INPUTS = frozenset({"__provider", "name"})

# Engine ops → the four a reviewer cares about (Pulumi's own symbols). A replacement appears as up to
# three steps (create-replacement, replace, delete-replaced): one row.
OPS: dict[str, str] = {
    "create": "create",
    "update": "update",
    "replace": "replace",
    "create-replacement": "replace",
    "delete-replaced": "replace",
    "delete": "delete",
    "discard": "delete",
    "discard-replaced": "delete",
    "import": "import",
    "import-replacement": "import",
    "read": "read",
    "read-replacement": "read",
    "refresh": "refresh",
}
OP_ORDER = ("create", "update", "replace", "delete", "import", "read", "refresh")

# Layers, in the order the program wires them (README "Architecture"), keyed by component module.
LAYERS = {"hosts": "hosts", "app": "app", "load_balancer": "load balancer", "names": "names"}
LAYER_ORDER = ("hosts", "app", "load balancer", "names", "stack", "other")
# Top-level custom resources that belong to a layer without a component around them.
CUSTOM_LAYERS = {"HostsEntry": "names", "SelfSignedTls": "load balancer"}
SHARED = "—"
# The component that holds one of wayshub:sites on the LBs (components/load_balancer/more_sites.py): it names
# the site, and is no host's (its NginxLoadBalancer and checker children are).
SITE_GROUP = "wayshub:load_balancer:SiteOnLbs"
# Components that only group others: a resource under them belongs to the component below them.
GROUPS = (SITE_TYPE, SITE_GROUP)

# What each resource does on its host, by name suffix, in the order the program runs them on a host.
ROLES: tuple[tuple[str, str], ...] = (
    ("-container", "the sandbox VM (a container booting systemd + sshd)"),
    ("-probe", "SSH check and host key pin"),
    ("-network", "the sandbox network"),
    ("-key", "the stack's SSH key pair (secret)"),
    ("-app-base", "app user and folders"),
    ("-app-arch", "server architecture (`uname -m`) for the Node build"),
    ("-app-node-upload", "Node.js binary upload"),
    ("-app-node", "Node.js install"),
    ("-app-upload", "release tarball upload"),
    ("-app-prepare", "release folder, made on every server before the release task"),
    ("release-task-run", "release task (app.releaseTask): once per new release, before any server switches"),
    ("-app-release", "release: make, switch, restart, health check"),
    ("schedules-timers", "scheduled jobs (app.schedules): their units and timers, on one app server"),
    ("-nginx", "nginx install"),
    ("-acme-front", "nginx port-80 server: ACME HTTP-01 answers, redirect to HTTPS"),
    ("-certificate", "ACME certificate: issued, or renewed inside lb.acme.renewDaysBefore (keys are secrets)"),
    ("-tls-certificate", "TLS certificate"),
    ("-tls-key", "TLS private key (secret)"),
    ("-site", "nginx site"),
    ("-health-script", "backend health check script"),
    ("-health-unit", "backend health check unit"),
    ("-health-service", "backend health check: settings (backends), restart"),
    ("-survey", "what is already on the server (hand-run app, nginx site)"),
    ("-retire-sites", "takeover: disable the hand-written nginx site"),
)
# What a resource is, by its type, for those whose name says little.
KINDS = {"SelfSignedTls": "self-signed CA and certificate (keys are secrets)", "HostsEntry": "hosts block"}
# Name suffixes that make a host's resource names (fallback when a step has no parent chain).
HOST_SUFFIX = re.compile(
    r"-(?:app(?:-[a-z]+)*|container|probe|survey|nginx|site|tls-[a-z]+|health-[a-z]+|acme-front|certificate)$"
)


def is_component(type_: str) -> bool:
    return type_.startswith("wayshub:")


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """``app2`` before ``app10``."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", text) if part)


@dataclass
class Change:
    """One resource that changes (components are left out: they do nothing themselves)."""

    op: str
    urn: str
    name: str
    type: str
    layer: str
    host: str
    old: dict[str, Any]
    new: dict[str, Any]
    changed: list[str] = field(default_factory=list)
    hidden: bool = False  # only secret inputs can have changed: which one, the JSON does not say
    site: str = ""  # the one of wayshub:sites it belongs to ("" the stack's own, or a stack without sites)

    @property
    def kind(self) -> str:
        return self.type.rsplit(":", 1)[-1]


def _inputs(state: Any) -> dict[str, Any]:
    if isinstance(state, dict) and isinstance(state.get("inputs"), dict):
        return dict(state["inputs"])
    return {}


def _parents(steps: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """URN → parent URN, from every state the preview carries."""
    parents: dict[str, str] = {}
    for step in steps:
        for key in ("oldState", "newState"):
            state = step.get(key)
            if isinstance(state, dict) and isinstance(state.get("parent"), str):
                parents.setdefault(str(step.get("urn", "")), state["parent"])
    return parents


def _owner(urn: str, parents: Mapping[str, str]) -> str | None:
    """Name of the top-level wayshub component that holds ``urn`` (itself if it is one)."""
    owner: str | None = None
    current: str | None = urn
    seen: set[str] = set()
    while current and current not in seen:
        seen.add(current)
        parsed = Urn.parse(current)
        if is_component(parsed.type) and parsed.type not in GROUPS:
            owner = parsed.name
        current = parents.get(current)
    return owner


def _layer(urn: Urn) -> str:
    for type_ in urn.types:
        parts = type_.split(":")
        if len(parts) == 3 and parts[0] == "wayshub" and parts[1] in LAYERS:
            return LAYERS[parts[1]]
    if urn.type in ("pulumi:pulumi:Stack",):
        return "stack"
    if urn.type.rsplit(":", 1)[-1] in CUSTOM_LAYERS:
        return CUSTOM_LAYERS[urn.type.rsplit(":", 1)[-1]]
    return "other"


def _host(urn: Urn, layer: str, owner: str | None) -> str:
    if layer in ("names", "stack", "other"):
        return SHARED
    if "wayshub:hosts:SandboxNetwork" in urn.types or len([t for t in urn.types if t not in GROUPS]) == 1:
        return SHARED  # shared by the stack's hosts, or a top-level resource of no host (a site's own CA)
    if owner is None:
        return HOST_SUFFIX.sub("", urn.name) or urn.name
    if layer == "app":
        return owner.removesuffix("-app")
    if layer == "load balancer":
        return owner.removesuffix("-health")  # the LB's health checker (lb-health) runs on the LB
    return owner


# Resources that run nothing on a host: a host's state for `refresh` (docs/drift.md) follows the steps'
# own changes, so a row for it would only repeat them.
BOOKKEEPING = ("HostState",)


def is_bookkeeping(type_token: str) -> bool:
    return type_token.rsplit(":", 1)[-1] in BOOKKEEPING


def site_keys(preview: Mapping[str, Any]) -> list[str]:
    """The sites of ``wayshub:sites`` the preview has (changed or not), by their components; none: one site."""
    names = {Urn.parse(str(s.get("urn", ""))) for s in preview.get("steps") or [] if isinstance(s, dict)}
    keys = {site_of_component(urn.name) for urn in names if urn.type == SITE_GROUP}
    return sorted((key for key in keys if key), key=natural_key)


def _site_host(host: str, site: str) -> str:
    """A site's resources are named after it (``shop-app2-app``): the host is the server's own name."""
    return host.removeprefix(site_resource(site, "")) if site and host != SHARED else host


def changes(preview: Mapping[str, Any]) -> list[Change]:
    """The resources that change, one per URN, in a stable order: layer, host, name."""
    steps = [s for s in preview.get("steps") or [] if isinstance(s, dict)]
    keys = site_keys(preview)
    parents = _parents(steps)
    found: dict[str, Change] = {}
    for step in steps:
        op = OPS.get(str(step.get("op", "")))
        urn_text = str(step.get("urn", ""))
        urn = Urn.parse(urn_text)
        if op is None or is_component(urn.type) or urn.type.startswith("pulumi:providers:") or is_bookkeeping(urn.type):
            continue
        old, new = _inputs(step.get("oldState")), _inputs(step.get("newState"))
        known = found.get(urn_text)
        if known is not None:
            # A replacement's steps: keep one row that has both states.
            known.op = "replace" if "replace" in (op, known.op) else known.op
            known.old = known.old or old
            known.new = known.new or new
            continue
        layer = _layer(urn)
        site = site_of_resource(urn.name, keys)
        found[urn_text] = Change(
            op=op,
            urn=urn_text,
            name=urn.name,
            type=urn.type,
            layer=layer,
            host=_site_host(_host(urn, layer, _owner(urn_text, parents)), site),
            old=old,
            new=new,
            site=site,
        )
    for change in found.values():
        if change.op in ("update", "replace"):
            keys = sorted((set(change.old) | set(change.new)) - IGNORED_INPUTS)
            change.changed = [key for key in keys if change.old.get(key) != change.new.get(key)]
            if not change.changed:
                # The engine saw a change that the JSON hides: it is in a secret.
                change.changed = [key for key in keys if SECRET in (change.old.get(key), change.new.get(key))]
                change.hidden = bool(change.changed)
    return sorted(found.values(), key=_order)


def role_of(change: Change) -> tuple[int, str]:
    """Rank and description of a resource by its longest matching name suffix, or its type (unknown last)."""
    matches = [(len(suffix), rank, text) for rank, (suffix, text) in enumerate(ROLES) if change.name.endswith(suffix)]
    if matches:
        _, rank, text = max(matches)
        return rank, text
    return len(ROLES), KINDS.get(change.kind, "")


def _order(change: Change) -> tuple[Any, ...]:
    host_rank = 1 if change.host == SHARED else 0
    return (
        LAYER_ORDER.index(change.layer),
        host_rank,
        natural_key(change.host),
        role_of(change)[0],
        natural_key(change.name),
        OP_ORDER.index(change.op),
    )
