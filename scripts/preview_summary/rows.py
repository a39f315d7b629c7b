"""What the comment says about the changes: each row's words (why a host rolls, what a resource does to
its host), the headline count, the table, and the at-a-glance list of hosts, files and services."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .engine import SECRET, UNKNOWN
from .files import RELEASE_FILES, RELEASE_SUFFIX, deploy_variables, rendered_file, rendered_files
from .steps import SHARED, Change, natural_key, role_of

# Pulumi's symbol for each op (the table) and its verb (the headline).
OP_SYMBOLS = {"create": "+", "update": "~", "replace": "+-", "delete": "-", "import": "=", "read": ">", "refresh": "~"}
OP_VERBS = {"create": "to create", "update": "to update", "replace": "to replace", "delete": "to delete"}
# ``rerun_on`` of ``<host>-app-release`` (components/app/node_app.py): what each position stands for.
RELEASE_CAUSES = ("release", "env file")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _item(value: Any, index: int) -> Any:
    return value[index] if isinstance(value, list) and index < len(value) else None


def _release_causes(change: Change) -> list[str]:
    """Why a host rolls: from the release's ``rerun_on`` ([release id, env file digest]) and its deploy
    command (the unit and start script it carries; the release id hashes them, so they change with it)."""
    old, new = change.old.get("rerun_on"), change.new.get("rerun_on")
    if (SECRET in (old, new) and old != new) or change.hidden:
        return ["a secret input changed"]
    old_vars = deploy_variables(change.old.get("create")) or {}
    new_vars = deploy_variables(change.new.get("create")) or {}
    causes = []
    for index, label in enumerate(RELEASE_CAUSES):
        if isinstance(old, list) and isinstance(new, list):
            before, after = _item(old, index), _item(new, index)
        elif label == "release":  # rerun_on is all [secret] (appSecrets): the command names the release
            before, after = old_vars.get("RID"), new_vars.get("RID")
        else:
            continue
        if before == after:
            continue
        if label == "release" and isinstance(before, str) and isinstance(after, str) and SECRET not in (before, after):
            shown = "(known after `pulumi up`)" if after == UNKNOWN else f"`{after}`"
            causes.append(f"release `{before}` → {shown}")
        else:
            causes.append(f"{label} changed")
    if "create" in change.changed:
        if old_vars and new_vars:
            causes += [f"{what} changed" for name, what in RELEASE_FILES if old_vars.get(name) != new_vars.get(name)]
        if not causes:  # the same release, env, unit and start script: host/deploy.sh or its settings
            known = change.new.get("create") != UNKNOWN
            causes.append("deploy script changed" if known else "deploy script may change (known after `pulumi up`)")
    return causes


def what_changes(change: Change) -> str:
    """The table's last column: what this resource does to its host, in words."""
    if change.name.endswith(RELEASE_SUFFIX):
        if change.op == "create":
            return "first deploy: make the release, switch to it, start, health check"
        if change.op == "delete":
            return "stops serving"
        causes = _release_causes(change) or [f"`{key}` changed" for key in change.changed]
        return "roll: " + "; ".join(causes) + " (restart, health check)"
    file = rendered_file(change)
    role = file.what if file else role_of(change)[1]
    if change.hidden:
        hidden = "a secret changed (" + " or ".join(f"`{key}`" for key in change.changed) + ")"
        return f"{role}: {hidden}" if role else hidden
    if file is not None and change.op in ("create", "delete"):
        verb = "writes" if change.op == "create" else "removes"
        return f"{verb} the {file.what}"
    if file is not None and change.op in ("update", "replace"):
        others = [key for key in change.changed if key != file.key]
        shown = "[secret]" if SECRET in (file.old, file.new) else "diff below" if file.diffable else "see below"
        text = f"{file.what} changes ({shown})" if file.changes else ""
        return "; ".join(part for part in [text, *[f"`{key}` changed" for key in others]] if part)
    if change.kind in ("CopyFileToRemote", "CopyToRemote"):  # built-in / pulumi-command backend
        target = next(
            (v.get(k) for v in (change.new, change.old) for k in ("remote_path", "remotePath") if v.get(k)), None
        )
        if isinstance(target, str) and target not in (SECRET, UNKNOWN):
            return f"uploads `{Path(target).name}`"
    if change.op in ("update", "replace") and change.changed:
        changed = ", ".join(f"`{key}`" for key in change.changed) + " changed"
        return f"{role}: {changed}" if role else changed
    return role


def headline(preview: Mapping[str, Any], rows: Sequence[Change]) -> str:
    summary = preview.get("changeSummary")
    counts: dict[str, int] = {}
    if isinstance(summary, dict):
        counts = {str(op): int(n) for op, n in summary.items() if isinstance(n, int)}
    else:
        for row in rows:
            counts[row.op] = counts.get(row.op, 0) + 1
    parts = [f"{counts[op]} {verb}" for op, verb in OP_VERBS.items() if counts.get(op)]
    parts += [f"{n} {op}" for op, n in sorted(counts.items()) if op not in OP_VERBS and op != "same" and n]
    same = f", {counts['same']} unchanged" if counts.get("same") else ""
    return f"**{', '.join(parts)}**{same} (engine count, components included)" if parts else ""


def table(rows: Sequence[Change]) -> list[str]:
    lines = ["| layer | host | resource | change | what |", "|---|---|---|---|---|"]
    last: tuple[str, str] = ("", "")
    for row in rows:
        layer = row.layer if row.layer != last[0] else ""
        host = row.host if (row.layer, row.host) != last else ""
        last = (row.layer, row.host)
        op = f"`{OP_SYMBOLS.get(row.op, '?')}` {row.op}"
        lines.append(f"| {_cell(layer)} | {_cell(host)} | `{_cell(row.name)}` | {op} | {_cell(what_changes(row))} |")
    return lines


def _hosts_list(hosts: Iterable[str]) -> str:
    return ", ".join(f"**{host}**" for host in sorted(set(hosts), key=natural_key))


def at_a_glance(rows: Sequence[Change]) -> list[str]:
    """New and removed hosts, the hosts that roll, files and services that change."""
    lines: list[str] = []
    machines = [r for r in rows if r.layer == "hosts" and r.host != SHARED]
    new_hosts = [r.host for r in machines if r.op == "create"]
    gone = [r.host for r in machines if r.op == "delete"]
    if new_hosts:
        lines.append(f"- **New hosts:** {_hosts_list(new_hosts)}")
    if gone:
        lines.append(f"- **Removed hosts:** {_hosts_list(gone)}")
    rolls = [r for r in rows if r.name.endswith(RELEASE_SUFFIX) and r.op in ("update", "replace")]
    if rolls:
        causes = sorted({"; ".join(_release_causes(r)) or "inputs changed" for r in rolls})
        lines.append(
            f"- **Hosts that roll** (one batch at a time, each gated on its health check): "
            f"{_hosts_list(r.host for r in rolls)} ({' / '.join(causes)})"
        )
    first = [r for r in rows if r.name.endswith(RELEASE_SUFFIX) and r.op == "create"]
    if first:
        lines.append(f"- **First deploy of the app:** {_hosts_list(r.host for r in first)}")
    files = [f for r in rows for f in rendered_files(r)]
    changed_files = [f for f in files if f.changes]
    if changed_files:
        lines.append("- **Files that change:** " + ", ".join(f.title for f in changed_files))
    services = sorted({f"**{f.change.host}**: {f.service}" for f in changed_files if f.service})
    if rolls:
        services.append(f"{_hosts_list(r.host for r in rolls)}: the app restarts, one batch at a time")
    if services:
        lines.append("- **Services:** " + "; ".join(services))
    return lines
