"""Hosts layer: servers to deploy to, each giving an SSH connection and a private address."""

from components.hosts.existing import ExistingHost, ExistingHostArgs, existing_hosts
from components.hosts.host import Host
from components.hosts.sandbox import SandboxNetwork, SandboxNetworkArgs, SandboxVm, SandboxVmArgs
from components.hosts.ssh_key import SshKeyPair

__all__ = [
    "ExistingHost",
    "ExistingHostArgs",
    "Host",
    "SandboxNetwork",
    "SandboxNetworkArgs",
    "SandboxVm",
    "SandboxVmArgs",
    "SshKeyPair",
    "existing_hosts",
]
