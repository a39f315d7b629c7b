"""What one stack may set: ``StackConfig`` (every section, and the rules that span sections) and the
settings the program reads on their own (``SEPARATE_SETTINGS``: secrets, the TLS certificate, the command
backend). The models are the one source of truth: each field carries its description and default, and
Pulumi.yaml's ``config:`` section and docs/config.md are generated from them (components/config_reference.py).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from pydantic import Field, field_validator, model_validator

from components.config.app import AppConfig
from components.config.base import NAMESPACE, Model, Text, containers_ignored, not_in_containers
from components.config.containers import ContainersConfig, check_containers_site
from components.config.hosts import HostsConfig, SandboxConfig, sandbox_addresses, virtual_address
from components.config.load_balancer import FailoverConfig, LoadBalancerConfig, RolloutConfig
from components.config.names import DNS_TSIG_SETTING, DnsConfig, HostsFileConfig, in_zone
from components.config.sites import SiteConfig, SiteView, check_domain, check_process_servers, check_sites, site_views


class StackConfig(Model):
    """Everything one stack declares, after validation."""

    domain: Text = Field(description="the site's domain: nginx `server_name`, hosts entry, URL; e.g. `wayshub.local`")
    hosts: HostsConfig = Field(description="the servers: sandbox VMs, your existing servers, or containers")
    sandbox: SandboxConfig = Field(
        default_factory=SandboxConfig,
        description="sandbox VMs (`hosts.provider: sandbox`): Docker containers with systemd and sshd",
        json_schema_extra=not_in_containers("containers mode makes no sandbox VMs"),
    )
    containers: ContainersConfig = Field(
        default_factory=ContainersConfig,
        description="containers mode (`hosts.provider: containers`): the site as Docker containers, with pulumi-docker",
    )
    app: AppConfig = Field(default_factory=AppConfig, description="your Node app and how it runs (docs/app.md)")
    lb: LoadBalancerConfig = Field(
        default_factory=LoadBalancerConfig, description="the load balancer: nginx on the LB server"
    )
    rollout: RolloutConfig = Field(
        default_factory=RolloutConfig, description="how app updates roll out: a batch of hosts at a time, health-gated"
    )
    hosts_file: HostsFileConfig = Field(
        default_factory=HostsFileConfig, alias="hostsFile", description="the managed hosts-file block for the domain"
    )
    dns: DnsConfig | None = Field(
        default=None,
        description="A/AAAA records on your DNS server by RFC 2136 updates signed with TSIG (docs/dns.md); off when absent",
    )
    sites: list[SiteConfig] = Field(
        default_factory=list,
        description="more sites behind the same load balancer, each with its own names, app, servers and TLS (docs/sites.md)",
        json_schema_extra=not_in_containers("one site per stack there for now"),
    )
    production: bool = Field(
        default=False,
        description="this stack serves real users: the policy pack's production rules apply to it (docs/policies.md)",
    )

    @field_validator("production", mode="before")
    @classmethod
    def _production(cls, value: Any) -> Any:
        """A top-level setting reaches the program as text (`wayshub:production: true`)."""
        return {"true": True, "false": False}.get(value, value) if isinstance(value, str) else value

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        return check_domain(value)

    @model_validator(mode="after")
    def _sites(self) -> StackConfig:
        if self.sites:
            # A site's resources are named `<site>-…` (components/layout.py): a server named so would share them.
            for index, site in enumerate(self.sites):
                for server in self.hosts.all_servers:
                    if server.name.startswith(f"{site.name}-"):
                        raise ValueError(
                            f"sites[{index}].name {site.name!r} begins the server name {server.name!r}: their "
                            "resources would share names; rename one"
                        )
            check_sites(self.domain, self.app, self.lb.tls, self.app_server_names, self.sites)
        check_process_servers(self.all_sites)
        return self

    @property
    def app_server_names(self) -> list[str]:
        return [server.name for server in self.hosts.app_servers]

    @property
    def all_sites(self) -> list[SiteView]:
        """The stack's own site (``domain``, ``app``), then each of ``sites``, with their defaults filled in."""
        return list(site_views(self.domain, self.app, self.lb.tls, self.app_server_names, self.sites))

    @model_validator(mode="after")
    def _containers(self) -> StackConfig:
        if self.hosts.provider != "containers":
            return self
        check_containers_site(self.lb.tls, self.containers.subnet, len(self.hosts.app_servers))
        ignored = containers_ignored(self)
        if ignored:
            key, why = ignored[0]
            raise ValueError(f"{key} does not apply with hosts.provider 'containers' ({why}): remove it")
        return self

    @field_validator("dns", mode="before")
    @classmethod
    def _dns_off(cls, value: Any) -> Any:
        # Pulumi.yaml's default `{}` (an absent key): no DNS records.
        return None if value == {} else value

    @model_validator(mode="after")
    def _dns(self) -> StackConfig:
        if self.dns is None:
            return self
        for name in dict.fromkeys([self.domain, *self.dns_records]):
            if not in_zone(name, self.dns.zone):
                raise ValueError(f"dns.zone {self.dns.zone} is not a suffix of the domain {name}")
        if self.hosts.failover:
            return self  # the records point at lb.failover.virtualAddress, an IP address
        lb_address = self.hosts.load_balancers[0].address
        if not self.dns.addresses and self.hosts.provider == "existing" and lb_address is not None:
            try:
                ipaddress.ip_address(lb_address)
            except ValueError:
                raise ValueError(
                    f"dns.addresses is required: lbServer.address {lb_address} is a name, not an IP address"
                ) from None
        return self

    @model_validator(mode="after")
    def _login_user(self) -> StackConfig:
        # The login user has passwordless sudo: the app running as it would be root in all but name.
        if self.hosts.provider == "containers":
            return self
        users = {"hosts.user": self.hosts.user}
        for where, server in self.hosts.keyed_servers:
            if server.user is not None:
                users[f"hosts.{where}.user"] = server.user
        for setting, user in users.items():
            for site in self.all_sites:
                if user == site.app.name:
                    raise ValueError(
                        f"{setting} {user!r} is also {site.where}app.name: the app would run as the SSH login "
                        "user, which has sudo; log in as another user (e.g. deploy) or rename the app"
                    )
        return self

    @model_validator(mode="after")
    def _acme_used(self) -> StackConfig:
        acme_sites = [site.where for site in self.all_sites if site.tls == "acme"]
        if self.lb.acme is not None and not acme_sites:
            raise ValueError(f"lb.acme is set but lb.tls is '{self.lb.tls}' and no site's tls is 'acme'")
        if self.lb.acme is None and acme_sites:
            raise ValueError(f"{acme_sites[0]}tls 'acme' needs lb.acme (at least its directoryUrl)")
        more = [where for where in acme_sites if where]  # the sites of wayshub:sites with ACME
        if self.hosts.failover and more:
            raise ValueError(
                f"{more[0]}tls 'acme' with two load balancers (hosts.lbServers) is for the stack's own site only, "
                "for now: use `self-signed` or `off`"
            )
        return self

    @model_validator(mode="after")
    def _acme_dns(self) -> StackConfig:
        if self.lb.acme is not None and self.lb.acme.challenge == "dns-01" and self.dns is None:
            raise ValueError("lb.acme.challenge 'dns-01' needs wayshub:dns (the TXT record goes through its server)")
        return self

    @model_validator(mode="after")
    def _failover(self) -> StackConfig:
        failover = self.lb.failover
        if not self.hosts.failover:
            if failover.model_fields_set:
                name = sorted(failover.model_fields_set)[0]
                key = FailoverConfig.model_fields[name].alias or name
                raise ValueError(f"lb.failover.{key} applies only with hosts.lbServers (two load balancers)")
            return self
        address = self.virtual_address
        if address is None:
            raise ValueError("lb.failover.virtualAddress is required with hosts.lbServers on your own servers")
        taken = [
            (where, used)
            for where, server in self.hosts.keyed_servers
            for used in (server.address, server.private_address)
            if used is not None
        ]
        if self.hosts.provider == "sandbox":
            subnet = ipaddress.ip_network(self.sandbox.subnet)
            lbs, apps = sandbox_addresses(
                self.sandbox.subnet, len(self.hosts.app_servers), len(self.hosts.load_balancers)
            )
            # The network's own addresses, Docker's gateway (.1), the LBs' and the app servers'.
            reserved = {str(subnet.network_address), str(subnet.broadcast_address), str(subnet[1]), *lbs, *apps}
            if ipaddress.ip_address(address) not in subnet or address in reserved:
                raise ValueError(
                    f"lb.failover.virtualAddress {address} must be a free address in sandbox.subnet {subnet} "
                    "(not its gateway .1, an LB's or an app server's)"
                )
        for where, used in taken:
            if used == address:
                raise ValueError(f"lb.failover.virtualAddress {address} is {where}'s own address: it must be free")
        return self

    @property
    def virtual_address(self) -> str | None:
        """The address two LBs share: ``lb.failover.virtualAddress``, else the sandbox subnet's default."""
        if not self.hosts.failover:
            return None
        given = self.lb.failover.virtual_address
        if given is None and self.hosts.provider == "sandbox":
            return virtual_address(self.sandbox.subnet)
        return given

    @property
    def hosts_entry_address(self) -> str:
        """What the hosts-file entry points at: ``hostsFile.address`` as set, else the LBs' shared address."""
        if "address" not in self.hosts_file.model_fields_set and self.virtual_address is not None:
            return self.virtual_address
        return self.hosts_file.address

    @property
    def dns_records(self) -> list[str]:
        """The names the DNS records are kept for (``dns.records``, else the domain)."""
        return (self.dns.records if self.dns else []) or [site.names[0] for site in self.all_sites if not site.path]

    @property
    def harden_nginx(self) -> bool:
        """``lb.hardenNginx``, else only on servers we made: on someone else's LB the drop-in would confine
        (and its one restart interrupt) every site their nginx serves."""
        return self.lb.harden_nginx if self.lb.harden_nginx is not None else self.hosts.provider == "sandbox"


COMMANDS_SETTING = "commands"
SSH_PRIVATE_KEY_SETTING = "sshPrivateKey"
APP_SECRETS_SETTING = "appSecrets"
TLS_CERTIFICATE_SETTING = "tlsCertificate"
TLS_PRIVATE_KEY_SETTING = "tlsPrivateKey"
SITE_SECRETS_SETTING = "siteSecrets"
SITE_TLS_SETTING = "siteTls"
RELEASE_KEY_SETTING = "releaseKey"
RELEASE_KEY_MIN_LENGTH = 32

# Settings read on their own, not part of StackConfig: secrets (never printed), the TLS certificate, and
# what runs the commands (components/config/checks.py checks each).
SEPARATE_SETTINGS: dict[str, str] = {
    SSH_PRIVATE_KEY_SETTING: "`existing` only: the SSH private key, a secret: "
    "`pulumi config set --secret wayshub:sshPrivateKey < key`",
    APP_SECRETS_SETTING: "secret environment values for the app: "
    "`pulumi config set --secret --path wayshub:appSecrets.API_TOKEN < token-file`; never shown in plain text",
    TLS_CERTIFICATE_SETTING: "`lb.tls: provided`: the PEM certificate chain for the domain",
    TLS_PRIVATE_KEY_SETTING: "`lb.tls: provided`: the certificate's private key (PEM), a secret: "
    "`pulumi config set --secret wayshub:tlsPrivateKey < key.pem`",
    SITE_SECRETS_SETTING: "secret environment values for the apps of `sites`, per site: "
    "`pulumi config set --secret --path 'wayshub:siteSecrets.shop.API_TOKEN' < token-file`; never shown in plain text",
    SITE_TLS_SETTING: "for each site of `sites` with `tls: provided`: its PEM certificate chain and private key, a "
    "secret: `pulumi config set --secret --path 'wayshub:siteTls.shop.certificate' < chain.pem`, then "
    "`…siteTls.shop.privateKey < key.pem`",
    RELEASE_KEY_SETTING: "a random secret (≥ 32 characters) the release id's hash of `appSecrets` is keyed with, so the "
    "public id reveals nothing about them; `make stack` sets one (docs/security.md); required with `appSecrets`",
    DNS_TSIG_SETTING: "with `dns`: the TSIG key's secret as `tsig-keygen` prints it, a secret: "
    "`pulumi config set --secret wayshub:dnsTsigSecret < secret-file`",
    COMMANDS_SETTING: "what runs the commands: `builtin` (our providers), `pulumi-command` (its plugin), or "
    "`auto`: pulumi-command when its plugin is installed, else builtin — for new stacks only. Unset: a deployed "
    "stack keeps the backend it was deployed with, a new one takes pulumi-command where its plugin is installed "
    "(docs/commands.md)",
}

# The separate settings that hold secrets: a stack sets each with `pulumi config set --secret`.
SECRET_SETTINGS = frozenset(
    f"{NAMESPACE}:{name}"
    for name in (
        SSH_PRIVATE_KEY_SETTING,
        APP_SECRETS_SETTING,
        TLS_PRIVATE_KEY_SETTING,
        SITE_SECRETS_SETTING,
        SITE_TLS_SETTING,
        RELEASE_KEY_SETTING,
        DNS_TSIG_SETTING,
    )
)
