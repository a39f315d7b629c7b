"""Turn ``pulumi preview --diff --json`` into the pull-request comment a reviewer reads.

    pulumi preview --diff --json --stack staging > preview.json
    scripts/preview-summary --stack staging preview.json > comment.md

The comment says, per stack, which hosts, files and services change: a table of the resources to
create/update/replace/delete grouped by layer (hosts, app, load balancer, names) and host; the hosts that
roll to a new release and why; and a unified diff of every rendered file that changes (the nginx site, the
hosts block, and each release's env file, systemd unit and start script: the env file is the release
resource's stdin, the unit and start script are variables its deploy command assigns). Command strings are
never shown: they are long, and the rendered files they install say the same thing readably.

Secrets: every value Pulumi marks secret (``"[secret]"``, or an object carrying Pulumi's secret
signature, as ``--show-secrets`` exports have) is replaced by ``[secret]`` before anything is rendered,
and text that looks like a private key is blanked, so the comment never holds a secret.

The comment stays under ``--max-chars`` (default 60,000; GitHub rejects comments over 65,536): a longer
one is cut at a line, open code blocks are closed, and a note points to the full output.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import shlex
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

DEFAULT_MAX_CHARS = 60_000
MIN_MAX_CHARS = 1_000
SECRET = "[secret]"  # noqa: S105 (what a secret is shown as, not a secret)
# Pulumi's marker for a secret value in JSON (sdk/go/common/resource/sig: SecretSig) and for a value
# known only after `up` (UnknownStringValue).
SECRET_SIGNATURE = "4dabf18193072939515e22adb298388d"  # noqa: S105 (a public constant)
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)", re.S)

# Pulumi's colour tags and terminal escapes, stripped from diagnostics; and how much of each is kept.
COLOR_CODES = re.compile(r"<\{%[^%]*%\}>|\x1b\[[0-9;]*m")
MESSAGE_CHARS = 3000

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
OP_SYMBOLS = {"create": "+", "update": "~", "replace": "+-", "delete": "-", "import": "=", "read": ">", "refresh": "~"}
OP_VERBS = {"create": "to create", "update": "to update", "replace": "to replace", "delete": "to delete"}

# Layers, in the order the program wires them (README "Architecture"), keyed by component module.
LAYERS = {"hosts": "hosts", "app": "app", "load_balancer": "load balancer", "names": "names"}
LAYER_ORDER = ("hosts", "app", "load balancer", "names", "stack", "other")
# Top-level custom resources that belong to a layer without a component around them.
CUSTOM_LAYERS = {"HostsEntry": "names", "SelfSignedTls": "load balancer"}
SHARED = "—"

# Resources whose ``stdin`` (or ``block``) is a file they write, by name suffix: what the file is, the
# service that picks the change up, and whether a line diff helps a reader (not for PEM text).
FILES: tuple[tuple[str, str, str, bool], ...] = (
    ("-site", "nginx site", "nginx reloads after `nginx -t`", True),
    ("-app-release", "env file", "", True),  # [secret] when wayshub:appSecrets is set
    ("-tls-certificate", "TLS certificate", "", False),
    ("-tls-key", "TLS private key", "", False),
    ("-health-script", "backend health check script", "", True),
    ("-health-unit", "backend health check unit", "", True),
    ("-health-service", "backend health check settings", "the checker restarts", True),
)
HOSTS_BLOCK = ("hosts block", "", True)
RELEASE_SUFFIX = "-app-release"
# ``rerun_on`` of ``<host>-app-release`` (components/app/node_app.py): what each position stands for.
RELEASE_CAUSES = ("release", "env file")
# Files the release's deploy command carries as ``NAME='text'`` assignments before host/deploy.sh
# (components/app/node_app.py ``deploy_command``): the variable and what the file is.
RELEASE_FILES = (("UNIT_TEXT", "systemd unit"), ("START_TEXT", "start script"))
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
    ("-app-release", "release: make, switch, restart, health check"),
    ("-nginx", "nginx install"),
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
HOST_SUFFIX = re.compile(r"-(?:app(?:-[a-z]+)*|container|probe|survey|nginx|site|tls-[a-z]+|health-[a-z]+)$")


def scrub(value: Any) -> Any:
    """``value`` with every secret replaced by ``[secret]`` and private-key text blanked."""
    if isinstance(value, dict):
        if SECRET_SIGNATURE in value:
            return SECRET
        return {key: scrub(item) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub(item) for item in value]
    if isinstance(value, str):
        return PRIVATE_KEY.sub("[private key hidden]", value)
    return value


@dataclass(frozen=True)
class Urn:
    """``urn:pulumi:<stack>::<project>::<parent types $ type>::<name>``."""

    types: tuple[str, ...]
    name: str

    @classmethod
    def parse(cls, urn: str) -> Urn:
        parts = urn.split("::", 3)
        if len(parts) != 4:
            return cls((), urn)
        return cls(tuple(parts[2].split("$")), parts[3])

    @property
    def type(self) -> str:
        return self.types[-1] if self.types else ""


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
        if is_component(parsed.type):
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
    if "wayshub:hosts:SandboxNetwork" in urn.types or len(urn.types) == 1:
        return SHARED  # shared by the stack's hosts, or a top-level resource of no host
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


def changes(preview: Mapping[str, Any]) -> list[Change]:
    """The resources that change, one per URN, in a stable order: layer, host, name."""
    steps = [s for s in preview.get("steps") or [] if isinstance(s, dict)]
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
        found[urn_text] = Change(
            op=op,
            urn=urn_text,
            name=urn.name,
            type=urn.type,
            layer=layer,
            host=_host(urn, layer, _owner(urn_text, parents)),
            old=old,
            new=new,
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


def _role(change: Change) -> tuple[int, str]:
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
        _role(change)[0],
        natural_key(change.name),
        OP_ORDER.index(change.op),
    )


# ---------------------------------------------------------------- rendered files


def deploy_variables(command: Any) -> dict[str, str] | None:
    """The ``NAME=value`` assignments that open a release's deploy command (``sudo -n bash -c
    '<assignments><host/deploy.sh>'``), or None when ``command`` is not such a command (or not known)."""
    if not isinstance(command, str) or command in (SECRET, UNKNOWN):
        return None
    try:
        argv = shlex.split(command)
    except ValueError:
        return None
    if len(argv) < 2 or argv[-2] != "-c":
        return None
    lexer = shlex.shlex(argv[-1], posix=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    found: dict[str, str] = {}
    try:
        for token in iter(lexer.get_token, None):
            name, equals, value = token.partition("=")
            if not (equals and re.fullmatch(r"[A-Z][A-Z0-9_]*", name)):
                break  # the script itself begins
            found[name] = value
    except ValueError:  # unbalanced quotes in the script after the assignments
        pass
    return found or None


def deploy_variable(command: Any, name: str) -> Any:
    """One variable of a deploy command; ``[secret]`` or unknown as the command is, None when absent."""
    if command in (SECRET, UNKNOWN):
        return command
    return (deploy_variables(command) or {}).get(name)


@dataclass(frozen=True)
class RenderedFile:
    change: Change
    key: str  # the input holding the text
    what: str  # "nginx site", "systemd unit", ...
    service: str
    diffable: bool
    variable: str | None = None  # the text is this variable of the command in ``key``

    def _text(self, inputs: Mapping[str, Any]) -> Any:
        value = inputs.get(self.key)
        return value if self.variable is None else deploy_variable(value, self.variable)

    @property
    def old(self) -> Any:
        return self._text(self.change.old)

    @property
    def new(self) -> Any:
        return self._text(self.change.new)

    @property
    def changes(self) -> bool:
        """Its text changes in place (a new or removed file has no diff)."""
        in_place = self.change.op in ("update", "replace") and self.key in self.change.changed
        # One command carries several files: only those whose own text differs (a whole input that is
        # [secret] on both sides may still have changed: the engine says so, the JSON cannot show it).
        return in_place and (self.variable is None or self.old != self.new)

    @property
    def title(self) -> str:
        where = "" if self.change.host == SHARED else f" on {self.change.host}"
        return f"{self.what}{where} (`{self.change.name}`)"


def rendered_file(change: Change) -> RenderedFile | None:
    """The file a resource writes, when its text is an input (stdin, or a hosts block)."""
    if change.kind == "HostsEntry":
        return RenderedFile(change, "block", *HOSTS_BLOCK)
    if "stdin" not in change.old and "stdin" not in change.new:
        return None
    for suffix, what, service, diffable in FILES:
        if change.name.endswith(suffix):
            return RenderedFile(change, "stdin", what, service, diffable)
    return RenderedFile(change, "stdin", "stdin", "", True)


def rendered_files(change: Change) -> list[RenderedFile]:
    """Every file a resource writes: :func:`rendered_file`, and for a release the unit and start script its
    deploy command carries (when either state's command has them, or is not known yet)."""
    files = [file for file in [rendered_file(change)] if file is not None]
    if change.name.endswith(RELEASE_SUFFIX):
        for variable, what in RELEASE_FILES:
            file = RenderedFile(change, "create", what, "", True, variable)
            if file.old is not None or file.new is not None:
                files.append(file)
    return files


def _fence(text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _describe(value: Any) -> str | None:
    """Why a file's text cannot be shown, or None when it can."""
    if value == SECRET:
        return "[secret]: content hidden"
    if value == UNKNOWN:
        return "content known after `pulumi up`"
    if value is None:
        return "no content"
    if not isinstance(value, str):
        return "not text"
    return None


def file_diff(file: RenderedFile) -> str:
    """A unified diff in a ``diff`` block, or one line saying why there is none."""
    why = _describe(file.old) or _describe(file.new)
    if why:
        return f"{file.title}: {why}.\n"
    if not file.diffable:
        return f"{file.title}: changes (not shown line by line).\n"
    old, new = str(file.old), str(file.new)
    label = file.change.name if file.variable is None else f"{file.change.name} {file.what}"
    lines = list(
        difflib.unified_diff(old.splitlines(), new.splitlines(), f"{label} (now)", f"{label} (after up)", lineterm="")
    )
    text = "\n".join(lines)
    fence = _fence(text)
    return f"{file.title}:\n\n{fence}diff\n{text}\n{fence}\n"


def _line_count(value: Any) -> str:
    return _describe(value) or f"{len(str(value).splitlines())} lines"


# ---------------------------------------------------------------- the comment


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
    role = file.what if file else _role(change)[1]
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


def _table(rows: Sequence[Change]) -> list[str]:
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


def _diagnostics(preview: Mapping[str, Any]) -> list[str]:
    errors = [
        d for d in preview.get("diagnostics") or [] if isinstance(d, dict) and d.get("severity") in ("error", None)
    ]
    if not errors:
        return []
    lines = ["#### Errors", ""]
    for diag in errors:
        where = Urn.parse(str(diag["urn"])).name if diag.get("urn") else "the program"
        message = COLOR_CODES.sub("", str(diag.get("message", ""))).strip()[-MESSAGE_CHARS:]
        fence = _fence(message)
        lines += [f"`{where}`:", "", fence, message, fence, ""]
    return lines


def render(
    preview: Mapping[str, Any],
    stack: str,
    marker: str | None = None,
    commit: str | None = None,
    details_url: str | None = None,
) -> str:
    """The whole comment, without the size limit (see :func:`limit`)."""
    preview = scrub(preview)
    rows = changes(preview)
    errors = _diagnostics(preview)
    lines = [marker] if marker else []
    status = "failed" if errors else "preview"
    lines += [f"### `{stack}`: Pulumi {status}", ""]
    about = []
    if commit:
        about.append(f"commit `{commit[:12]}`")
    if details_url:
        about.append(f"[full output]({details_url})")
    if about:
        lines += [" · ".join(about), ""]
    lines += errors
    if not rows:
        if not errors:
            lines.append("**No changes**: `pulumi up` would leave every host as it is.")
        return "\n".join(lines).rstrip() + "\n"
    head = headline(preview, rows)
    if head:
        lines += [head, ""]
    glance = at_a_glance(rows)
    if glance:
        lines += [*glance, ""]
    lines += [*_table(rows), ""]
    files = [f for r in rows for f in rendered_files(r)]
    diffs = [f for f in files if f.changes]
    if diffs:
        lines += ["#### Rendered files", ""]
        for file in diffs:
            lines.append(file_diff(file))
    written = [f for f in files if f.change.op in ("create", "delete")]
    if written:
        lines += ["#### Files written or removed (no diff)", ""]
        for file in written:
            verb = "new" if file.change.op == "create" else "removed"
            lines.append(f"- {file.title}: {verb}, {_line_count(file.new if verb == 'new' else file.old)}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def limit(text: str, max_chars: int, details_url: str | None = None) -> str:
    """``text`` cut at a line so that it and the note stay within ``max_chars``; code blocks closed."""
    if max_chars <= 0 or len(text) <= max_chars:
        return text
    where = f" The full output: {details_url}" if details_url else " The full output is in the job's artifacts."

    def note_for(shown: int) -> str:
        return (
            f"\n> **Truncated:** the comment shows {shown:,} of {len(text):,} characters "
            f"(GitHub's limit is 65,536).{where}\n"
        )

    budget = max_chars - len(note_for(len(text))) - 16  # room for closing a code block
    if budget <= 0:
        raise ValueError(f"--max-chars {max_chars} leaves no room for the truncation note")
    kept: list[str] = []
    size = 0
    fence: str | None = None
    for line in text.splitlines(keepends=True):
        closing = len(fence) + 1 if fence else 0
        if size + len(line) + closing > budget:
            break
        kept.append(line)
        size += len(line)
        match = re.match(r"^(`{3,})", line)
        if match:
            if fence is None:
                fence = match.group(1)
            elif line.strip() == fence:
                fence = None
    if fence:
        kept.append(fence + "\n")
    body = "".join(kept)
    return body + note_for(len(body))


def summarize(
    preview: Mapping[str, Any],
    stack: str,
    max_chars: int = DEFAULT_MAX_CHARS,
    marker: str | None = None,
    commit: str | None = None,
    details_url: str | None = None,
) -> str:
    return limit(render(preview, stack, marker, commit, details_url), max_chars, details_url)


def default_marker(stack: str) -> str:
    return f"<!-- wayshub-preview:{stack} -->"


def read_preview(source: TextIO) -> dict[str, Any]:
    text = source.read()
    if not text.strip():
        raise ValueError("empty input: expected the output of `pulumi preview --json`")
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object with 'steps' (the output of `pulumi preview --json`)")
    return data


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="preview-summary", description="Markdown for a pull request from `pulumi preview --diff --json`."
    )
    parser.add_argument("file", nargs="?", help="the preview JSON (default: standard input)")
    parser.add_argument("--stack", required=True, help="the stack the preview is of (heading and marker)")
    parser.add_argument(
        "--max-chars", type=int, default=DEFAULT_MAX_CHARS, help="cut the comment to this size; 0: no limit"
    )
    parser.add_argument(
        "--marker",
        default=None,
        help="hidden first line that finds the comment again (default: <!-- wayshub-preview:STACK -->; '' for none)",
    )
    parser.add_argument("--commit", help="the commit previewed, shown in the comment")
    parser.add_argument("--details-url", help="where the full output is (the run's artifact), linked when cut")
    args = parser.parse_args(argv)
    if 0 < args.max_chars < MIN_MAX_CHARS:
        parser.error(f"--max-chars must be 0 (no limit) or at least {MIN_MAX_CHARS}")
    try:
        if args.file and args.file != "-":
            with open(args.file, encoding="utf-8") as source:
                preview = read_preview(source)
        else:
            preview = read_preview(sys.stdin)
    except (OSError, ValueError) as err:  # json.JSONDecodeError is a ValueError
        print(f"preview-summary: {err}", file=sys.stderr)
        return 2
    marker = default_marker(args.stack) if args.marker is None else args.marker
    sys.stdout.write(summarize(preview, args.stack, args.max_chars, marker or None, args.commit, args.details_url))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
