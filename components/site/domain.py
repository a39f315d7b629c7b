"""Step 4: the domain points at the LB — a managed hosts-file block, and/or A/AAAA records on your DNS server."""

from __future__ import annotations

import pulumi

from components.names import DnsRecordSet, DnsRecordSetArgs, HostsEntry, HostsEntryArgs
from components.site.inputs import Inputs
from components.site.outputs import Front


def dns_records(inputs: Inputs, public_address: str, after: pulumi.Resource) -> list[pulumi.Resource]:
    """A/AAAA records on your DNS server (RFC 2136 + TSIG, docs/dns.md), at dns.addresses or the LB's address."""
    dns = inputs.settings.dns
    assert dns is not None
    return [
        DnsRecordSet(
            f"dns-{record}",
            DnsRecordSetArgs(
                settings=dns,
                name=record,
                addresses=dns.addresses or [public_address],
                tsig_secret=inputs.secrets.dns_tsig(),
            ),
            opts=inputs.opts([after]),
        )
        for record in inputs.settings.dns_records
    ]


def point_the_domain(inputs: Inputs, front: Front) -> None:
    """The hosts-file block (each site's names) and the DNS records, once the LB is ready."""
    settings = inputs.settings
    if settings.hosts_file.enabled:
        HostsEntry(
            "hosts-entry",
            HostsEntryArgs(
                path=settings.hosts_file.path,
                stack=inputs.stack,
                entries=[
                    (settings.hosts_entry_address, one.hosts_line) for one in settings.all_sites if one.hosts_line
                ],
            ),
            opts=inputs.opts([front.lb_ready]),
        )
    if settings.dns is not None and not front.dns_declared:
        dns_records(inputs, front.public_address, front.lb_ready)
