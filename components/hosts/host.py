"""What the hosts layer hands to the next layers, whatever made the host."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from components.hosts.address import host_port
from components.shell import cmd
from components.shell.command import local, remote


@dataclass(frozen=True)
class Host:
    """A server the app or LB layer deploys to.

    ``connection`` is how Pulumi reaches it over SSH (maybe a published port on 127.0.0.1);
    ``private_address`` is how the other servers reach it (like a cloud VM's private IP).
    """

    name: str
    connection: remote.ConnectionArgs
    private_address: pulumi.Output[str]
    ready: pulumi.Resource

    def endpoint(self, port: int) -> pulumi.Output[str]:
        """Where the other servers reach ``port`` on this host (an nginx upstream, a health probe)."""
        return pulumi.Output.from_input(self.private_address).apply(lambda address: host_port(address, port))


def gate(name: str, after: Sequence[pulumi.Resource], opts: pulumi.ResourceOptions | None = None) -> pulumi.Resource:
    """A step that runs nothing and finishes only after every one of ``after``: what hosts wait behind."""
    return local.Command(
        name, pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=list(after))), create=cmd("true")
    )
