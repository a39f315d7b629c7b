"""Hosts-layer program for the real engine: N sandbox VMs, each asked over SSH who it is."""

import pulumi

from components.hosts import SandboxNetwork, SandboxNetworkArgs, SandboxVm, SandboxVmArgs
from components.shell.command import remote

config = pulumi.Config()
stack = pulumi.get_stack()
names = config.require_object("names")
subnet_prefix = config.require("subnetPrefix")  # the first three octets of a /24 the test owns (tests/e2e/slots.py)
ssh_port_base = config.require_int("sshPortBase")

network = SandboxNetwork(
    "sandbox", SandboxNetworkArgs(network=f"wayshub-{stack}", subnet=f"{subnet_prefix}.0/24", stack=stack)
)
for index, name in enumerate(names):
    vm = SandboxVm(
        name,
        SandboxVmArgs(
            hostname=name,
            container_name=f"wayshub-{stack}-{name}",
            image=config.require("image"),
            network=network,
            private_address=f"{subnet_prefix}.{10 + index}",
            ssh_port=ssh_port_base + index,
            stack=stack,
        ),
    )
    whoami = remote.Command(
        f"{name}-whoami",
        pulumi.ResourceOptions(depends_on=[vm.container]),
        connection=vm.connection,
        create="systemctl is-system-running --wait; hostname",
    )
    pulumi.export(f"{name}_answer", whoami.stdout)
    pulumi.export(f"{name}_host_key", vm.host_key)
