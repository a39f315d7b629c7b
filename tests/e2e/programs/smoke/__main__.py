"""Smoke program for the real engine: one local command that writes a file and removes it on delete."""

import pulumi

from components.shell import cmd
from components.shell.command import local

target = pulumi.Config().require("target")
marker = local.Command(
    "marker",
    create=cmd("sh", "-c", 'printf "%s\\n" "$1" > "$2" && cat "$2"', "sh", "hello from wayshub", target),
    delete=cmd("rm", "-f", target),
)
pulumi.export("stdout", marker.stdout)
