"""Names layer: the site's host names, written into a hosts file as one managed block per stack."""

from components.names.hosts_entry import HostsEntry, HostsEntryArgs, HostsEntryProvider
from components.names.hosts_file import read_block, render_block, replace_block, write_in_place

__all__ = [
    "HostsEntry",
    "HostsEntryArgs",
    "HostsEntryProvider",
    "read_block",
    "render_block",
    "replace_block",
    "write_in_place",
]
