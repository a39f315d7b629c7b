"""The real program, with the built-in command resources under other type tokens when ``switchtest:tokens`` says ``renamed``.

Test-only: a backend switch here cannot reach the real pulumi-command plugin, so this stands in for it.
Every LocalCommand, RemoteCommand and CopyFileToRemote (not the server probe, which keeps its type
under pulumi-command too: docs/commands.md) is declared as ``pulumi-python:dynamic/renamed:<Name>``:
the same providers and inputs, only every URN changes. The program itself is ``wayshub_program.py``
(a copy of the repository's ``__main__.py``).
"""

import runpy
from pathlib import Path

import pulumi

from components.shell.local import LocalCommand
from components.shell.remote import CopyFileToRemote, RemoteCommand

if pulumi.Config("switchtest").get("tokens") == "renamed":
    for resource in (LocalCommand, RemoteCommand, CopyFileToRemote):
        resource._resource_type_name = resource._resource_type_name.replace("dynamic/wayshub:", "dynamic/renamed:")

runpy.run_path(str(Path(__file__).with_name("wayshub_program.py")), run_name="__main__")
