"""``VrrpFailover``: two load balancers share one address (``hosts.lbServers``; docs/failover.md).

keepalived (Debian's package) runs on each LB with the configuration ``templates/keepalived.conf.j2``
renders: VRRPv3 by unicast to the other LB, the shared address on the interface that holds the LB's private
address, and a track script (host/keepalived-check.sh) that gives the address up while nginx is down. The
text is the resource's input, so a preview shows the keepalived lines that change. host/keepalived-publish.sh
installs keepalived, checks the new file with ``keepalived --config-test`` before it replaces the old one and
reloads; host/keepalived-unpublish.sh takes the LB out again. A keepalived configuration that is not ours (its
first line is not our mark) is never replaced or removed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi

from components.config import FailoverConfig
from components.config.base import check_ip
from components.hosts import Host
from components.load_balancer.nginx import SANDBOX_DROPIN_DIR
from components.load_balancer.state_checks import sha256
from components.render import render
from components.shell.command import remote
from components.shell.host_script import host_script
from components.shell.host_state import Check

HOST_SCRIPTS = Path(__file__).resolve().parent / "host"
CONF = "/etc/keepalived/keepalived.conf"
# The first LB holds the address first; the second takes it when the first fails.
PRIORITIES = (150, 100)


def mark(site_name: str) -> str:
    """The first line of our keepalived configuration: a file without it is someone else's."""
    return f"# wayshub-infra keepalived {site_name}"


def interface_file(site_name: str) -> str:
    """``interface <name>``, included by our keepalived file: the one part found on the server, so the file
    itself is exactly the rendered text (``refresh`` compares it)."""
    return f"/etc/keepalived/{site_name}-interface.conf"


def check_path(site_name: str) -> str:
    return f"/usr/local/lib/wayshub/{site_name}-keepalived-check"


STATE_DIR = "/run/wayshub"


def state_file(site_name: str) -> str:
    """1 while nginx is down, 0 while it runs (our nginx.service drop-in writes it; keepalived tracks it)."""
    return f"{STATE_DIR}/{site_name}-nginx-down"


def dropin_path(site_name: str) -> str:
    return f"{SANDBOX_DROPIN_DIR}/{site_name}-vrrp.conf"


def order_path(site_name: str) -> str:
    """keepalived.service's drop-in: after nginx, so a shutdown stops keepalived (hands the address over) first."""
    return f"/etc/systemd/system/keepalived.service.d/{site_name}-order.conf"


def dropin_text(site_name: str) -> str:
    return render("nginx-vrrp.conf.j2", state_dir=STATE_DIR, state_file=state_file(site_name)).rstrip("\n")


def check_text() -> str:
    return (HOST_SCRIPTS / "keepalived-check.sh").read_text().rstrip("\n")


def written(text: str) -> str:
    """A file as host/keepalived-publish.sh's ``put`` writes ``text``: with one newline at the end."""
    return text + "\n"


def advert_text(seconds: float) -> str:
    """keepalived's ``advert_int`` (seconds, to the centisecond): ``0.25``, ``1``."""
    return f"{seconds:.2f}".rstrip("0").rstrip(".")


def render_config(
    site_name: str,
    server: str,
    own_address: str,
    peers: Sequence[str],
    virtual_address: str,
    priority: int,
    settings: FailoverConfig,
    listen_port: int,
) -> str:
    """keepalived.conf for one LB; every address is checked again here, where it meets the file."""
    return render(
        "keepalived.conf.j2",
        mark=mark(site_name),
        site_name=site_name,
        router_name=f"{site_name}-{server}",
        instance_name=site_name.replace("-", "_"),
        check_name=f"{site_name.replace('-', '_')}_nginx",
        state_name=f"{site_name.replace('-', '_')}_nginx_down",
        state_file=state_file(site_name),
        check_command=f"{check_path(site_name)} {int(listen_port)}",
        interface_file=interface_file(site_name),
        own_address=check_ip(own_address),
        peers=[check_ip(p) for p in peers],
        virtual_address=check_ip(virtual_address),
        virtual_router_id=settings.virtual_router_id,
        priority=priority,
        advert_seconds=advert_text(settings.advert_seconds),
        preempt=settings.preempt,
    )


def publish_command(site_name: str, own_address: str) -> str:
    return host_script(
        HOST_SCRIPTS / "keepalived-publish.sh",
        {
            "CONF": CONF,
            "MARK": mark(site_name),
            "OWN_ADDRESS": check_ip(own_address),
            "INTERFACE_FILE": interface_file(site_name),
            "CHECK": check_path(site_name),
            "CHECK_TEXT": check_text(),
            "DROPIN": dropin_path(site_name),
            "DROPIN_TEXT": dropin_text(site_name),
            "STATE_FILE": state_file(site_name),
            "ORDER": order_path(site_name),
        },
    )


def unpublish_command(site_name: str) -> str:
    return host_script(
        HOST_SCRIPTS / "keepalived-unpublish.sh",
        {
            "CONF": CONF,
            "MARK": mark(site_name),
            "INTERFACE_FILE": interface_file(site_name),
            "CHECK": check_path(site_name),
            "DROPIN": dropin_path(site_name),
            "STATE_FILE": state_file(site_name),
            "ORDER": order_path(site_name),
        },
    )


KEEPALIVED = "keepalived"  # what repairs every part below: the publish, run again


def vrrp_checks(site_name: str, config: pulumi.Output[str]) -> list[Check]:
    """keepalived's file, our track script and nginx drop-in as written, and keepalived running."""
    return [
        Check("content", CONF, config.apply(sha256), KEEPALIVED),
        Check("mode", CONF, "644 root:root", KEEPALIVED),
        Check("content", check_path(site_name), sha256(written(check_text())), KEEPALIVED),
        Check("content", dropin_path(site_name), sha256(written(dropin_text(site_name))), KEEPALIVED),
        Check("active", "keepalived.service", "active", KEEPALIVED),
    ]


@dataclass(frozen=True)
class VrrpFailoverArgs:
    host: Host
    site_name: str
    # The other LBs' private addresses (the unicast peers).
    peers: Sequence[pulumi.Input[str]]
    virtual_address: str
    priority: int
    settings: FailoverConfig
    listen_port: int
    # This LB's published nginx site: an LB claims the address only once it serves the site.
    site: pulumi.Resource
    # The first LB's keepalived, for the second: alone, the first takes the address, then the second joins.
    after: Sequence[pulumi.Resource] = ()


class VrrpFailover(pulumi.ComponentResource):
    """keepalived on one LB; ``config`` is the text it runs with, ``virtual_address`` the shared address."""

    def __init__(self, name: str, args: VrrpFailoverArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wayshub:load_balancer:VrrpFailover", name, None, opts)
        own = pulumi.Output.from_input(args.host.private_address)
        self.config = pulumi.Output.all(own, *args.peers).apply(
            lambda addresses: render_config(
                args.site_name,
                args.host.name,
                addresses[0],
                addresses[1:],
                args.virtual_address,
                args.priority,
                args.settings,
                args.listen_port,
            )
        )
        # What refresh reads back; a drifted part runs the publish again (docs/drift.md).
        self.state = remote.HostState(
            f"{name}-state",
            pulumi.ResourceOptions(parent=self, depends_on=[args.host.ready]),
            connection=args.host.connection,
            host=args.host.name,
            checks=vrrp_checks(args.site_name, self.config),
        )
        self.keepalived = remote.Command(
            f"{name}-keepalived",
            pulumi.ResourceOptions(parent=self, depends_on=[args.site, self.state, *args.after]),
            connection=args.host.connection,
            create=own.apply(lambda address: publish_command(args.site_name, address)),
            delete=unpublish_command(args.site_name),
            stdin=self.config,
            rerun_on=remote.repair_tokens(self.state, [KEEPALIVED]),
        )
        self.virtual_address = args.virtual_address
        self.register_outputs({"virtual_address": self.virtual_address, "config": self.config})
