"""Command resources (declared through :mod:`components.shell.command`) and the shell quoting helpers."""

from components.shell.commands import cmd, fail, script, sudo_script, when

__all__ = [
    "cmd",
    "fail",
    "script",
    "sudo_script",
    "when",
]
