"""``DnsRecordSet``: the A/AAAA records of one name on your DNS server, kept as a Pulumi resource.

Writes are RFC 2136 dynamic updates signed with the stack's TSIG key (``dns_addresses``), each with
prerequisites, so nothing this stack does not own is overwritten: ``create`` stops with one line naming
the records a name already has (unless ``dns.adopt``), ``update`` applies only if the name still holds
what we wrote, ``delete`` removes our addresses and nothing else. ``read`` (``pulumi refresh``) asks the
server what the name holds now, so an edit made elsewhere shows as drift and the next ``up`` restores it.

The TSIG secret is an input (the provider needs it in every step, ``delete`` included) and a secret
output; it is never in a message. ``records`` - the zone-file lines - is an input too, so
``pulumi preview --diff`` shows the lines that change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider, UpdateResult

from components.config import DnsConfig
from components.names.dns_addresses import RecordSet, canonical, create, delete, read, render, replace
from components.names.dns_update import Server

TSIG_PROP = "tsigSecret"
UPDATE_KEYS = ("addresses", "ttl", "records", "keyName", "algorithm", TSIG_PROP, "adopt", "timeoutSeconds")
REPLACE_KEYS = ("server", "port", "zone", "name")


def _server(props: dict[str, Any]) -> Server:
    return Server(
        address=str(props["server"]),
        port=int(props["port"]),
        zone=str(props["zone"]),
        key_name=str(props["keyName"]),
        algorithm=str(props["algorithm"]),
        secret=str(props[TSIG_PROP]),
        timeout=float(props["timeoutSeconds"]),
    )


def _records(props: dict[str, Any]) -> RecordSet:
    return RecordSet(canonical(props.get("addresses") or []), int(props.get("ttl") or 0))


def _outs(props: dict[str, Any], records: RecordSet) -> dict[str, Any]:
    name = str(props["name"])
    return {
        **{key: props[key] for key in (*REPLACE_KEYS, "keyName", "algorithm", TSIG_PROP, "adopt", "timeoutSeconds")},
        "addresses": list(records.addresses),
        "ttl": records.ttl,
        "records": render(name, records),
    }


class DnsRecordSetProvider(ResourceProvider):
    """Talks to the DNS server from where ``pulumi`` runs; props and outputs are plain JSON."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        records = _records(props)
        create(_server(props), str(props["name"]), records, adopt=bool(props.get("adopt")))
        return CreateResult(id_=f"{props['name']}@{props['server']}:{int(props['port'])}", outs=_outs(props, records))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        old, new = _records(olds), _records(news)
        if old != new:
            replace(_server(news), str(news["name"]), old, new)
        else:
            # Only the key (or adopt, or the timeout) changed: a signed read proves the new key works
            # now, not at the next record change or at delete.
            read(_server(news), str(news["name"]))
        return UpdateResult(outs=_outs(news, new))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        delete(_server(props), str(props["name"]), _records(props))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """What the server holds now under our name (empty ``addresses`` if our records are gone).

        Returned as the inputs too, so after a refresh ``preview --diff`` shows the drift as record lines.
        """
        outs = _outs(props, read(_server(props), str(props["name"])))
        return ReadResult(id_=id_, outs=outs, inputs=dict(outs))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [key for key in UPDATE_KEYS + REPLACE_KEYS if olds.get(key) != news.get(key)]
        replaces = [key for key in REPLACE_KEYS if key in changed]
        # The new records first, then the old ones go: a new server that fails leaves the old records serving.
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=False)


@dataclass(frozen=True)
class DnsRecordSetArgs:
    """``name`` (in ``settings.zone``) points at ``addresses`` (IPv4 -> A, IPv6 -> AAAA)."""

    settings: DnsConfig
    name: str
    addresses: Sequence[pulumi.Input[str]]
    tsig_secret: pulumi.Input[str]


class DnsRecordSet(Resource, module="wayshub", name="DnsRecordSet"):
    """The A/AAAA records of ``args.name``; ``tsigSecret`` stays secret in state and outputs."""

    name: pulumi.Output[str]
    addresses: pulumi.Output[list[str]]
    ttl: pulumi.Output[int]
    records: pulumi.Output[str]

    def __init__(self, name: str, args: DnsRecordSetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        settings = args.settings
        if not args.addresses:
            raise ValueError(f"DNS records for {args.name}: no addresses to point at")
        for address in args.addresses:
            if isinstance(address, str):
                canonical([address])  # a plain-text address is checked now, before the engine starts
        addresses = pulumi.Output.all(*args.addresses).apply(lambda resolved: list(canonical(map(str, resolved))))
        props: dict[str, Any] = {
            "server": settings.server,
            "port": settings.port,
            "zone": settings.zone,
            "name": args.name,
            "keyName": settings.key_name,
            "algorithm": settings.algorithm,
            TSIG_PROP: pulumi.Output.secret(args.tsig_secret),
            "adopt": settings.adopt,
            "timeoutSeconds": settings.timeout_seconds,
            "addresses": addresses,
            "ttl": settings.ttl,
            # An input too, so `pulumi preview --diff` shows the zone-file lines that change.
            "records": addresses.apply(
                lambda sorted_addresses: render(args.name, RecordSet(tuple(sorted_addresses), settings.ttl))
            ),
        }
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=[TSIG_PROP]))
        super().__init__(DnsRecordSetProvider(), name, props, opts)
