"""The two commands containers mode runs where ``pulumi up`` runs (docker CLI): an app server's switch to its
new container (``host/switch.sh``: health gate, upstream file, ``nginx -t``, graceful reload) and the nginx
site's update in the running LB container (``host/site.sh``). Each is ``bash -c`` of its UPPER_CASE inputs,
then ``host/lib.sh``, then the script: the whole text is the resource's input, so a preview shows what runs."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from components.containers.args import ContainerSiteArgs
from components.containers.spec import CONF_D, site_conf, site_path, upstream_path, upstream_text
from components.layout import container_name
from components.load_balancer.nginx import CAPACITY_SCRIPT, capacity_inputs
from components.shell import cmd

HOST_SCRIPTS = Path(__file__).resolve().parent / "host"
# After a reload, how long nginx's old workers get to hand over before the next server switches (and, after
# the last, before the engine removes the old containers): the reload itself is asynchronous.
SETTLE_SECONDS = 2
LOG_LINES = 20
__all__ = ["CONF_D", "Switch", "capacity_command", "local_script", "site_command", "switch_command"]


def local_script(script: str, inputs: Mapping[str, str]) -> str:
    """``bash -c`` of ``host/<script>``: its inputs first (each value quoted), then lib.sh, then the script."""
    assignments = "".join(f"{name}={shlex.quote(value)}\n" for name, value in inputs.items())
    body = (HOST_SCRIPTS / "lib.sh").read_text() + (HOST_SCRIPTS / script).read_text()
    return cmd("bash", "-c", assignments + body)


@dataclass(frozen=True)
class Switch:
    """One app server's switch: to ``container`` (in ``slot``, running ``release``/``key``); ``previous``: the
    release it ran before ("" when none), kept in the step's output for the next `up` (rollout.py)."""

    server: str
    container: str
    slot: str
    key: str
    release: str
    previous: str = ""


def switch_command(args: ContainerSiteArgs, switch: Switch) -> str:
    return local_script(
        "switch.sh",
        {
            "CONTAINER": switch.container,
            "RELEASE": switch.release,
            "KEY": switch.key,
            "SLOT": switch.slot,
            "PREVIOUS": switch.previous or "-",
            "LB": container_name(args.stack, args.lb_server),
            "UPSTREAM_FILE": upstream_path(args, switch.server),
            "UPSTREAM_TEXT": upstream_text(args, switch.server, switch.slot),
            "HEALTH_TIMEOUT": str(args.app.health.timeout_seconds),
            "SETTLE": str(SETTLE_SECONDS),
            "LOG_LINES": str(LOG_LINES),
        },
    )


def site_command(args: ContainerSiteArgs) -> str:
    return local_script(
        "site.sh",
        {"LB": container_name(args.stack, args.lb_server), "SITE_FILE": site_path(args), "SITE_TEXT": site_conf(args)},
    )


def capacity_command(args: ContainerSiteArgs) -> str:
    """nginx's capacity in the running LB container, by the VM path's script (its nginx.conf is the container's
    own: made again with the container, when this step runs again)."""
    inputs = capacity_inputs(args.stack, args.lb, "apply", "signal")
    assignments = "".join(f"{name}={shlex.quote(value)}\n" for name, value in inputs.items())
    lb = container_name(args.stack, args.lb_server)
    return cmd("docker", "exec", lb, "bash", "-c", assignments + CAPACITY_SCRIPT.read_text())
