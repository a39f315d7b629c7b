"""``ExistingHost``: a server you already run (a VM, a cloud instance), described in stack config."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.hosts.host import Host
from components.shell import RemoteCommand, RemoteCommandArgs, connection_args


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


class ExistingHost(pulumi.ComponentResource):
    """Outputs the same ``connection``/``private_address`` as a sandbox VM; checks SSH works before use."""

    def __init__(self, name: str, args: ExistingHostArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wayshub:hosts:ExistingHost", name, None, opts)
        self.private_address = pulumi.Output.from_input(args.private_address)
        self.connection = pulumi.Output.from_input(
            connection_args(
                host=args.address,
                port=args.ssh_port,
                user=args.user,
                private_key=pulumi.Output.secret(args.private_key),
                host_key=args.host_key,
                dial_timeout_seconds=args.dial_timeout_seconds,
            )
        )
        # Fails early, naming the host, when SSH or sudo does not work; later layers wait for it.
        self.probe = RemoteCommand(
            f"{name}-probe",
            RemoteCommandArgs(connection=self.connection, create="sudo -n true && hostname"),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.host = Host(args.hostname, self.connection, self.private_address, self.probe)
        self.register_outputs({"private_address": self.private_address})
