"""Servers you already run (VMs, cloud instances), described in stack config.

``ExistingHost`` is one server and its probe (SSH login with the stack's key, a host key we can vouch
for, passwordless sudo). ``existing_hosts`` declares them all behind one gate: nothing is deployed on
any server until every server's probe has passed, so one misconfigured server leaves the others
untouched too, and all failing servers are reported at once (the probes run in parallel).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from components.hosts.host import Host, gate
from components.hosts.probe import HostProbe
from components.shell.command import remote


@dataclass(frozen=True)
class ExistingHostArgs:
    hostname: str
    address: str
    ssh_port: int
    user: str
    private_key: pulumi.Input[str]
    private_address: str
    host_key: str | None = None
    dial_timeout_seconds: float = 60.0
    # Without a pinned host_key, the known_hosts file that must list the server (default ~/.ssh/known_hosts).
    known_hosts_file: str | None = None


class ExistingHost(pulumi.ComponentResource):
    """Outputs the same ``connection``/``private_address`` as a sandbox VM; ``probe`` checks SSH and sudo."""

    def __init__(self, name: str, args: ExistingHostArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wayshub:hosts:ExistingHost", name, None, opts)
        self.hostname = args.hostname
        self.private_address = pulumi.Output.from_input(args.private_address)
        self.connection = remote.ConnectionArgs(
            host=args.address,
            port=args.ssh_port,
            user=args.user,
            private_key=pulumi.Output.secret(args.private_key),
            host_key=args.host_key,
            dial_timeout_seconds=args.dial_timeout_seconds,
            known_hosts_file=args.known_hosts_file,
        )
        self.probe = HostProbe(
            f"{name}-probe", args.hostname, self.connection.builtin(), opts=pulumi.ResourceOptions(parent=self)
        )
        self.register_outputs({"private_address": self.private_address})


def existing_hosts(
    servers: Sequence[ExistingHostArgs], gate_name: str = "preflight", opts: pulumi.ResourceOptions | None = None
) -> list[Host]:
    """One ``ExistingHost`` per server; each host is ``ready`` once every probe has passed."""
    hosts = [ExistingHost(args.hostname, args, opts) for args in servers]
    # Every deployment waits behind one step that follows every probe.
    ready = gate(gate_name, [host.probe for host in hosts], opts)
    return [Host(host.hostname, host.connection, host.private_address, ready) for host in hosts]
