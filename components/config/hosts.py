"""The servers a stack runs on: each server's settings, the sandbox VMs' network, and the ``hosts`` section
that says which kind they are. Also the private network's layout sandbox VMs and containers share."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from components.config.base import (
    Model,
    Port,
    Text,
    check_address,
    check_host_name,
    check_loopback,
    check_private_subnet,
    check_user_name,
    not_in_containers,
    repeated,
    shown,
)

# The private network's layout (sandbox VMs and containers): the LB at .10, app servers from .11 on, in
# config order; the last address is the broadcast address. With two LBs (`hosts.lbServers`) the second is at
# .9 and the address they share (VRRP) at .5, unless `lb.failover.virtualAddress` says otherwise.
LB_HOST_INDEX = 10
# Where a takeover (hosts.takeover) keeps copies of what it disables or stops, on each server.
TAKEOVER_BACKUP_DIR = "/var/backups/wayshub-takeover"
VIRTUAL_HOST_INDEX = 5


def host_address(subnet: str, index: int) -> str:
    """``index`` 0 is the LB (``.10``), 1… the app servers (``.11``…)."""
    return str(ipaddress.ip_network(subnet)[LB_HOST_INDEX + index])


def lb_address(subnet: str, lb_index: int) -> str:
    """The ``lb_index``-th load balancer's address: ``.10``, then ``.9`` (below the app servers)."""
    return str(ipaddress.ip_network(subnet)[LB_HOST_INDEX - lb_index])


def sandbox_addresses(subnet: str, app_servers: int, lbs: int) -> tuple[list[str], list[str]]:
    """The sandbox LBs' addresses and the app servers', each in config order."""
    return [lb_address(subnet, i) for i in range(lbs)], [host_address(subnet, i + 1) for i in range(app_servers)]


def virtual_address(subnet: str) -> str:
    """The address two sandbox LBs share by default (``.5``)."""
    return str(ipaddress.ip_network(subnet)[VIRTUAL_HOST_INDEX])


def app_server_room(subnet: str) -> int:
    """How many app servers fit in ``subnet`` after the LB's address."""
    return ipaddress.ip_network(subnet).num_addresses - LB_HOST_INDEX - 2


def check_server_names(names: Sequence[str]) -> None:
    """Every server (app servers and the LB) has a name of its own."""
    duplicates = repeated(names)
    if duplicates:
        raise ValueError(f"server names must be unique, {', '.join(duplicates)} repeated")


class ServerConfig(Model):
    """One server. For ``sandbox`` only ``name`` (and ``sshPort``) apply; ``existing`` needs ``address``."""

    name: Text = Field(description="the server's name: lowercase letters, digits or `-`, unique in the stack")
    address: Text | None = Field(
        default=None,
        description="`existing` (required there): the IP address or host name SSH reaches",
        json_schema_extra=not_in_containers("only server names apply: one container per server"),
    )
    ssh_port: Port | None = Field(
        default=None,
        alias="sshPort",
        description="`existing`: the server's SSH port",
        json_schema_extra={
            **shown("`22` (sandbox: from `sandbox.sshPortBase`)"),
            **not_in_containers("only server names apply: one container per server"),
        },
    )
    user: Text | None = Field(
        default=None,
        description="`existing`: the SSH user for this server",
        json_schema_extra={
            **shown("`hosts.user`"),
            **not_in_containers("only server names apply: one container per server"),
        },
    )
    private_address: Text | None = Field(
        default=None,
        alias="privateAddress",
        description="`existing`: the address the LB reaches this server's app on",
        json_schema_extra={
            **shown("`address`"),
            **not_in_containers("only server names apply: one container per server"),
        },
    )
    host_key: Text | None = Field(
        default=None,
        alias="hostKey",
        description="the server's pinned host key (`ssh-ed25519 AAAA…`, a known_hosts line without the host name): any other is refused",
        json_schema_extra=not_in_containers("only server names apply: one container per server"),
    )

    _name = field_validator("name")(check_host_name)

    @field_validator("address", "private_address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        return None if value is None else check_address(value)

    @field_validator("host_key")
    @classmethod
    def _host_key(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"(ssh-ed25519|ecdsa-sha2-nistp\d+|ssh-rsa) [A-Za-z0-9+/=]+", value):
            raise ValueError("must be '<type> <base64>' as in a known_hosts line without the host name")
        return value

    @field_validator("user")
    @classmethod
    def _user(cls, value: str | None) -> str | None:
        return None if value is None else check_user_name(value)


class SandboxConfig(Model):
    """Local sandbox VMs: Docker containers with systemd + sshd on one network."""

    image: Text = Field(default="wayshub/sandbox-vm:bookworm", description="the VM image `scripts/sandbox-image` makes")
    network: Text = Field(default="wayshub-local", description="the sandbox VMs' own Docker network")
    subnet: Text = Field(
        default="172.30.77.0/24",
        description="the network's private IPv4 subnet (≥ /28): the LB gets `.10`, app servers `.11`, `.12`, … in config order",
    )
    ssh_port_base: Port = Field(
        default=2220,
        alias="sshPortBase",
        description="SSH of the LB on `bindAddress`:this port, app servers on the next ports in config order",
    )
    http_port: Port = Field(default=8080, alias="httpPort", description="the LB's port 80 published on `bindAddress`")
    https_port: Port = Field(
        default=8443, alias="httpsPort", description="the LB's port 443 published on `bindAddress`"
    )
    bind_address: Text = Field(
        default="127.0.0.1",
        alias="bindAddress",
        description="where the sandbox ports are published: a loopback address, so they never leave this machine",
    )

    @field_validator("subnet")
    @classmethod
    def _subnet(cls, value: str) -> str:
        return check_private_subnet(value, example="172.30.77.0/24")

    @field_validator("bind_address")
    @classmethod
    def _loopback(cls, value: str) -> str:
        return check_loopback(value, why="sandbox ports are never published beyond this machine")


class HostsConfig(Model):
    provider: Literal["sandbox", "existing", "containers"] = Field(
        default="sandbox",
        description="`sandbox` (VMs on this machine), `existing` (your servers over SSH) or `containers` (Docker containers, pulumi-docker; only server names apply)",
    )
    app_servers: list[ServerConfig] = Field(
        alias="appServers", min_length=1, description="the app servers (at least one), each a server as below"
    )
    lb_server: ServerConfig | None = Field(
        default=None,
        alias="lbServer",
        description="the load-balancer server, same keys (required unless `lbServers` is set)",
    )
    lb_servers: Annotated[list[ServerConfig], Field(min_length=2, max_length=2)] | None = Field(
        default=None,
        alias="lbServers",
        description="instead of `lbServer`: two load balancers sharing `lb.failover.virtualAddress` by VRRP "
        "(keepalived): the first holds it, the other takes it over when it fails (docs/failover.md)",
        json_schema_extra=not_in_containers("containers mode runs one nginx container"),
    )
    user: Text = Field(
        default="deploy",
        description="the SSH login user (needs passwordless sudo; never the app's user, `app.name`); sandbox VMs make it at first boot",
        json_schema_extra=not_in_containers("containers mode has no servers and no SSH"),
    )
    allow_lb_on_app_server: bool = Field(
        default=False,
        alias="allowLbOnAppServer",
        description="`existing`: let the LB share an app server's address",
        json_schema_extra=not_in_containers("containers mode has no servers and no SSH"),
    )
    dial_timeout_seconds: Annotated[int, Field(ge=1, le=600)] = Field(
        default=60,
        alias="dialTimeoutSeconds",
        description="how long to keep trying to reach a server over SSH",
        json_schema_extra=not_in_containers("containers mode has no servers and no SSH"),
    )
    # Stored as an absolute path.
    known_hosts_file: Text | None = Field(
        default=None,
        alias="knownHostsFile",
        min_length=1,
        description="`existing`: the known_hosts file that vouches for servers without a pinned `hostKey`",
        json_schema_extra={
            **shown("`~/.ssh/known_hosts`"),
            **not_in_containers("containers mode has no servers and no SSH"),
        },
    )
    takeover: bool = Field(
        default=False,
        description="`existing`: a hand-run app on the app's port or a hand-written nginx site for the domain stops the "
        f"`up` before any change; `true` takes them over, keeping copies under {TAKEOVER_BACKUP_DIR} (docs/hosts.md)",
        json_schema_extra=not_in_containers("containers mode has no servers and no SSH"),
    )

    @field_validator("known_hosts_file")
    @classmethod
    def _known_hosts(cls, value: str | None) -> str | None:
        if value is None:
            return None
        path = Path(value).expanduser().absolute()
        if not path.is_file():
            raise ValueError(
                f"{path} is not a file (write each server's host key line into it, read on its console: docs/hosts.md)"
            )
        return str(path)

    _user = field_validator("user")(check_user_name)

    @model_validator(mode="after")
    def _servers(self) -> HostsConfig:
        if self.lb_server is None and self.lb_servers is None:
            raise ValueError("lbServer is required (or lbServers: two load balancers sharing an address)")
        if self.lb_server is not None and self.lb_servers is not None:
            raise ValueError("set lbServer (one load balancer) or lbServers (two sharing an address), not both")
        check_server_names([s.name for s in self.all_servers])
        if self.known_hosts_file is not None and self.provider != "existing":
            raise ValueError("knownHostsFile applies only with provider 'existing' (sandbox VMs pin their keys)")
        if self.takeover and self.provider != "existing":
            raise ValueError("takeover applies only with provider 'existing' (the program makes the other servers)")
        if self.provider == "existing":
            for where, server in self.keyed_servers:
                if server.address is None:
                    raise ValueError(f"{where}.address is required with provider 'existing'")
            app_addresses = [(s.address, s.ssh_port or 22) for s in self.app_servers]
            if len(set(app_addresses)) != len(app_addresses):
                raise ValueError("two app servers share the same address and sshPort")
            lbs = [(where, (s.address, s.ssh_port or 22)) for where, s in self.keyed_servers[len(self.app_servers) :]]
            if len({lb for _, lb in lbs}) != len(lbs):
                raise ValueError("the two lbServers share the same address and sshPort")
            for where, lb in lbs:
                if lb in app_addresses and not self.allow_lb_on_app_server:
                    raise ValueError(
                        f"{where}.address {lb[0]} is also an app server: set hosts.allowLbOnAppServer: true to share it"
                    )
        return self

    @property
    def load_balancers(self) -> list[ServerConfig]:
        """The LB servers: ``lbServers``, else the one ``lbServer``."""
        if self.lb_servers is not None:
            return list(self.lb_servers)
        assert self.lb_server is not None  # the validator requires one of the two
        return [self.lb_server]

    @property
    def failover(self) -> bool:
        """Two LBs sharing a virtual address (``lbServers``)."""
        return self.lb_servers is not None

    @property
    def all_servers(self) -> list[ServerConfig]:
        return [*self.app_servers, *self.load_balancers]

    @property
    def keyed_servers(self) -> list[tuple[str, ServerConfig]]:
        """Every server with the key a message names it by (``appServers[0]``, ``lbServer``, ``lbServers[1]``)."""
        lbs = (
            [(f"lbServers[{i}]", s) for i, s in enumerate(self.lb_servers)]
            if self.lb_servers is not None
            else [("lbServer", self.load_balancers[0])]
        )
        return [*((f"appServers[{i}]", s) for i, s in enumerate(self.app_servers)), *lbs]
