"""The files a changing resource writes (the nginx site, env file, systemd unit, start script, hosts
block, ...): their text before and after, read from the resource's inputs or its deploy command, and the
unified diff a reviewer reads."""

from __future__ import annotations

import difflib
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .engine import SECRET, UNKNOWN
from .steps import SHARED, Change

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
# Files the release's deploy command carries as ``NAME='text'`` assignments before host/deploy.sh
# (components/app/host_steps.py ``deploy_command``): the variable and what the file is.
RELEASE_FILES = (("UNIT_TEXT", "systemd unit"), ("START_TEXT", "start script"), ("TASK_TEXT", "release task script"))


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


def code_fence(text: str) -> str:
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
    fence = code_fence(text)
    return f"{file.title}:\n\n{fence}diff\n{text}\n{fence}\n"


def line_count(value: Any) -> str:
    return _describe(value) or f"{len(str(value).splitlines())} lines"
