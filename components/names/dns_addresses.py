"""The A/AAAA record set of one name on the DNS server: read, create, replace and delete it.

Pure functions without Pulumi, over the RFC 2136 transport of dns_update.py. A record set here is the A and
AAAA records of ONE name (the addresses the name points at, with one TTL); CNAME is looked at only to
refuse a name that is an alias.

Every write carries prerequisites (RFC 2136 section 2.4), so the server applies it only if the name
still holds what we believe it holds: ``create`` needs the name free of A/AAAA/CNAME (unless told to
adopt what is there), ``update`` needs exactly the addresses we wrote last, and ``delete`` removes only
our addresses, one by one, so a record someone else added under the same name stays.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import dns.message
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.update

from components.names.dns_update import SETTING, DnsError, Server, apply_update, check_rcode, fqdn, new_update, send

OWNED_TYPES = ("A", "AAAA")


@dataclass(frozen=True)
class RecordSet:
    """What one name holds: its addresses (sorted, canonical) and their TTL (0 when it holds none)."""

    addresses: tuple[str, ...]
    ttl: int

    @property
    def empty(self) -> bool:
        return not self.addresses


def canonical(addresses: Iterable[str]) -> tuple[str, ...]:
    """Addresses as ``ipaddress`` prints them, IPv4 first, sorted, without repeats."""
    parsed = {ipaddress.ip_address(a) for a in addresses}
    return tuple(str(a) for a in sorted(parsed, key=lambda a: (a.version, a)))


def rdtype_of(address: str) -> str:
    return "A" if ipaddress.ip_address(address).version == 4 else "AAAA"


def render(name: str, records: RecordSet) -> str:
    """The records as zone-file lines (what a preview shows); empty text for an empty set."""
    owner = name.rstrip(".") + "."
    return "".join(f"{owner} {records.ttl} IN {rdtype_of(a)} {a}\n" for a in records.addresses)


def _rdatas(addresses: Sequence[str], rdtype: str) -> list[dns.rdata.Rdata]:
    return [
        dns.rdata.from_text(dns.rdataclass.IN, rdtype, address) for address in addresses if rdtype_of(address) == rdtype
    ]


def _query(server: Server, name: str, rdtype: str) -> tuple[list[str], int]:
    """The records of one type at ``name`` (signed query, so a server that answers keyed queries only works)."""
    query = dns.message.make_query(fqdn(name), rdtype)
    query.use_tsig(server.key())
    answer = send(server, query, f"reading {rdtype} {name}")
    if answer.rcode() == dns.rcode.NXDOMAIN:
        return [], 0
    check_rcode(server, answer, f"reading {rdtype} {name}")
    for rrset in answer.answer:
        if rrset.name == fqdn(name) and rrset.rdtype == dns.rdatatype.from_text(rdtype):
            return sorted(rd.to_text() for rd in rrset), int(rrset.ttl)
    return [], 0


def read(server: Server, name: str) -> RecordSet:
    """The A and AAAA records ``name`` holds on the server now."""
    addresses: list[str] = []
    ttl = 0
    for rdtype in OWNED_TYPES:
        found, found_ttl = _query(server, name, rdtype)
        addresses += found
        ttl = ttl or found_ttl
    return RecordSet(canonical(addresses), ttl)


def describe_existing(server: Server, name: str) -> str:
    """The records at ``name`` that stop a create, as zone-file text on one line."""
    lines = []
    for rdtype in ("CNAME", *OWNED_TYPES):
        found, ttl = _query(server, name, rdtype)
        lines += [f"{name}. {ttl} IN {rdtype} {value}" for value in found]
    return "; ".join(lines) or "(none now: they were removed meanwhile, try again)"


def _add(message: dns.update.UpdateMessage, name: str, records: RecordSet) -> None:
    for rdtype in OWNED_TYPES:
        rdatas = _rdatas(records.addresses, rdtype)
        if rdatas:
            message.add(fqdn(name), records.ttl, *rdatas)


def create(server: Server, name: str, records: RecordSet, adopt: bool) -> None:
    """Our records at ``name``. Refuses (one line naming them) if the name already holds A/AAAA/CNAME records,
    unless ``adopt``: then its A/AAAA records are replaced by ours (a CNAME still refuses)."""
    message = new_update(server)
    message.absent(fqdn(name), "CNAME")
    for rdtype in OWNED_TYPES:
        if adopt:
            message.delete(fqdn(name), rdtype)
        else:
            message.absent(fqdn(name), rdtype)
    _add(message, name, records)
    if apply_update(server, message, f"adding {name}") != dns.rcode.NOERROR:
        existing = describe_existing(server, name)
        advice = (
            "it is an alias; remove the CNAME" if "IN CNAME" in existing else "set dns.adopt: true to take them over"
        )
        raise DnsError(f"{SETTING}: {name} already has records this stack does not own: {existing} ({advice})")


def replace(server: Server, name: str, old: RecordSet, new: RecordSet) -> None:
    """``old`` -> ``new``, applied only if the name holds exactly ``old``'s addresses (else: drift, one line)."""
    message = new_update(server)
    for rdtype in OWNED_TYPES:
        rdatas = _rdatas(old.addresses, rdtype)
        if rdatas:
            message.present(fqdn(name), *rdatas)
        else:
            message.absent(fqdn(name), rdtype)
        message.delete(fqdn(name), rdtype)
    _add(message, name, new)
    if apply_update(server, message, f"updating {name}") != dns.rcode.NOERROR:
        now = render(name, read(server, name)).strip().replace("\n", "; ") or "no A/AAAA records"
        raise DnsError(
            f"{SETTING}: {name} changed outside this stack (it holds {now}); "
            "run `pulumi refresh` to see it, then `pulumi up` to put ours back"
        )


def delete(server: Server, name: str, records: RecordSet) -> None:
    """Remove our addresses at ``name`` and only those (a record someone else added there stays)."""
    if records.empty:
        return
    message = new_update(server)
    for rdtype in OWNED_TYPES:
        rdatas = _rdatas(records.addresses, rdtype)
        if rdatas:
            message.delete(fqdn(name), *rdatas)
    apply_update(server, message, f"removing {name}")
