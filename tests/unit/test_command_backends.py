"""The whole program under mocks with each command backend: the engine must receive the same thing.

``__main__.py`` runs once per stack file in stacks/ and per backend (``wayshub:commands`` = ``builtin``,
then ``pulumi-command``). Every registration request the engine would get is recorded as it goes over
the wire (secrets still marked). For each command resource the two runs must agree on: its name, kind
and parent, what it depends on, its commands, stdin, environment, triggers and re-run values, where it
connects and with which key, delete-before-replace, and which values are secret (sent as secrets, and
the outputs kept secret). The e2e tests also run pulumi-command's real plugin (WAYSHUB_E2E_COMMANDS); this
checks every stack file cheaply.

The program plans releases as a preview does (no npm run), and installs Node from apt (the binary
install's upload needs the Node tarball on disk): both backends see the same graph either way.
"""

from __future__ import annotations

import functools
import json
import runpy
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from pulumi.runtime import config as runtime_config
from pulumi.runtime import settings as runtime_settings

from components import checkpoint
from components.config import NAMESPACE
from components.shell.command import backend, remote
from components.shell.command.common import rerun_digest
from components.shell.command.preview_asset import PLACEHOLDER
from tests.unit.pulumi_mocks import MOCKS, pulumi_test

REPO = Path(__file__).resolve().parents[2]
STACK_FILES = sorted((REPO / "stacks").glob("Pulumi.*.yaml"))
SECRET_SIG = ("4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270")
KINDS = {
    "pulumi-python:dynamic/wayshub:LocalCommand": "local",
    "pulumi-python:dynamic/wayshub:RemoteCommand": "remote",
    "pulumi-python:dynamic/wayshub:CopyFileToRemote": "copy",
    "command:local:Command": "local",
    "command:remote:Command": "remote",
    "command:remote:CopyToRemote": "copy",
}
RERUN_MARK = "\n# wayshub rerun-on "


class Recorder:
    """Every RegisterResource request, by resource name (the mock monitor wrapped once per process); a component's
    name carries its type, as the LB host and the LB's nginx share one (their order of arrival varies)."""

    def __init__(self) -> None:
        self.requests: dict[str, Any] = {}
        self.outputs: dict[str, Any] = {}  # a component's RegisterResourceOutputs, by URN
        monitor: Any = runtime_settings.get_monitor()
        original = monitor.RegisterResource
        original_outputs = monitor.RegisterResourceOutputs

        def record_outputs(request: Any) -> Any:
            self.outputs[request.urn] = request.outputs
            return original_outputs(request)

        monitor.RegisterResourceOutputs = record_outputs

        def record(request: Any) -> Any:
            key = request.name if request.custom else f"{request.name} <{request.type}>"
            self.requests[key] = request
            return original(request)

        monitor.RegisterResource = record


RECORDER = Recorder()


def resource_name(key: str) -> str:
    """A recorded request's resource name (a component's key carries its type)."""
    return key.split(" <", 1)[0]


@functools.cache
def ssh_key() -> str:
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    return pem.decode()


@pytest.fixture()
def config_keys() -> Iterator[list[str]]:
    """Config keys a program run set; removed afterwards."""
    keys: list[str] = []
    yield keys
    for key in keys:
        runtime_config.CONFIG.get().pop(key, None)
    backend.use("builtin")


def known_hosts_for(hosts: Mapping[str, Any]) -> Path:
    """A known_hosts file listing every server of an existing-hosts stack (made-up keys)."""
    path = Path(tempfile.mkdtemp(prefix="wayshub-known-hosts-")) / "known_hosts"
    lines = []
    for server in [*hosts["appServers"], hosts["lbServer"]]:
        port = server.get("sshPort", 22)
        name = server["address"] if port == 22 else f"[{server['address']}]:{port}"
        lines.append(f"{name} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMXCGRjl5nFSFkD7LYhaGmcbXJKnuFYrpeJBdpTT5hyk\n")
    path.write_text("".join(lines))
    return path


def run_program(path: Path, commands: str | None, keys: list[str], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """``__main__.py`` with this stack file and backend; returns the requests of that run."""
    settings = {k.removeprefix("wayshub:"): v for k, v in yaml.safe_load(path.read_text())["config"].items()}
    if settings["hosts"]["provider"] != "containers":  # where the image's base brings Node
        settings["app"] = {**settings.get("app", {}), "nodeInstall": "apt"}
    if commands is not None:
        settings["commands"] = commands
    if settings["hosts"]["provider"] == "existing":
        settings["sshPrivateKey"] = ssh_key()
        # pulumi-command needs every server's host key known before any resource (issue 28 item 7).
        settings["hosts"] = {**settings["hosts"], "knownHostsFile": str(known_hosts_for(settings["hosts"]))}
    for key, value in settings.items():
        full = f"{NAMESPACE}:{key}"
        runtime_config.set_config(full, value if isinstance(value, str) else json.dumps(value))
        keys.append(full)
    monkeypatch.setattr(pulumi.runtime, "is_dry_run", lambda: True)  # plan the release as a preview: no npm
    RECORDER.requests.clear()
    RECORDER.outputs.clear()

    @pulumi_test
    def declare() -> pulumi.Output[None]:
        runpy.run_path(str(REPO / "__main__.py"), run_name="__main__")
        return pulumi.Output.from_input(None)

    declare()
    return dict(RECORDER.requests)


def to_python(value: Any) -> Any:
    """A protobuf Struct as the engine receives it, as plain dicts and lists (Struct is a Mapping, ListValue a
    Sequence); numbers stay floats."""
    if isinstance(value, Mapping):
        return {str(k): to_python(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [to_python(v) for v in value]
    return value


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG[0]) == SECRET_SIG[1]


def plain(value: Any) -> Any:
    """The value with secret markers removed (recursively)."""
    if is_secret(value):
        return plain(value.get("value"))
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def name_of(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def command_view(request: Any) -> dict[str, Any]:
    """What a command resource means, in the same terms for both backends."""
    sent = to_python(request.object)
    builtin = request.type.startswith("pulumi-python:")
    props = {k: v for k, v in sent.items() if k != "__provider"}
    values = {k: plain(v) for k, v in props.items()}
    update = values.get("update")
    if builtin:
        rerun = rerun_digest(values.get("rerun_on") or []) if values.get("rerun_on") else None
    else:
        rerun = None
        if isinstance(update, str) and RERUN_MARK in update:
            update, rerun = update.split(RERUN_MARK)
            update = None if update == values.get("create") else update
    connection = values.get("connection") or {}
    view = {
        "kind": KINDS[request.type],
        "parent": name_of(request.parent) if request.parent else None,
        "depends_on": sorted(name_of(d) for d in request.dependencies),
        "create": values.get("create") or None,
        "update": update or None,
        "delete": values.get("delete") or None,
        "stdin": values.get("stdin") or None,
        "environment": values.get("environment") or None,
        "triggers": values.get("triggers") or None,
        "rerun": rerun,
        "delete_before_replace": request.deleteBeforeReplace,
        "additional_secret_outputs": sorted(request.additionalSecretOutputs),
        "secret": sorted(k for k, v in props.items() if is_secret(v) and k not in ("rerun_on", "update", "sha256")),
    }
    if view["kind"] == "copy":
        view["remote_path"] = values.get("remotePath", values.get("remote_path"))
        source = values["source"] if builtin else plain(props["source"]).get("path")
        if not builtin:  # a preview (as here): the file when it exists, else a placeholder; never diffed
            assert list(request.ignoreChanges) == ["source"], request.name
            assert source is not None or plain(props["source"]).get("text") == PLACEHOLDER, request.name
        view["source"] = source if source and Path(source).is_file() else "(made by up)"
        if not builtin:  # first trigger: the host (pulumi-command copies again only when a trigger changes)
            c = connection
            where = f"host {c.get('user')}@{c.get('host')}:{int(c.get('port', 22))} {c.get('hostKey') or ''}"
            assert values["triggers"][0] == where.rstrip(), request.name
        view["content"] = values.get("content_id") if builtin else (values.get("triggers") or [None])[-1]
        view["triggers"] = None
    if connection:
        view["connection"] = {
            "host": connection.get("host"),
            "port": int(connection.get("port", 22)),
            "user": connection.get("user"),
            "private_key": connection.get("private_key", connection.get("privateKey")),
            "host_key": connection.get("host_key", connection.get("hostKey")),
        }
        if builtin and view["connection"]["host_key"] is None and connection.get("known_hosts_file"):
            # Ours checks the key the file lists when it connects; pulumi-command is handed that key.
            where = view["connection"]
            known = Path(connection["known_hosts_file"])
            where["host_key"] = remote.known_host_key(where["host"], where["port"], known)
    return view


def commands_of(requests: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: command_view(r) for name, r in requests.items() if r.type in KINDS}


def others_of(requests: dict[str, Any]) -> dict[str, tuple[str, str | None, list[str]]]:
    return {
        name: (r.type, name_of(r.parent) if r.parent else None, sorted(name_of(d) for d in r.dependencies))
        for name, r in requests.items()
        if r.type not in KINDS and r.type != "pulumi:pulumi:Stack"
    }


@pytest.mark.parametrize("path", STACK_FILES, ids=lambda p: p.name)
def test_both_backends_declare_the_same_commands_inputs_and_secrets(
    path: Path, config_keys: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ours = run_program(path, "builtin", config_keys, monkeypatch)
    theirs = run_program(path, "pulumi-command", config_keys, monkeypatch)

    assert {KINDS[r.type] for r in ours.values() if r.type in KINDS} <= {"local", "remote", "copy"}
    # The servers' probe (components/hosts/probe.py) is ours with either backend (docs/commands.md).
    builtin_left = {n for n, r in theirs.items() if r.type.startswith("pulumi-python:") and r.type in KINDS}
    assert {n for n in builtin_left if not n.endswith("-probe")} == set(), (
        "a built-in command resource was declared with backend pulumi-command"
    )
    assert others_of(ours) == others_of(theirs)
    ours_commands, theirs_commands = commands_of(ours), commands_of(theirs)
    assert sorted(ours_commands) == sorted(theirs_commands)
    for name, view in ours_commands.items():
        assert view == theirs_commands[name], f"{path.name}: {name} differs between the backends"


def test_the_comparison_covers_every_kind_of_command(config_keys: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    local = commands_of(run_program(REPO / "stacks" / "Pulumi.local.yaml", "builtin", config_keys, monkeypatch))
    kinds = {view["kind"] for view in local.values()}
    assert kinds == {"local", "remote", "copy"}, kinds
    secret = {name for name, view in local.items() if view["secret"]}
    # The TLS key's command and every SSH connection are secret: the comparison sees secrets.
    assert "lb-tls-key" in secret and "app1-app-base" in secret, secret
    assert local["app1-app-release"]["rerun"] is not None
    assert local["lb-tls-key"]["additional_secret_outputs"] == ["connection", "stderr", "stdin", "stdout"]


def test_the_serialized_built_in_provider_is_not_kept_as_a_secret(
    config_keys: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # serialize_as_secret_always = False: our providers hold no secret (connections and commands are
    # inputs), so the pickled provider each resource stores stays readable instead of an opaque secret.
    requests = run_program(REPO / "stacks" / "Pulumi.local.yaml", "builtin", config_keys, monkeypatch)
    providers = {name: to_python(r.object)["__provider"] for name, r in requests.items() if r.type in KINDS}
    assert len(providers) >= 10
    assert [name for name, value in providers.items() if is_secret(value)] == []


def test_auto_takes_pulumi_command_only_when_its_plugin_is_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setenv("PULUMI_HOME", str(tmp_path / "home"))
    assert backend.resolve("auto") == "builtin"
    assert backend.resolve("pulumi-command") == "pulumi-command"
    (tmp_path / "home" / "plugins" / "resource-command-v1.2.1").mkdir(parents=True)
    assert backend.resolve("auto") == "pulumi-command"
    assert backend.resolve("builtin") == "builtin"
    (tmp_path / "home" / "plugins" / "resource-command-v1.2.1").rmdir()
    plugin = tmp_path / "bin" / backend.PLUGIN
    plugin.parent.mkdir()
    plugin.write_text("#!/bin/sh\n")
    plugin.chmod(0o755)
    assert backend.resolve("auto") == "pulumi-command"


BUILTIN_URN = (
    "urn:pulumi:test::wayshub-infra::wayshub:app:NodeApp$pulumi-python:dynamic/wayshub:RemoteCommand::app1-app-release"
)
PULUMI_COMMAND_URN = "urn:pulumi:test::wayshub-infra::wayshub:app:NodeApp$command:remote:Command::app1-app-release"
PROBE_URN = (
    "urn:pulumi:test::wayshub-infra::wayshub:hosts:ExistingHost$pulumi-python:dynamic/wayshub:RemoteCommand::lb-probe"
)
STATE_URN = (
    "urn:pulumi:test::wayshub-infra::wayshub:app:NodeApp$pulumi-python:dynamic/wayshub:HostState::app1-app-state"
)


def install_plugin(home: Path, monkeypatch: pytest.MonkeyPatch, installed: bool) -> None:
    monkeypatch.setenv("PATH", str(home / "bin"))
    monkeypatch.setenv("PULUMI_HOME", str(home))
    if installed:
        (home / "plugins" / "resource-command-v1.2.1").mkdir(parents=True)


@pytest.mark.parametrize(
    ("checkpoint", "installed", "chosen"),
    [
        # a deployed stack keeps its backend, plugin or not (its next up would tear it down otherwise)
        ({BUILTIN_URN, STATE_URN}, True, "builtin"),
        ({PULUMI_COMMAND_URN, STATE_URN}, False, "pulumi-command"),
        # the probe and HostState are ours in both backends; a switch in progress holds both kinds
        ({PULUMI_COMMAND_URN, PROBE_URN, STATE_URN}, True, "pulumi-command"),
        ({BUILTIN_URN, PULUMI_COMMAND_URN}, False, "pulumi-command"),
        # a new stack (nothing, or no command yet): pulumi-command where its plugin is installed
        (set(), True, "pulumi-command"),
        (set(), False, "builtin"),
        ({STATE_URN, PROBE_URN}, True, "pulumi-command"),
        # an unreadable state with no plugin: builtin is the only backend that can run
        (None, False, "builtin"),
    ],
)
def test_an_unset_setting_keeps_a_deployed_stacks_backend_and_gives_a_new_one_pulumi_command(
    checkpoint: set[str] | None, installed: bool, chosen: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_plugin(tmp_path, monkeypatch, installed)
    assert backend.default(checkpoint)[0] == chosen


def test_an_unreadable_state_with_the_plugin_installed_is_one_line_naming_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_plugin(tmp_path, monkeypatch, installed=True)
    with pytest.raises(ValueError, match=r"^wayshub:commands: this stack's last state cannot be read") as err:
        backend.default(None)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(("failed_reads", "outcome"), [(1, "pulumi-command"), (checkpoint.READ_ATTEMPTS, "error")])
def test_a_read_of_the_state_that_meets_the_engines_save_is_tried_again(
    failed_reads: int, outcome: str, tmp_path: Path, config_keys: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine saves this update's checkpoint while the program starts: a first read may fail (EOF) on a
    new stack; a new stack still gets its default, and only a state that stays unreadable is an error."""
    install_plugin(tmp_path, monkeypatch, installed=True)
    monkeypatch.setattr(checkpoint, "READ_RETRY_SECONDS", 0.0)
    monkeypatch.setattr(MOCKS, "failed_reads", failed_reads)
    try:
        if outcome == "error":
            errors: list[str] = []
            monkeypatch.setattr(pulumi.log, "error", lambda message, *_a, **_k: errors.append(message))
            with pytest.raises(SystemExit):
                run_program(REPO / "stacks" / "Pulumi.local.yaml", None, config_keys, monkeypatch)
            assert [e for e in errors if "this stack's last state cannot be read" in e], errors
            return
        requests = run_program(REPO / "stacks" / "Pulumi.local.yaml", None, config_keys, monkeypatch)
    finally:
        MOCKS.failed_reads = 0
    assert {r.type for r in requests.values() if r.type in KINDS} <= backend.TYPES["pulumi-command"]


@pytest.mark.parametrize(
    ("checkpoint", "chosen"),
    [(set(), "pulumi-command"), ({BUILTIN_URN}, "builtin")],  # a new stack; one deployed with builtin
)
def test_the_whole_program_runs_on_the_default_backend(
    checkpoint: set[str], chosen: str, tmp_path: Path, config_keys: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``wayshub:commands`` unset with the plugin installed: every command of the program on the chosen backend."""
    install_plugin(tmp_path, monkeypatch, installed=True)
    monkeypatch.setattr(MOCKS, "checkpoint", checkpoint)
    requests = run_program(REPO / "stacks" / "Pulumi.local.yaml", None, config_keys, monkeypatch)
    kinds = {r.type for r in requests.values() if r.type in KINDS}
    assert len(kinds) == 3  # local, remote and copy
    assert kinds <= backend.TYPES[chosen]  # type: ignore[index]


@pytest.mark.parametrize("commands", ["builtin", "pulumi-command"])
def test_takeovers_command_lines_are_stored_only_as_secrets(
    commands: str, tmp_path: Path, config_keys: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``hosts.takeover`` the survey's and the release step's stdout name other processes by their
    command lines (which may hold passwords): both are secret outputs, the release ids stay public."""
    stack = yaml.safe_load((REPO / "stacks" / "Pulumi.staging.yaml").read_text())
    stack["config"]["wayshub:hosts"]["takeover"] = True
    path = tmp_path / "Pulumi.takeover.yaml"
    path.write_text(yaml.safe_dump(stack))
    requests = commands_of(run_program(path, commands, config_keys, monkeypatch))
    carriers = [n for n in requests if n.endswith(("-survey", "-app-release"))]
    assert len(carriers) >= 2 * len(stack["config"]["wayshub:hosts"]["appServers"]), sorted(requests)
    for name in carriers:
        assert "stdout" in requests[name]["additional_secret_outputs"], name
