"""How the site's name reaches the LB: the managed hosts-file block (``hostsFile``) and DNS records on
your DNS server (``dns``, with the TSIG secret read on its own as ``dnsTsigSecret``)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from components.config.base import DOMAIN, Model, Port, Text, check_ip, repeated, shown


class HostsFileConfig(Model):
    """A managed block in a hosts file that points the domain at the LB."""

    enabled: bool = Field(default=True, description="write the managed block")
    path: Text = Field(default="/etc/hosts", description="which hosts file")
    address: Text = Field(default="127.0.0.1", description="the address the domain points at")

    _address = field_validator("address")(check_ip)


_KEY_NAME = re.compile(
    r"(?=.{1,253}\.?\Z)([A-Za-z0-9]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.?"
)
DNS_TSIG_SETTING = "dnsTsigSecret"


def in_zone(name: str, zone: str) -> bool:
    """True if ``name`` is ``zone`` or a name under it (``www.example.com`` in ``example.com``)."""
    return name == zone or name.endswith("." + zone)


class DnsConfig(Model):
    """DNS records for the site's names, kept on your DNS server with RFC 2136 updates signed with TSIG
    (docs/dns.md). The key's secret is the separate secret setting ``wayshub:dnsTsigSecret``."""

    server: Text = Field(description="your DNS server: the zone's primary, as an IP address")
    port: Port = Field(default=53, description="the DNS server's port")
    zone: Text = Field(description="the zone the records live in: the domain or a suffix of it")
    key_name: Text = Field(alias="keyName", description="the TSIG key's name, as the server knows it")
    algorithm: Literal["hmac-sha224", "hmac-sha256", "hmac-sha384", "hmac-sha512"] = Field(
        default="hmac-sha256", description="the TSIG key's algorithm"
    )
    ttl: Annotated[int, Field(ge=1, le=86400)] = Field(default=300, description="the records' TTL in seconds")
    records: list[Text] = Field(
        default_factory=list,
        description="the names that point at the LB, each an A record (AAAA for IPv6 addresses)",
        json_schema_extra=shown("the domain"),
    )
    addresses: list[Text] = Field(
        default_factory=list,
        description="the addresses they point at (`existing`: `lbServer.address` must then be an IP address)",
        json_schema_extra=shown("the LB's public address"),
    )
    adopt: bool = Field(
        default=False, description="take over records already there under those names instead of stopping"
    )
    timeout_seconds: Annotated[int, Field(ge=1, le=120)] = Field(
        default=10, alias="timeoutSeconds", description="how long to wait for the DNS server"
    )

    @field_validator("server")
    @classmethod
    def _server(cls, value: str) -> str:
        try:
            return check_ip(value)
        except ValueError as err:
            raise ValueError(f"{err} (give the DNS server's address, not its name)") from None

    @field_validator("zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        zone = value.rstrip(".").lower()
        if not DOMAIN.fullmatch(zone):
            raise ValueError(f"{value!r} is not a zone name such as 'example.com'")
        return zone

    @field_validator("key_name")
    @classmethod
    def _key_name(cls, value: str) -> str:
        if not _KEY_NAME.fullmatch(value):
            raise ValueError(f"{value!r} is not a TSIG key name such as 'wayshub-update' (as tsig-keygen names it)")
        return value

    @field_validator("records")
    @classmethod
    def _records(cls, value: list[str]) -> list[str]:
        names = [name.rstrip(".").lower() for name in value]
        for name in names:
            if not DOMAIN.fullmatch(name):
                raise ValueError(f"{name!r} is not a domain name such as 'www.example.com'")
        duplicates = repeated(names)
        if duplicates:
            raise ValueError(f"{', '.join(duplicates)} repeated")
        return names

    @field_validator("addresses")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        addresses = [check_ip(address) for address in value]
        if len(set(addresses)) != len(addresses):
            raise ValueError("an address is repeated")
        return addresses

    @model_validator(mode="after")
    def _names_in_zone(self) -> DnsConfig:
        outside = [name for name in self.records if not in_zone(name, self.zone)]
        if outside:
            raise ValueError(f"records: {outside[0]} is not in zone {self.zone}")
        return self
