"""Which implementation runs the commands: the real pulumi-command provider or our built-in one.

``wayshub:commands`` says ``builtin`` (the default), ``pulumi-command`` or ``auto``: ``auto`` takes
pulumi-command when its provider plugin is installed (a download away for a user; our machines build it
from source for the tests: scripts/ensure-plugins), else builtin.
"""

from __future__ import annotations

import os
import shutil
from enum import StrEnum
from pathlib import Path
from typing import Literal

Backend = Literal["builtin", "pulumi-command"]
SETTINGS = ("auto", "builtin", "pulumi-command")
PLUGIN = "pulumi-resource-command"


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


_chosen: list[Backend] = []


def use(setting: str) -> Backend:
    """Choose the backend for every command the program declares from now on (the program does this once)."""
    _chosen[:] = [resolve(setting)]
    return _chosen[0]


def current() -> Backend:
    """The chosen backend (``builtin`` until the program chose)."""
    return _chosen[0] if _chosen else use("builtin")
