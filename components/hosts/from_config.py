"""Declare the stack's servers from its validated config: sandbox VMs or existing hosts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi

from components.cache import cache_root
from components.config import NAMESPACE, SSH_PRIVATE_KEY_SETTING, ConfigError, StackConfig
from components.config.hosts import sandbox_addresses
from components.hosts.existing import ExistingHostArgs, existing_hosts
from components.hosts.host import Host
from components.hosts.sandbox import SandboxNetwork, SandboxNetworkArgs, SandboxVm, SandboxVmArgs
from components.hosts.ssh_key import public_key_of
from components.layout import container_name, stack_label
from components.shell import ssh
from components.shell.command import remote


@dataclass(frozen=True)
class Servers:
    app: list[Host]
    # The load balancers in config order: one, or two sharing an address (hosts.lbServers).
    lbs: list[Host]
    # The authorized_keys line every server must accept (the stack's key pair, or the user's key).
    ssh_public_key: pulumi.Output[str]

    @property
    def lb(self) -> Host:
        """The first load balancer (the only one without failover)."""
        return self.lbs[0]


def apt_cache_root() -> str:
    """Where sandbox VMs keep apt downloads between re-creations (one folder per VM: no lock fights)."""
    return str(cache_root() / "apt")


def check_known_host_keys(config: StackConfig) -> None:
    """With pulumi-command, which checks a host key only when given one: every server without a pinned
    ``hostKey`` must be in the known_hosts file now, else one line naming both, before any resource.
    (Our built-in backend refuses such a server when it connects: its probe fails, naming the file.)"""
    hosts = config.hosts
    if hosts.provider != "existing":
        return
    path = Path(hosts.known_hosts_file) if hosts.known_hosts_file else ssh.KNOWN_HOSTS
    for where, server in hosts.keyed_servers:
        if server.host_key is not None:
            continue
        try:
            remote.require_known_host_key(server.address or "", server.ssh_port or 22, path)
        except remote.UnknownHostKey as err:
            raise ConfigError(
                f"wayshub:hosts.{where}.hostKey: server {server.name}: {err} "
                "(pulumi-command checks only a key it is given: pin hostKey, or list the server in that file)"
            ) from None


def declare_servers(
    config: StackConfig,
    stack: str,
    ssh_private_key: pulumi.Output[str] | None,
    opts: pulumi.ResourceOptions | None = None,
) -> Servers:
    """One host per configured server; for sandbox VMs the LB's ports are published on 127.0.0.1. Existing
    servers are reached with ``ssh_private_key`` (wayshub:sshPrivateKey, which the config checks require).
    ``opts``: every top-level resource's (its parent)."""
    hosts = config.hosts
    if hosts.provider == "existing":
        if ssh_private_key is None:
            raise ConfigError(f"{NAMESPACE}:{SSH_PRIVATE_KEY_SETTING}: is required with hosts.provider 'existing'")
        key = ssh_private_key
        existing = existing_hosts(
            [
                ExistingHostArgs(
                    hostname=server.name,
                    address=server.address or "",
                    ssh_port=server.ssh_port or 22,
                    user=server.user or hosts.user,
                    private_key=key,
                    private_address=server.private_address or server.address or "",
                    host_key=server.host_key,
                    dial_timeout_seconds=hosts.dial_timeout_seconds,
                    known_hosts_file=hosts.known_hosts_file,
                )
                for server in hosts.all_servers
            ],
            opts=opts,
        )
        # The public half of the user's key is no secret: servers need it in authorized_keys.
        public_key = pulumi.Output.unsecret(key.apply(lambda text: public_key_of(text, stack_label(stack))))
        count = len(hosts.app_servers)
        return Servers(app=existing[:count], lbs=existing[count:], ssh_public_key=public_key)

    sandbox = config.sandbox
    network = SandboxNetwork(
        "sandbox", SandboxNetworkArgs(network=sandbox.network, subnet=sandbox.subnet, stack=stack), opts
    )
    first_lb, *other_lbs = hosts.load_balancers
    # SSH ports in this order (the first LB, the app servers, then a second LB), so adding one moves none.
    ordered = [first_lb, *hosts.app_servers, *other_lbs]
    lb_addresses, app_addresses = sandbox_addresses(sandbox.subnet, len(hosts.app_servers), len(hosts.load_balancers))
    addresses = [lb_addresses[0], *app_addresses, *lb_addresses[1:]]
    # Both ports always: turning TLS on or off must not re-create the LB VM. Two LBs publish none: this
    # machine reaches their shared address on the sandbox network itself (docs/failover.md).
    lb_ports = [(sandbox.http_port, config.lb.listen_port), (sandbox.https_port, config.lb.https_port)]
    lb_names = {server.name for server in hosts.load_balancers}
    vms = [
        SandboxVm(
            server.name,
            SandboxVmArgs(
                hostname=server.name,
                container_name=container_name(stack, server.name),
                image=sandbox.image,
                network=network,
                private_address=address,
                ssh_port=server.ssh_port or sandbox.ssh_port_base + index,
                stack=stack,
                user=hosts.user,
                bind_address=sandbox.bind_address,
                published_ports=lb_ports if index == 0 and not hosts.failover else [],
                vrrp=hosts.failover and server.name in lb_names,
                apt_cache_dir=f"{apt_cache_root()}/{stack}-{server.name}",
                dial_timeout_seconds=hosts.dial_timeout_seconds,
            ),
            opts,
        ).host
        for index, (server, address) in enumerate(zip(ordered, addresses, strict=True))
    ]
    count = len(hosts.app_servers)
    return Servers(app=vms[1 : 1 + count], lbs=[vms[0], *vms[1 + count :]], ssh_public_key=network.key.public_key)
