"""Drive the real Pulumi engine from tests through its Automation API (``pulumi.automation``).

A ``PulumiCli`` is one project folder (``workdir``) and one environment (``env``, from ``engine_env``: the
engine scripts/ensure-pulumi builds, a throwaway local file backend and PULUMI_HOME, the test passphrase).
It holds a ``LocalWorkspace`` on that folder with that environment and one ``Stack``: the one ``init_stack``
made, else the workspace's current stack (copies made with ``with_env`` for one command find it so).

Through the Automation API, typed, no text parsed:
- stack init / select / rm, config set / get, up, preview, refresh, destroy, cancel;
- ``outputs()``: ``Stack.outputs()`` (typed ``OutputValue``s; the values, secrets shown, as tests need them);
- ``preview_steps()`` / ``preview().steps``: the preview's engine events (``ResourcePreEvent`` metadata);
- ``up_summary()`` / ``up().changes``: ``UpResult.summary.resource_changes`` (refresh and destroy alike);
- ``up_with_events()``: the up's engine events, through ``on_event`` (a test may pass its own callback and
  follow a running `up` event by event from another thread);
- ``state(show_secrets=True)``: ``Stack.export_stack()``.

A failed operation (automation raises ``CommandError``) becomes a ``Ran`` with the engine's exit code and
what it printed, stdout and stderr (tests assert on its one-line errors); with ``check=True`` it raises
``PulumiFailed``, which carries the same.

What stays on the CLI (``run``), and why:
- ``state()`` (``pulumi stack export``): the state as the backend stores it, secrets as ciphertext. The
  Automation API's ``export_stack`` always decrypts (``--show-secrets``); tests check that secrets stay
  encrypted there, and hand the export to scripts/drift-report as `make up` does.
- `pulumi up --yes` with its own preview, as `make up` runs it (test_preview_no_build: the preview inside the
  up must not build the app again): the Automation API's ``up`` always passes ``--skip-preview``.
- A `pulumi up` killed by process group (test_switch_commands, pending operations): it starts the CLI in a
  session of its own, which the Automation API's child process is not (the killed-up test in test_hardening
  follows automation's events on a thread and kills the engine by pid instead).
- bench/ (``run``, ``json``, ``events_env``, ``read_events``): the benchmarks time `pulumi up` as `make up`
  runs it and read its ``--event-log`` file afterwards; they are not tests and keep the CLI.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pulumi import automation as auto

REPO = Path(__file__).resolve().parents[2]

T = TypeVar("T")
OnEvent = Callable[[auto.EngineEvent], None]

# Step kinds: the engine begins a step (a preview's planned steps are these), finished it, or it failed.
STARTED = "started"
FINISHED = "finished"
FAILED = "failed"


@dataclass(frozen=True)
class Step:
    """One engine step event: its kind (STARTED, FINISHED, FAILED), the operation and the resource's URN."""

    kind: str
    op: str
    urn: str
    inputs: Mapping[str, Any] = field(default_factory=dict)  # the new state's (old for a delete), as shown
    custom: bool = True

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]

    @property
    def type(self) -> str:
        return self.urn.split("::")[2] if self.urn.count("::") >= 3 else ""

    @property
    def default_provider(self) -> bool:
        """A provider the engine made itself (``pulumi:providers:<pkg>::default…``): `preview --json` and the
        CLI's display leave these out; the engine's events have them."""
        return self.type.startswith("pulumi:providers:") and self.name.split("_", 1)[0] == "default"


def step_of(event: auto.EngineEvent) -> Step | None:
    """The step an engine event is about, or None (diagnostics, the summary, …)."""
    for kind, payload in (
        (STARTED, event.resource_pre_event),
        (FINISHED, event.res_outputs_event),
        (FAILED, event.res_op_failed_event),
    ):
        if payload is None:
            continue
        meta = payload.metadata
        state = meta.new or meta.old
        return Step(
            kind=kind,
            op=str(meta.op.value),
            urn=meta.urn,
            inputs=dict(state.inputs or {}) if state else {},
            custom=bool(state.custom) if state and state.custom is not None else True,
        )
    return None


def changes_of(summary: auto.UpdateSummary | None) -> dict[str, int]:
    """The engine's count of operations, by op name (``{"same": 12, "update": 1}``)."""
    counts = (summary.resource_changes if summary else None) or {}
    return {str(getattr(op, "value", op)): int(n) for op, n in counts.items()}


@dataclass(frozen=True)
class Ran:
    """One pulumi operation: its exit code, what the engine printed, its counts and its step events."""

    returncode: int
    stdout: str
    stderr: str
    changes: dict[str, int] = field(default_factory=dict)  # the engine's counts (up, refresh, destroy)
    events: tuple[Step, ...] = ()  # its step events in order (preview, up_with_events)

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def steps(self) -> list[Step]:
        """A preview's planned steps: the steps the engine began, as `preview --json` lists them (without
        the default providers)."""
        return [e for e in self.events if e.kind == STARTED and not e.default_provider]

    def started(self, name: str) -> int | None:
        """Index (in ``events``) of the first event where the engine began a step on resource ``name``."""
        return self._first(STARTED, name)

    def finished(self, name: str) -> int | None:
        return self._first(FINISHED, name)

    def changed(self) -> set[str]:
        """Names of the resources the operation did anything to (a step finished, not same or read)."""
        return {e.name for e in self.events if e.kind == FINISHED and e.op not in ("same", "read")}

    def _first(self, kind: str, name: str) -> int | None:
        for index, event in enumerate(self.events):
            if event.kind == kind and event.name == name and event.op != "same":
                return index
        return None


UpResult = Ran  # an `up` that may fail, with its events (up_with_events)


class PulumiFailed(AssertionError):
    """A pulumi operation run with ``check=True`` failed: what it was, and what the engine printed."""

    def __init__(self, what: str, ran: Ran) -> None:
        self.ran = ran
        super().__init__(
            f"pulumi {what} exited {ran.returncode}\n--- stdout\n{ran.stdout[-6000:]}\n--- stderr\n{ran.stderr[-6000:]}"
        )


def returncode_of(error: auto.CommandError) -> int:
    """The exit code a ``CommandError`` reports (its text starts ``code: N``); 1 if it says none."""
    found = re.search(r"^\s*code: (-?\d+)", str(error), re.MULTILINE)
    return int(found.group(1)) if found else 1


def text(lines: list[str]) -> str:
    """Lines a stream callback got (each without its line end) as the text the engine printed."""
    return "".join(f"{line}\n" for line in lines)


@functools.cache
def pulumi_command(path: str) -> auto.PulumiCommand:
    """The engine first on ``path`` (the environment's PATH), as the Automation API's command."""
    found = shutil.which("pulumi", path=path)
    assert found, f"no pulumi on PATH {path}"
    binary = Path(found)
    root = binary.parent.parent if binary.parent.name == "bin" else None
    # The engine we build is a development version: its version is not checked against the SDK's.
    return auto.PulumiCommand(root=str(root) if root else None, skip_version_check=True)


@dataclass(frozen=True)
class PulumiCli:
    """The Pulumi engine bound to one project folder and one environment (state folder, home, passphrase)."""

    workdir: Path
    env: dict[str, str]

    @cached_property
    def workspace(self) -> auto.LocalWorkspace:
        return auto.LocalWorkspace(
            work_dir=str(self.workdir),
            pulumi_home=self.env.get("PULUMI_HOME"),
            env_vars=self.env,
            pulumi_command=pulumi_command(self.env.get("PATH", "")),
        )

    @cached_property
    def stack(self) -> auto.Stack:
        """The stack ``init_stack`` made, else the workspace's current one (selected again)."""
        current = self.workspace.stack()
        assert current is not None, f"no stack selected in {self.workdir}: init_stack() first"
        return auto.Stack.select(current.name, self.workspace)

    def init_stack(self, name: str) -> auto.Stack:
        """``pulumi stack init``: a new stack, selected, which this harness drives from now on."""
        stack = auto.Stack.create(name, self.workspace)
        self.__dict__["stack"] = stack  # the cached_property's slot (the dataclass is frozen)
        return stack

    def select_stack(self, name: str) -> auto.Stack:
        """``pulumi stack select``: an existing stack, which this harness drives from now on."""
        stack = auto.Stack.select(name, self.workspace)
        self.__dict__["stack"] = stack
        return stack

    def remove_stack(self, force: bool = False, check: bool = True) -> None:
        """``pulumi stack rm --yes`` (``--force``: with its resources still in it)."""
        try:
            self.workspace.remove_stack(self.stack.name, force=force)
        except auto.CommandError:
            if check:
                raise

    def with_env(self, **extra: str) -> PulumiCli:
        """The same project and stack with more environment (the plugins see it too)."""
        return dataclasses.replace(self, env={**self.env, **extra})

    # --- the CLI, for what the Automation API does not give (see the module docstring)

    def run(self, *args: str, check: bool = True, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["pulumi", "--non-interactive", *args],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"pulumi {' '.join(args)} exited {result.returncode}\n--- stdout\n{result.stdout[-6000:]}"
                f"\n--- stderr\n{result.stderr[-6000:]}"
            )
        return result

    def json(self, *args: str, check: bool = True) -> Any:
        """A CLI command's ``--json`` output, parsed (bench/ reads `stack history` so)."""
        return json.loads(self.run(*args, "--json", check=check).stdout)

    def state(self, show_secrets: bool = False) -> dict[str, Any]:
        """The stack's exported state (``{"version", "deployment"}``). As stored (secrets as ciphertext, the
        CLI's `stack export`), or decrypted (``show_secrets``: the Automation API's ``export_stack``)."""
        if show_secrets:
            exported = self.stack.export_stack()
            return {"version": exported.version, "deployment": exported.deployment or {}}
        return dict(json.loads(self.run("stack", "export").stdout))

    def resources(self) -> list[dict[str, Any]]:
        return list(self.state()["deployment"].get("resources") or [])

    # --- the Automation API

    def _call(self, what: str, operation: Callable[..., T], check: bool, **kwargs: Any) -> tuple[T | None, Ran]:
        """Run ``operation`` (a Stack method); what the engine prints is kept, on success or failure."""
        out: list[str] = []
        err: list[str] = []
        try:
            result = operation(on_output=out.append, on_error=err.append, color="never", **kwargs)
        except auto.CommandError as error:
            ran = Ran(returncode_of(error), text(out), text(err))
            if check:
                raise PulumiFailed(what, ran) from error
            return None, ran
        return result, Ran(0, text(out), text(err))

    def set_config(self, key: str, value: str, secret: bool = False, path: bool = False) -> None:
        if key.startswith("wayshub:appSecrets"):
            self.ensure_release_key()
        self.stack.set_config(key, auto.ConfigValue(value, secret=secret), path=path)

    def ensure_release_key(self) -> None:
        """What `make stack` does for a new stack: a random ``wayshub:releaseKey`` (a secret), which app
        secrets need. One per project folder, kept in it, so a test that rewrites the stack file keeps its
        release ids."""
        if "wayshub:releaseKey" in self.stack.get_all_config():
            return
        kept = self.workdir / ".release-key"
        if not kept.is_file():
            kept.write_text(secrets.token_hex(32))
        self.stack.set_config("wayshub:releaseKey", auto.ConfigValue(kept.read_text(), secret=True))

    def get_config(self, key: str, path: bool = False) -> str:
        return str(self.stack.get_config(key, path=path).value)

    def outputs(self) -> dict[str, Any]:
        """The stack's outputs, secrets shown (``Stack.outputs()``: ``OutputValue``s)."""
        return {name: output.value for name, output in self.stack.outputs().items()}

    def up(
        self,
        check: bool = True,
        diff: bool = False,
        target: Iterable[str] = (),
        on_event: OnEvent | None = None,
    ) -> Ran:
        """`pulumi up --yes --skip-preview`; ``changes`` are the engine's counts (UpResult.summary)."""
        steps: list[Step] = []

        def record(event: auto.EngineEvent) -> None:
            if (step := step_of(event)) is not None:
                steps.append(step)
            if on_event is not None:
                on_event(event)

        kwargs: dict[str, Any] = {"diff": diff or None, "target": list(target) or None, "on_event": record}
        result, ran = self._call("up", self.stack.up, check, **kwargs)
        changes = changes_of(result.summary) if result else {}
        return dataclasses.replace(ran, changes=changes, events=tuple(steps))

    def preview(
        self,
        check: bool = True,
        diff: bool = True,
        refresh: bool = False,
        expect_no_changes: bool = False,
        json_output: bool = False,
    ) -> Ran:
        """`pulumi preview` (``--diff`` unless told); ``steps`` from its engine events. ``json_output``: the
        printed text is the JSON a user gets from ``preview --json`` (scripts/preview-summary reads it)."""
        steps: list[Step] = []

        def record(event: auto.EngineEvent) -> None:
            if (step := step_of(event)) is not None:
                steps.append(step)

        kwargs: dict[str, Any] = {
            "diff": diff or None,
            "refresh": refresh or None,
            "expect_no_changes": expect_no_changes or None,
            "json": json_output or None,
            "on_event": record,
        }
        result, ran = self._call("preview", self.stack.preview, check, **kwargs)
        changes = {str(getattr(op, "value", op)): int(n) for op, n in result.change_summary.items()} if result else {}
        return dataclasses.replace(ran, changes=changes, events=tuple(steps))

    def preview_steps(self) -> list[Step]:
        """The engine's planned steps for this stack (a preview's ResourcePreEvents)."""
        return self.preview().steps

    def refresh(self, check: bool = True, diff: bool = False, clear_pending_creates: bool = False) -> Ran:
        kwargs: dict[str, Any] = {"diff": diff or None, "clear_pending_creates": clear_pending_creates or None}
        result, ran = self._call("refresh", self.stack.refresh, check, **kwargs)
        return dataclasses.replace(ran, changes=changes_of(result.summary) if result else {})

    def destroy(self, check: bool = True, target: Iterable[str] = (), target_dependents: bool = False) -> Ran:
        kwargs: dict[str, Any] = {"target": list(target) or None, "target_dependents": target_dependents or None}
        result, ran = self._call("destroy", self.stack.destroy, check, **kwargs)
        return dataclasses.replace(ran, changes=changes_of(result.summary) if result else {})

    def cancel(self) -> None:
        self.stack.cancel()

    def up_summary(self) -> dict[str, int]:
        """`pulumi up` and the engine's own count of operations (UpResult.summary.resource_changes)."""
        return self.up().changes

    def up_with_summary(self) -> tuple[dict[str, int], str]:
        """``up_summary`` and what the `up` printed (its warnings, for a test's message)."""
        ran = self.up()
        return ran.changes, ran.output


def up_with_events(cli: PulumiCli, on_event: OnEvent | None = None) -> Ran:
    """An `up` that may fail: its exit code, output, and step events (``on_event`` sees each engine event
    as it comes, on another thread)."""
    return cli.up(check=False, on_event=on_event)


def events_env(cli: PulumiCli) -> dict[str, str]:
    """The CLI's environment with ``--event-log`` accepted (shown only with PULUMI_DEBUG_COMMANDS). For bench/."""
    return {**cli.env, "PULUMI_DEBUG_COMMANDS": "true"}


def read_events(event_log: Path) -> list[dict[str, Any]]:
    """The engine's events in a CLI ``--event-log`` file (bench/); a last line still being written is left out."""
    try:
        text = event_log.read_text()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.split("\n")[:-1] if line.strip()]


def engine_env(state_dir: Path, home_dir: Path) -> dict[str, str]:
    """Environment for the engine: the one built by scripts/ensure-pulumi first on PATH, local state."""
    bin_dir = subprocess.run(
        [str(REPO / "scripts" / "ensure-pulumi")], capture_output=True, text=True, check=True
    ).stdout.strip()
    # The venv's python first: the language host we build runs `python3` from PATH (see README).
    path = ":".join(p for p in (bin_dir, str(REPO / "venv" / "bin"), os.environ["PATH"]) if p)
    state_dir.mkdir(parents=True, exist_ok=True)
    home_dir.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "PATH": path,
        "PULUMI_BACKEND_URL": f"file://{state_dir}",
        "PULUMI_HOME": str(home_dir),
        "PULUMI_CONFIG_PASSPHRASE": "wayshub-test-passphrase",
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK": "true",
        "PYTHONPATH": str(REPO),
    }


def urn_of(cli: PulumiCli, name: str) -> str:
    """The URN of the one resource called ``name`` in the stack's state."""
    urns = [r["urn"] for r in cli.resources() if r["urn"].endswith(f"::{name}")]
    assert len(urns) == 1, f"expected one resource named {name}, found {urns}"
    return str(urns[0])


def copy_program(project: Path) -> None:
    """The real program, as a user's checkout has it (components come from PYTHONPATH)."""
    project.mkdir(parents=True)
    shutil.copy(REPO / "__main__.py", project)
    shutil.copytree(REPO / "app", project / "app", ignore=shutil.ignore_patterns("node_modules"))
    text = (REPO / "Pulumi.yaml").read_text().replace("virtualenv: venv", f"virtualenv: {REPO / 'venv'}")
    text = text.replace("path: plugins", f"path: {REPO / 'plugins'}")  # our dynamic-provider plugin
    (project / "Pulumi.yaml").write_text(text)


# Load generators (bench/loadgen.py, wrk, the failover clients) are many visitors from ONE address (this
# machine), so a stack they load has no per-client limits (lb.limits, docs/limits.md). Every e2e and bench
# stack file is written through ``stack_file_text``; a stack that sets `lb.limits` itself keeps it.
NO_CLIENT_LIMITS: dict[str, int] = {"connectionsPerClient": 0, "requestsPerSecond": 0}


def stack_file_text(config: Mapping[str, Any], **extra: Any) -> str:
    """A stack file's YAML: ``config`` (with ``NO_CLIENT_LIMITS`` unless it sets `lb.limits`) and ``extra``
    top-level keys (e.g. the secrets provider's)."""
    lb = config.get("wayshub:lb", {})
    if isinstance(lb, dict) and "limits" not in lb:
        config = {**config, "wayshub:lb": {**lb, "limits": NO_CLIENT_LIMITS}}
    return yaml.safe_dump({**extra, "config": dict(config)}, sort_keys=True)
