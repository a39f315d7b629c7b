"""Command resources: local commands, remote commands and file copies over SSH."""

from components.shell.commands import cmd, fail, install_from_stdin, script, sudo_script, when
from components.shell.local import LocalCommand, LocalCommandArgs
from components.shell.remote import (
    CopyFileToRemote,
    CopyFileToRemoteArgs,
    RemoteCommand,
    RemoteCommandArgs,
    connection_args,
)

__all__ = [
    "CopyFileToRemote",
    "CopyFileToRemoteArgs",
    "LocalCommand",
    "LocalCommandArgs",
    "RemoteCommand",
    "RemoteCommandArgs",
    "cmd",
    "connection_args",
    "fail",
    "install_from_stdin",
    "script",
    "sudo_script",
    "when",
]
