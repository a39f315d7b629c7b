"""Smoke program for the real engine: one local command that writes a file and removes it on delete."""

import pulumi

from components.shell import LocalCommand, LocalCommandArgs, cmd

target = pulumi.Config().require("target")
marker = LocalCommand(
    "marker",
    LocalCommandArgs(
        create=cmd("sh", "-c", 'printf "%s\\n" "$1" > "$2" && cat "$2"', "sh", "hello from wayshub", target),
        delete=cmd("rm", "-f", target),
    ),
)
pulumi.export("stdout", marker.stdout)
