"""Command resources (declared through :mod:`components.shell.command`) and the shell quoting helpers."""

from components.shell.commands import cmd, fail, install_from_stdin, script, sudo_script, when

__all__ = [
    "cmd",
    "fail",
    "install_from_stdin",
    "script",
    "sudo_script",
    "when",
]
