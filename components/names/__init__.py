"""Names layer: the site's host names, as a managed block in a hosts file and/or records on a DNS server."""

from components.names.dns_records import DnsRecordSet, DnsRecordSetArgs, DnsRecordSetProvider
from components.names.hosts_entry import HostsEntry, HostsEntryArgs, HostsEntryProvider
from components.names.hosts_file import read_block, render_block, replace_block
from components.names.hosts_file_io import write_in_place, write_problem

__all__ = [
    "DnsRecordSet",
    "DnsRecordSetArgs",
    "DnsRecordSetProvider",
    "HostsEntry",
    "HostsEntryArgs",
    "HostsEntryProvider",
    "read_block",
    "render_block",
    "replace_block",
    "write_in_place",
    "write_problem",
]
