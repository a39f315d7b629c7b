"""Which implementation runs the commands: the real pulumi-command provider or our built-in one.

``wayshub:commands`` says ``builtin`` (the default), ``pulumi-command`` or ``auto``: ``auto`` takes
pulumi-command when its provider plugin is installed (a download away for a user; our machines build it
from source for the tests: scripts/ensure-plugins), else builtin.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Collection, Iterable
from enum import StrEnum
from pathlib import Path
from typing import Literal

Backend = Literal["builtin", "pulumi-command"]
SETTINGS = ("auto", "builtin", "pulumi-command")
PLUGIN = "pulumi-resource-command"
# The type tokens of the commands each backend makes (docs/commands.md, "Type tokens and URNs"). HostState is ours
# in both backends, with a type of its own; so is the server probe, with the built-in command's type.
TYPES: dict[Backend, frozenset[str]] = {
    "pulumi-command": frozenset({"command:local:Command", "command:remote:Command", "command:remote:CopyToRemote"}),
    "builtin": frozenset(
        {
            "pulumi-python:dynamic/wayshub:LocalCommand",
            "pulumi-python:dynamic/wayshub:RemoteCommand",
            "pulumi-python:dynamic/wayshub:CopyFileToRemote",
        }
    ),
}
# A server probe (components/hosts/probe.py, ours in both backends) by its parent and type: it tells nothing.
PROBE_CHAIN = "wayshub:hosts:ExistingHost$pulumi-python:dynamic/wayshub:RemoteCommand"
UNREADABLE_STATE = (
    "wayshub:commands: this stack's last state cannot be read, so the command backend that deployed it is "
    "unknown: set wayshub:commands to builtin or pulumi-command"
)


class Logging(StrEnum):
    """What a command logs (pulumi-command's ``Logging``); outputs are captured whatever it says."""

    STDOUT = "stdout"
    STDERR = "stderr"
    STDOUT_AND_STDERR = "stdoutAndStderr"
    NONE = "none"


def plugin_installed() -> bool:
    """pulumi-command's plugin on PATH, or installed by the engine (``pulumi plugin install``, or by ``up``)."""
    if shutil.which(PLUGIN):
        return True
    home = Path(os.environ.get("PULUMI_HOME") or Path.home() / ".pulumi")
    return any((home / "plugins").glob("resource-command-v*"))


def resolve(setting: str) -> Backend:
    if setting == "builtin":
        return "builtin"
    if setting == "pulumi-command":
        return "pulumi-command"
    if setting == "auto":
        return "pulumi-command" if plugin_installed() else "builtin"
    raise ValueError(f"wayshub:commands: {setting!r} is not one of {', '.join(SETTINGS)}")


def deployed_with(urns: Iterable[str]) -> Backend | None:
    """The backend whose commands a checkpoint holds (pulumi-command's first: a stack moving to it with
    scripts/switch-commands holds both); None when it holds no command but the server probes."""
    chains = [urn.split("::")[2] for urn in urns if urn.count("::") >= 3]
    types = {chain.rsplit("$", 1)[-1] for chain in chains if not chain.endswith(PROBE_CHAIN)}
    return next((backend for backend in TYPES if types & TYPES[backend]), None)


def default(urns: Collection[str] | None) -> tuple[Backend, str]:
    """The backend of a stack that does not set ``wayshub:commands``, and why (one line for the ``up``'s output).
    ValueError when the checkpoint could not be read while the plugin is installed: either could be right."""
    installed = plugin_installed()
    if urns is None:
        if installed:
            raise ValueError(UNREADABLE_STATE)
        return "builtin", "pulumi-command's plugin is not installed"
    deployed = deployed_with(urns)
    if deployed is not None:
        return deployed, "the backend this stack was deployed with (scripts/switch-commands moves it)"
    if installed:
        return "pulumi-command", "a new stack, and pulumi-command's plugin is installed"
    return "builtin", "a new stack, and pulumi-command's plugin is not installed"


_chosen: list[Backend] = []


def use(setting: str) -> Backend:
    """Choose the backend for every command the program declares from now on (the program does this once)."""
    _chosen[:] = [resolve(setting)]
    return _chosen[0]


def current() -> Backend:
    """The chosen backend (``builtin`` until the program chose)."""
    return _chosen[0] if _chosen else use("builtin")
