"""``HostState``: what a host should hold, read back by ``pulumi refresh`` in one SSH round trip.

pulumi-command's ``Command`` (and our command resources like it) cannot read: after a deploy nobody looks
at the host again. One ``HostState`` per host names the things our commands made there (files by sha256,
modes and owners, links, folders, users, units) with the value each should have. Its lifecycle:

- ``create``/``update`` run nothing: they record the expected values as observed (the commands that
  follow it in the same ``up`` make them true, or fail);
- ``read`` (``pulumi refresh``) runs ``host/read-state.sh`` once over SSH and stores what is really there.
  A difference shows as a change of this resource (``drift``: host, file, what differs); a component
  that drifted gets its ``repairs`` count raised, in the stored outputs and inputs alike;
- ``check`` carries ``repairs`` forward, so the next preview and ``up`` see the raised count (known in a
  preview) and the commands whose ``rerun_on`` hold it re-run: the repair takes the normal path (nginx -t
  then reload; the health-gated release switch, one host at a time);
- ``diff``: a change when what was observed is not what is expected; the ``update`` lists in ``restored``
  what it found drifted.

Secret-bearing files (an env file, a TLS key) are compared by hash in ``expected_secret``/``observed_secret``
(secret outputs); ``drift`` then says only that they differ. No content ever leaves the host.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ReadResult, Resource, ResourceProvider, UpdateResult

from components.shell import ssh
from components.shell.host_script import host_script
from components.shell.provider import CommandFailed, _clean_errors
from components.shell.remote import host_moved

READ_SCRIPT = Path(__file__).resolve().parent / "host" / "read-state.sh"
READ_TIMEOUT_SECONDS = 60
KINDS = ("content", "mode", "link", "dir", "exec", "user", "unit", "active")
# The inputs; the rest of the outputs is what the provider adds.
INPUT_KEYS = ("name", "connection", "checks", "expected", "expected_secret", "repairs")
MISSING = "missing"


@dataclass(frozen=True)
class Check:
    """One thing to read on the host: ``kind`` of ``path`` (see host/read-state.sh), the value it should
    have, the ``component`` that repairs it (its dependents re-run when it drifts), and whether the value
    is a digest of secret content."""

    kind: str
    path: str
    expected: pulumi.Input[str]
    component: str
    secret: bool = False

    @property
    def key(self) -> str:
        return f"{self.kind} {self.path}"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown check kind {self.kind!r} (one of {', '.join(KINDS)})")
        if any(c in self.path for c in "\n\t") or not self.path:
            raise ValueError(f"a check path must be one line: {self.path!r}")


def read_command(checks: Sequence[Sequence[str]]) -> str:
    """``sudo bash -c`` of host/read-state.sh for ``checks`` (``[kind, path, component]``)."""
    return host_script(READ_SCRIPT, {"CHECKS": "".join(f"{kind} {path}\n" for kind, path, *_ in checks)})


def parse_read(text: str) -> dict[str, str]:
    """``{"<kind> <path>": value}`` from read-state.sh's output."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("\t")
        if sep:
            values[key] = value
    return values


def _components(checks: Sequence[Sequence[str]]) -> dict[str, str]:
    return {f"{kind} {path}": component for kind, path, component in checks}


def drifted(props: Mapping[str, Any], observed_from: Mapping[str, Any] | None = None) -> list[tuple[str, str, str]]:
    """``(key, what differs, component)`` for each check whose observed value is not the expected one."""
    seen = observed_from if observed_from is not None else props
    found = []
    components = _components(props.get("checks") or [])
    for field, secret in (("expected", False), ("expected_secret", True)):
        expected = props.get(field) or {}
        observed = seen.get(field.replace("expected", "observed")) or {}
        for key in sorted(expected):
            want, got = expected[key], observed.get(key)
            if want == got:
                continue
            if got == MISSING:
                what = "missing"
            elif secret:
                what = "content differs (sha256; secret)"
            elif key.startswith("content "):
                what = f"content differs (sha256 {str(got)[:12]}…, want {str(want)[:12]}…)"
            else:
                what = f"is {got!r}, want {want!r}"
            found.append((key, what, components.get(key, "")))
    return found


def describe(host: str, found: Sequence[tuple[str, str, str]]) -> list[str]:
    return [f"{host}: {key.split(' ', 1)[1]} ({key.split(' ', 1)[0]}) {what}" for key, what, _ in found]


class HostStateProvider(ResourceProvider):
    """Runs nothing on create/update/delete; ``read`` is one SSH command."""

    serialize_as_secret_always = False
    kind = "state"

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        # The repair counts live in the state (raised by read); the program always passes {}.
        repairs = (olds or {}).get("repairs") or news.get("repairs") or {}
        return CheckResult(inputs={**news, "repairs": repairs}, failures=[])

    @_clean_errors
    def create(self, props: dict[str, Any]) -> CreateResult:
        conn = props["connection"]
        return CreateResult(id_=f"{props['name']}@{conn['host']}:{conn['port']}", outs=self._converged(props, []))

    @_clean_errors
    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        # What was found drifted (observed versus what was expected then), restored by this up's commands.
        return UpdateResult(outs=self._converged(news, describe(str(news["name"]), drifted(olds))))

    @staticmethod
    def _converged(props: dict[str, Any], restored: list[str]) -> dict[str, Any]:
        return {
            **{k: props.get(k) for k in INPUT_KEYS},
            "repairs": props.get("repairs") or {},
            "observed": dict(props.get("expected") or {}),
            "observed_secret": dict(props.get("expected_secret") or {}),
            "drift": [],
            "restored": restored,
        }

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """Nothing of its own is on the host."""

    @_clean_errors
    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in ("name", "checks", "repairs") if olds.get(k) != news.get(k)]
        if olds.get("observed") != news.get("expected"):
            changed.append("expected")
        if olds.get("observed_secret") != news.get("expected_secret"):
            changed.append("expected_secret")
        if olds.get("connection") != news.get("connection"):
            changed.append("connection")
        return DiffResult(changes=bool(changed), replaces=host_moved(olds, news))

    @_clean_errors
    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        checks = props.get("checks") or []
        conn = ssh.Connection.from_props(props["connection"])
        result = ssh.run(conn, read_command(checks), timeout=READ_TIMEOUT_SECONDS)
        if result.exit_code != 0:
            raise CommandFailed(
                f"{props.get('name')}@{conn.host}:{conn.port}: reading its state failed with exit code "
                f"{result.exit_code}: {result.stderr.strip()[-2000:]}"
            )
        values = parse_read(result.stdout)
        secret_keys = set(props.get("expected_secret") or {})
        keys = [f"{kind} {path}" for kind, path, _ in checks]
        observed = {k: values.get(k, MISSING) for k in keys if k not in secret_keys}
        observed_secret = {k: values.get(k, MISSING) for k in keys if k in secret_keys}
        now = {**props, "observed": observed, "observed_secret": observed_secret}
        found = drifted(props, now)
        # A component that newly drifted gets a new repair count (a second refresh of the same drift does not).
        before = {component for *_, component in drifted(props)}
        repairs = dict(props.get("repairs") or {})
        for component in sorted({component for *_, component in found} - before):
            repairs[component] = int(repairs.get(component, 0)) + 1
        outs = {**now, "repairs": repairs, "drift": describe(str(props.get("name")), found)}
        return ReadResult(id_=id_, outs=outs, inputs={k: outs.get(k) for k in INPUT_KEYS})


@dataclass(frozen=True)
class HostStateArgs:
    name: str  # the host, as the drift lines name it
    connection: pulumi.Input[dict[str, Any]]
    checks: Sequence[Check]


class HostState(Resource, module="wayshub", name="HostState"):
    """The built-in, read-capable state of one host (either command backend: pulumi-command cannot read)."""

    repairs: pulumi.Output[dict[str, int]]
    drift: pulumi.Output[list[str]]
    restored: pulumi.Output[list[str]]

    def __init__(self, resource_name: str, args: HostStateArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        keys = [c.key for c in args.checks]
        if len(set(keys)) != len(keys):
            raise ValueError(f"{resource_name}: a check is listed twice")
        props: dict[str, Any] = {
            "name": args.name,
            "connection": args.connection,
            "checks": [[c.kind, c.path, c.component] for c in args.checks],
            "expected": {c.key: c.expected for c in args.checks if not c.secret},
            "expected_secret": pulumi.Output.secret({c.key: c.expected for c in args.checks if c.secret}),
            "repairs": {},
            "observed": None,
            "observed_secret": None,
            "drift": None,
            "restored": None,
        }
        secrets = ["connection", "expected_secret", "observed_secret"]
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=secrets))
        super().__init__(HostStateProvider(), resource_name, props, opts)


def repair_token(repairs: Mapping[str, Any] | None, components: Sequence[str]) -> list[str]:
    """The ``rerun_on`` entries for ``components``' repair counts: none while a component was never
    repaired, so declaring a ``HostState`` changes nothing for commands a stack already holds."""
    counts = repairs or {}
    return [f"repair {c} #{counts[c]}" for c in components if int(counts.get(c, 0) or 0) > 0]
