"""The LB's active health check in containers mode (docs/hung-backends.md): a container next to nginx,
``wayshub-<stack>-lb-health``, that runs the VM path's checker (components/load_balancer/host/backend-health.sh,
the same file, as its command) in the nginx container's network namespace, so that its ``ss -K`` ends nginx's
own connections to a hung app container. Its settings are the VM path's (``checker_env``: ``lb.healthCheck``,
``app.health``); none with ``lb.healthCheck.enabled: false``.

It probes the serving slot of each app server, by address: a slot with no container does not refuse a probe,
its address is silent (no ARP answer), which reads as hung. So a release that moves a server to its other slot
re-creates the checker, after the last switch (site.py).

It joins nginx's namespace by nginx's container id, so a new nginx container makes a new checker. Docker does
not move it along when nginx restarts by itself: its healthcheck (host/lb-health-netns.sh) then ends it, and its
restart policy starts it again in nginx's namespace of now.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from components.containers.args import ContainerSiteArgs
from components.containers.spec import ContainerSpec, Healthcheck, slot_address
from components.hosts.address import host_port
from components.layout import container_name
from components.load_balancer.health_check import SCRIPT_SOURCE, checker_env

NETNS_CHECK = Path(__file__).resolve().parent / "host" / "lb-health-netns.sh"
ROLE = "lb-health"


def lb_health_name(args: ContainerSiteArgs) -> str:
    return f"{container_name(args.stack, args.lb_server)}-health"


def checked_backends(args: ContainerSiteArgs, slots: Mapping[str, str]) -> list[str]:
    """``address:port`` of each app server's container in ``slots`` (the slots serving after this `up`)."""
    return [host_port(slot_address(args, i, slots[server]), args.app_port) for i, server in enumerate(args.app_servers)]


def lb_health_spec(args: ContainerSiteArgs, slots: Mapping[str, str]) -> ContainerSpec | None:
    """The checker container (the nginx image: curl, ss), or None when ``lb.healthCheck`` is off. Root (``ss -K``
    needs CAP_NET_ADMIN in nginx's namespace, which Docker gives no other user) with that capability only, no new
    privileges, a read-only root with a small /tmp; SIGTERM ends it at once (the image's SIGQUIT is nginx's)."""
    if not args.lb.health_check.enabled:
        return None
    nginx = container_name(args.stack, args.lb_server)
    return ContainerSpec(
        name=lb_health_name(args),
        hostname="",
        role=ROLE,
        ipv4_address="",
        env=checker_env(checked_backends(args, slots), args.lb, args.app.health),
        healthcheck=Healthcheck(
            test=("CMD", "bash", "-c", NETNS_CHECK.read_text(), "lb-health-netns", str(args.lb.listen_port), "1"),
            start_period="10s",
        ),
        labels={"wayshub.stack": args.stack, "wayshub.role": ROLE},
        read_only=True,
        tmpfs={"/tmp": "rw,noexec,nosuid,size=1m"},
        cap_drop=("ALL",),
        cap_add=("NET_ADMIN",),
        stop_signal="SIGTERM",
        command=("bash", "-c", SCRIPT_SOURCE.read_text(), "backend-health"),
        network_of=nginx,
    )
