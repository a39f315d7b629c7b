"""Shared lifecycle of command-style dynamic resources: create/update/delete run commands.

Why dynamic providers: the pulumi-command plugin could not be built from the Go modules reachable on our
build machines (the tests now build it from a vendored source, scripts/ensure-plugins), so these resources
(the built-in backend, the default: docs/commands.md) run commands themselves,
in the Python dynamic-provider process the Pulumi engine starts. They keep pulumi-command's model:
``create`` runs on create, ``update`` (or ``create``) on a change of inputs, ``delete`` on delete,
and a change of ``triggers`` replaces the resource.
"""

from __future__ import annotations

import functools
import sys
import traceback
from abc import abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult

from components.shell.ssh import CommandResult

# Inputs whose change re-runs the resource in place; everything else is bookkeeping.
# ``rerun_on`` holds values (e.g. content hashes) whose change re-runs ``update`` without a replace.
UPDATE_KEYS = ("create", "update", "delete", "stdin", "environment", "log_output", "rerun_on")
REPLACE_KEYS = ("triggers",)
OUTPUT_TAIL_CHARS = 4000
# ``rerun_on`` as values, or as one Output of the whole list (when how many values there are is known
# only once other resources ran: a host's repair counts, components/shell/host_state.py).
RerunOn = Sequence[pulumi.Input[object]] | pulumi.Output[Sequence[object]]


def rerun_list(values: RerunOn) -> Any:
    """What a resource stores: the list, or the Output of it."""
    return values.apply(list) if isinstance(values, pulumi.Output) else list(values)


@dataclass(frozen=True, kw_only=True)
class CommandArgs:
    """``create`` runs on create, ``update`` (default: ``create``) when inputs change, ``delete`` on delete;
    a change of ``triggers`` replaces, a change of ``rerun_on`` re-runs ``update``."""

    create: pulumi.Input[str]
    update: pulumi.Input[str] | None = None
    delete: pulumi.Input[str] | None = None
    stdin: pulumi.Input[str] | None = None
    triggers: Sequence[pulumi.Input[object]] = ()
    rerun_on: RerunOn = ()
    log_output: bool = True
    delete_before_replace: bool = False


def command_props(name: str, args: CommandArgs) -> dict[str, Any]:
    """The inputs every command resource stores (plus ``stdout``/``stderr`` outputs)."""
    return {
        "name": name,
        "create": args.create,
        "update": args.update,
        "delete": args.delete,
        "stdin": args.stdin,
        "triggers": list(args.triggers),
        "rerun_on": rerun_list(args.rerun_on),
        "log_output": args.log_output,
        "delete_before_replace": args.delete_before_replace,
        "stdout": None,
        "stderr": None,
    }


def _normal(key: str, value: Any) -> Any:
    """A list-valued input nobody gave (``None``, as stacks from before it existed hold) equals ``[]``."""
    return [] if key in ("rerun_on", "triggers") and value is None else value


class CommandFailed(Exception):
    """A command exited non-zero; the message carries its output unless logging is off."""


# Python's own knob for how many frames a formatted traceback shows (``sys.tracebacklimit``). The dynamic
# provider server reports every failure as ``traceback.format_exc()``; at 0 that is one line, the
# exception's own, with no "Traceback (most recent call last):" and no frames.
def _in_provider_server() -> bool:
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    return getattr(spec, "name", "") == "pulumi.dynamic.__main__"


class OperationFailed(Exception):
    """What the user reads when a step fails on a host: one line (plus the output tail on the next lines).

    Shown by its message alone: the class poses as a builtin, so ``format_exc`` prints no module path."""

    __module__ = "builtins"


def clean_failure(step: str, err: BaseException) -> OperationFailed:
    """Our one line for any failure of ``step``; unexpected errors keep their type and innermost location."""
    if isinstance(err, OperationFailed):
        return err
    if _in_provider_server():
        sys.tracebacklimit = 0
    if isinstance(err, (CommandFailed, ConnectionError, FileNotFoundError, ValueError)) or type(err).__name__ in (
        "HostKeyMismatch",
        "HostUnusable",
    ):
        return OperationFailed(str(err))
    frames = traceback.extract_tb(err.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return OperationFailed(f"{step}: {type(err).__name__}: {err}{where}")


def describe_failure(what: str, result: CommandResult, log_output: bool) -> str:
    if not log_output:
        return f"{what} failed with exit code {result.exit_code} (output hidden: the command handles secrets)"
    return f"{what} failed with exit code {result.exit_code}:\n{output_tail(result.stderr.strip() or result.stdout.strip())}"


def output_tail(text: str) -> str:
    """The output's end, at most :data:`OUTPUT_TAIL_CHARS`; a longer one keeps its first line too (where
    our host scripts say what went wrong, before the journal they add)."""
    if len(text) <= OUTPUT_TAIL_CHARS:
        return text
    first = text.splitlines()[0][:300]
    return f"{first}\n[...]\n{text[-(OUTPUT_TAIL_CHARS - len(first)) :]}"


def _clean_errors(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method`` raising only :class:`OperationFailed` (see :func:`clean_failure`)."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any) -> Any:
        try:
            return method(self, *args)
        except Exception as err:
            raise clean_failure(f"{self.kind} {method.__name__}", err) from None

    return wrapper


class CommandProvider(ResourceProvider):
    """Runs ``create``/``update``/``delete`` through :meth:`execute` (local shell or SSH).

    Every operation a subclass defines fails with one :class:`OperationFailed` line, never a traceback.
    """

    kind = "command"
    # The serialized provider (kept in the state with every resource) holds no secret: connections and
    # commands are resource inputs, not provider fields. Secret only when it captured a secret Output.
    serialize_as_secret_always = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in ("create", "update", "delete", "diff"):
            if name in cls.__dict__:
                setattr(cls, name, _clean_errors(cls.__dict__[name]))

    @abstractmethod
    def execute(self, props: dict[str, Any], command: str) -> CommandResult:
        """Run ``command`` where this resource runs commands, feeding ``props['stdin']``."""

    def identity(self, props: dict[str, Any]) -> str:
        return self.kind

    def _run(self, props: dict[str, Any], key: str) -> dict[str, Any]:
        command = props.get(key) or (props.get("create") if key == "update" else None)
        outs = dict(props)
        if not command:
            return {**outs, "stdout": "", "stderr": ""}
        result = self.execute(props, command)
        log_output = bool(props.get("log_output", True))
        if result.exit_code != 0:
            raise CommandFailed(describe_failure(f"{self.identity(props)}: {key}", result, log_output))
        # Kept whatever ``logging`` says (as pulumi-command does); a command that logs nothing has them secret.
        outs["stdout"] = result.stdout
        outs["stderr"] = result.stderr
        return outs

    @_clean_errors
    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = self._run(props, "create")
        return CreateResult(id_=self.identity(props), outs=outs)

    @_clean_errors
    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        if not self._changed(olds, news, self.rerun_keys()):
            # Only how we reach the host changed (a key, a timeout): nothing to run on it.
            return UpdateResult(outs={**news, "stdout": olds.get("stdout", ""), "stderr": olds.get("stderr", "")})
        return UpdateResult(outs=self._run(news, "update"))

    @_clean_errors
    def delete(self, _id: str, props: dict[str, Any]) -> None:
        if props.get("delete"):
            self._run(props, "delete")

    @staticmethod
    def _changed(olds: dict[str, Any], news: dict[str, Any], keys: tuple[str, ...]) -> list[str]:
        return [k for k in keys if _normal(k, olds.get(k)) != _normal(k, news.get(k))]

    @_clean_errors
    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = self._changed(olds, news, self.rerun_keys() + REPLACE_KEYS + self.quiet_keys())
        replaces = self._changed(olds, news, REPLACE_KEYS) + self.moved(olds, news)
        return DiffResult(
            changes=bool(changed or replaces),
            replaces=replaces,
            delete_before_replace=bool(news.get("delete_before_replace", False)),
        )

    def rerun_keys(self) -> tuple[str, ...]:
        """Inputs whose change re-runs ``update`` (or ``create``) in place."""
        return UPDATE_KEYS + self.extra_keys()

    def quiet_keys(self) -> tuple[str, ...]:
        """Inputs whose change is recorded without running anything (how the host is reached)."""
        return ()

    def moved(self, olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
        """Inputs saying the resource now lives elsewhere (another host): those replace it."""
        return []

    def extra_keys(self) -> tuple[str, ...]:
        """Further inputs that, when changed, re-run the resource."""
        return ()
