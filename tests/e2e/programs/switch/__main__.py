"""A small program whose command resources can be declared under two type tokens (for scripts/switch-commands).

``wayshub:commands`` picks the token: ``builtin`` (``pulumi-python:dynamic/wayshub:LocalCommand``) or
``renamed`` (``pulumi-python:dynamic/renamed:LocalCommand``): the same provider, the same inputs, only
every URN differs, as a switch to pulumi-command's ``command:local:Command`` does. What the deletes
would tear down is visible: ``marker`` removes a file, ``service`` stops a process; every create and
delete appends a line to ``<dir>/log``. Both creates are idempotent deploy steps, like the real program's.
``wayshub:extra`` adds one more resource (so a test can remove it: a change besides the switch);
``wayshub:slow`` one whose create takes two minutes (so a test can interrupt an `up`).
"""

from __future__ import annotations

import subprocess
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, Resource, ResourceProvider


class Commands(ResourceProvider):
    """create runs ``create``, delete runs ``delete`` (bash, where `pulumi up` runs)."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        run = subprocess.run(["bash", "-c", props["create"]], capture_output=True, text=True, check=True)
        return CreateResult(id_=props["name"], outs={**props, "stdout": run.stdout})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        subprocess.run(["bash", "-c", props["delete"]], check=True)


class BuiltinCommand(Resource, module="wayshub", name="LocalCommand"):
    stdout: pulumi.Output[str]


class RenamedCommand(Resource, module="renamed", name="LocalCommand"):
    stdout: pulumi.Output[str]


class Site(pulumi.ComponentResource):
    def __init__(self, name: str, folder: str, backend: str, extra: bool, slow: bool) -> None:
        super().__init__("wayshub:test:Site", name, None)
        command = RenamedCommand if backend == "renamed" else BuiltinCommand
        log = f'>> "{folder}/log"'
        # Idempotent: writes the same file again.
        marker = (
            f'echo "create marker" {log}; echo deployed > "{folder}/marker"',
            f'echo "delete marker" {log}; rm -f "{folder}/marker"',
        )
        # Idempotent: a service already running is left running (same pid).
        service = (
            f'echo "create service" {log}; pid=$(cat "{folder}/service.pid" 2>/dev/null) && kill -0 "$pid" 2>/dev/null'
            f' || {{ setsid sleep 100000 >/dev/null 2>&1 < /dev/null & echo $! > "{folder}/service.pid"; }}; cat "{folder}/service.pid"',
            f'echo "delete service" {log}; kill "$(cat "{folder}/service.pid")"; rm -f "{folder}/service.pid"',
        )
        steps = {"marker": marker, "service": service}
        if extra:
            steps["extra"] = (f'echo "create extra" {log}', f'echo "delete extra" {log}')
        if slow:  # a create that takes long enough for a test to interrupt the up
            steps["slow"] = (
                f'echo "create slow" {log}; echo $$ > "{folder}/slow.pid"; exec sleep 120',
                f'echo "delete slow" {log}',
            )
        child = pulumi.ResourceOptions(parent=self)
        made: dict[str, BuiltinCommand | RenamedCommand] = {
            role: command(Commands(), f"{name}-{role}", {"name": role, "create": c, "delete": d, "stdout": None}, child)
            for role, (c, d) in steps.items()
        }
        self.service_pid = made["service"].stdout.apply(str.strip)
        self.register_outputs({"service_pid": self.service_pid})


config = pulumi.Config("wayshub")
site = Site(
    "site",
    pulumi.Config().require("dir"),
    config.get("commands") or "builtin",
    extra=config.get_bool("extra") or False,
    slow=config.get_bool("slow") or False,
)
pulumi.export("service_pid", site.service_pid)
