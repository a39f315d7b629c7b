"""``HostsEntry``: one stack's managed block in a hosts file, kept as a Pulumi resource.

``create``/``update`` write the block, ``delete`` removes it (and only it), ``read`` (``pulumi refresh``)
reports the block the file holds now, so a hand edit or a removed block shows as drift and the next
``up`` writes it back. Changing ``path`` or ``stack`` replaces the resource, old block first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider, UpdateResult

from components.names.hosts_file import (
    check_stack,
    normalize_entry,
    normalize_names,
    parse_block,
    read_block,
    render_block,
    replace_block,
    sort_entries,
)
from components.names.hosts_file_io import SETTING, read_text, write_in_place

UPDATE_KEYS = ("entries", "block")
REPLACE_KEYS = ("path", "stack")


def _entries(props: dict[str, Any]) -> list[tuple[str, str]]:
    return [(str(ip), str(names)) for ip, names in props.get("entries") or []]


def _as_json(entries: Sequence[tuple[str, str]]) -> list[list[str]]:
    return [[ip, names] for ip, names in entries]


def _in_file(path: Path, action: str, error: ValueError) -> ValueError:
    return ValueError(f"{SETTING}: cannot {action} in {path}: {error}")


class HostsEntryProvider(ResourceProvider):
    """Edits the file where ``pulumi`` runs; props and outputs are plain JSON."""

    def _write(self, props: dict[str, Any]) -> dict[str, Any]:
        path, stack = Path(props["path"]), str(props["stack"])
        entries = sort_entries(_entries(props))
        block = render_block(stack, entries)
        old = read_text(path) or ""
        try:
            new = replace_block(old, stack, block)
        except ValueError as err:
            raise _in_file(path, "update the block", err) from None
        if new != old:
            write_in_place(path, new)
        return {"path": str(path), "stack": stack, "entries": _as_json(entries), "block": block}

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = self._write(props)
        return CreateResult(id_=f"{outs['stack']}:{outs['path']}", outs=outs)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=self._write(news))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        path, stack = Path(props["path"]), str(props["stack"])
        text = read_text(path)
        if text is None:
            return
        try:
            if read_block(text, stack) is None:
                return
            new = replace_block(text, stack, None)
        except ValueError as err:
            raise _in_file(path, "remove the block", err) from None
        write_in_place(path, new)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """What the file holds now: ``block`` is None (and ``entries`` empty) if our block is gone."""
        path, stack = Path(props["path"]), str(props["stack"])
        text = read_text(path)
        try:
            block = None if text is None else read_block(text, stack)
        except ValueError as err:
            raise _in_file(path, "read the block", err) from None
        entries = _as_json(parse_block(block)) if block is not None else []
        return ReadResult(id_=id_, outs={"path": str(path), "stack": stack, "entries": entries, "block": block})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [key for key in UPDATE_KEYS + REPLACE_KEYS if olds.get(key) != news.get(key)]
        replaces = [key for key in REPLACE_KEYS if key in changed]
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=True)


@dataclass(frozen=True)
class HostsEntryArgs:
    """``entries`` are ``(ip, names)``; ``names`` is one or more host names separated by spaces."""

    path: str
    stack: str
    entries: Sequence[tuple[pulumi.Input[str], str]]


class HostsEntry(Resource, module="wayshub", name="HostsEntry"):
    """The block of ``args.stack`` in ``args.path``; entries are sorted by ``(names, ip)``."""

    path: pulumi.Output[str]
    stack: pulumi.Output[str]
    entries: pulumi.Output[list[list[str]]]
    block: pulumi.Output[str]

    def __init__(self, name: str, args: HostsEntryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        # Refuse what is already known now (a bad stack, names, or a plain-text address) before the engine starts.
        check_stack(args.stack)
        for ip, host_names in args.entries:
            if isinstance(ip, str):
                normalize_entry(ip, host_names)
            else:
                normalize_names(host_names)
        names = [names for _, names in args.entries]
        ips = pulumi.Output.all(*[ip for ip, _ in args.entries])
        entries = ips.apply(lambda resolved: sort_entries(zip((str(ip) for ip in resolved), names, strict=True)))
        props: dict[str, Any] = {
            "path": args.path,
            "stack": args.stack,
            "entries": entries.apply(_as_json),
            # An input too, so `pulumi preview --diff` shows the lines the file will get.
            "block": entries.apply(lambda sorted_entries: render_block(args.stack, sorted_entries)),
        }
        super().__init__(HostsEntryProvider(), name, props, opts)
