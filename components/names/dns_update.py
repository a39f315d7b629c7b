"""RFC 2136 dynamic updates signed with TSIG, through dnspython: read, write and remove one name's records.

Pure functions without Pulumi. A record set here is the A and AAAA records of ONE name (the addresses
the name points at, with one TTL); CNAME is looked at only to refuse a name that is an alias.

Every write carries prerequisites (RFC 2136 section 2.4), so the server applies it only if the name
still holds what we believe it holds: ``create`` needs the name free of A/AAAA/CNAME (unless told to
adopt what is there), ``update`` needs exactly the addresses we wrote last, and ``delete`` removes only
our addresses, one by one, so a record someone else added under the same name stays.

TXT values (the ACME DNS-01 answer, components/load_balancer/acme.py) are added and removed one value
at a time by the same rules: ``add_txt`` keeps the values already there, ``remove_txt`` removes ours only.

Messages are one line and never contain the TSIG secret.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.tsig
import dns.update

from components.hosts.address import host_port

SETTING = "wayshub:dns"
OWNED_TYPES = ("A", "AAAA")
ALGORITHMS = {
    "hmac-sha224": dns.tsig.HMAC_SHA224,
    "hmac-sha256": dns.tsig.HMAC_SHA256,
    "hmac-sha384": dns.tsig.HMAC_SHA384,
    "hmac-sha512": dns.tsig.HMAC_SHA512,
}


class DnsError(Exception):
    """One line saying what the server or the network answered, naming the setting to look at."""


@dataclass(frozen=True)
class Server:
    """Where updates go and how they are signed. ``secret`` is base64; it is never put in a message."""

    address: str
    port: int
    zone: str
    key_name: str
    algorithm: str
    secret: str
    timeout: float

    def __repr__(self) -> str:  # never print the secret, even in a traceback's locals
        return f"Server({self.address}:{self.port}, zone={self.zone}, key={self.key_name})"

    @property
    def where(self) -> str:
        return host_port(self.address, self.port)

    def key(self) -> dns.tsig.Key:
        return dns.tsig.Key(self.key_name, self.secret, ALGORITHMS[self.algorithm])


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


def fqdn(name: str) -> dns.name.Name:
    return dns.name.from_text(name.rstrip(".") + ".")


def render(name: str, records: RecordSet) -> str:
    """The records as zone-file lines (what a preview shows); empty text for an empty set."""
    owner = name.rstrip(".") + "."
    return "".join(f"{owner} {records.ttl} IN {rdtype_of(a)} {a}\n" for a in records.addresses)


def _rdatas(addresses: Sequence[str], rdtype: str) -> list[dns.rdata.Rdata]:
    return [
        dns.rdata.from_text(dns.rdataclass.IN, rdtype, address) for address in addresses if rdtype_of(address) == rdtype
    ]


def _send(server: Server, message: dns.message.Message, what: str) -> dns.message.Message:
    """``message`` over TCP, its answer checked against the TSIG key; failures become one DnsError line."""
    try:
        return dns.query.tcp(message, server.address, timeout=server.timeout, port=server.port)
    except dns.tsig.PeerBadKey:
        raise DnsError(
            f"{SETTING}: the server at {server.where} does not know TSIG key {server.key_name!r} ({what}; "
            f"check dns.keyName and dns.algorithm against the server's key)"
        ) from None
    except (dns.tsig.PeerBadSignature, dns.tsig.BadSignature):
        raise DnsError(
            f"{SETTING}: the server at {server.where} rejected the TSIG signature of key {server.key_name!r} "
            f"({what}; check wayshub:dnsTsigSecret and dns.algorithm)"
        ) from None
    except (dns.tsig.PeerBadTime, dns.tsig.PeerBadTruncation) as err:
        raise DnsError(f"{SETTING}: the server at {server.where} rejected the TSIG signature ({what}): {err}") from None
    except dns.exception.Timeout:
        raise DnsError(
            f"{SETTING}: no answer from the DNS server at {server.where} within {server.timeout:g}s ({what}; "
            "check dns.server and dns.port)"
        ) from None
    except EOFError:
        raise DnsError(
            f"{SETTING}: the DNS server at {server.where} closed the connection without an answer ({what}; "
            "is it a DNS server, and does it answer on TCP?)"
        ) from None
    except OSError as err:
        reason = err.strerror or type(err).__name__
        if isinstance(err, socket.timeout):
            reason = f"no answer within {server.timeout:g}s"
        raise DnsError(
            f"{SETTING}: cannot reach the DNS server at {server.where}: {reason} ({what}; "
            "check dns.server and dns.port)"
        ) from None
    except dns.exception.DNSException as err:
        raise DnsError(f"{SETTING}: bad answer from the DNS server at {server.where} ({what}): {err}") from None


def _check_rcode(server: Server, answer: dns.message.Message, what: str) -> None:
    rcode = answer.rcode()
    if rcode == dns.rcode.NOERROR:
        return
    hints = {
        dns.rcode.REFUSED: "the server refused it: does the zone's update-policy grant this key these names?",
        dns.rcode.NOTAUTH: f"the server is not authoritative for zone {server.zone} (or refused the key)",
        dns.rcode.NOTZONE: f"a name is outside zone {server.zone}",
        dns.rcode.SERVFAIL: "the server failed (see its log)",
    }
    reason = hints.get(rcode, "")
    raise DnsError(
        f"{SETTING}: the server at {server.where} answered {dns.rcode.to_text(rcode)} to {what}"
        + (f"; {reason}" if reason else "")
    )


def _query(server: Server, name: str, rdtype: str) -> tuple[list[str], int]:
    """The records of one type at ``name`` (signed query, so a server that answers keyed queries only works)."""
    query = dns.message.make_query(fqdn(name), rdtype)
    query.use_tsig(server.key())
    answer = _send(server, query, f"reading {rdtype} {name}")
    if answer.rcode() == dns.rcode.NXDOMAIN:
        return [], 0
    _check_rcode(server, answer, f"reading {rdtype} {name}")
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


def _update(server: Server) -> dns.update.UpdateMessage:
    return dns.update.UpdateMessage(fqdn(server.zone), keyring=server.key(), keyname=fqdn(server.key_name))


def _add(message: dns.update.UpdateMessage, name: str, records: RecordSet) -> None:
    for rdtype in OWNED_TYPES:
        rdatas = _rdatas(records.addresses, rdtype)
        if rdatas:
            message.add(fqdn(name), records.ttl, *rdatas)


def _apply(server: Server, message: dns.update.UpdateMessage, what: str) -> int:
    """Send an update; the answer's rcode (NOERROR, or a prerequisite's YXRRSET/NXRRSET) for the caller."""
    answer = _send(server, message, what)
    rcode = answer.rcode()
    if rcode not in (dns.rcode.YXRRSET, dns.rcode.NXRRSET, dns.rcode.YXDOMAIN, dns.rcode.NXDOMAIN):
        _check_rcode(server, answer, what)
    return int(rcode)


def create(server: Server, name: str, records: RecordSet, adopt: bool) -> None:
    """Our records at ``name``. Refuses (one line naming them) if the name already holds A/AAAA/CNAME records,
    unless ``adopt``: then its A/AAAA records are replaced by ours (a CNAME still refuses)."""
    message = _update(server)
    message.absent(fqdn(name), "CNAME")
    for rdtype in OWNED_TYPES:
        if adopt:
            message.delete(fqdn(name), rdtype)
        else:
            message.absent(fqdn(name), rdtype)
    _add(message, name, records)
    if _apply(server, message, f"adding {name}") != dns.rcode.NOERROR:
        existing = describe_existing(server, name)
        advice = (
            "it is an alias; remove the CNAME" if "IN CNAME" in existing else "set dns.adopt: true to take them over"
        )
        raise DnsError(f"{SETTING}: {name} already has records this stack does not own: {existing} ({advice})")


def replace(server: Server, name: str, old: RecordSet, new: RecordSet) -> None:
    """``old`` -> ``new``, applied only if the name holds exactly ``old``'s addresses (else: drift, one line)."""
    message = _update(server)
    for rdtype in OWNED_TYPES:
        rdatas = _rdatas(old.addresses, rdtype)
        if rdatas:
            message.present(fqdn(name), *rdatas)
        else:
            message.absent(fqdn(name), rdtype)
        message.delete(fqdn(name), rdtype)
    _add(message, name, new)
    if _apply(server, message, f"updating {name}") != dns.rcode.NOERROR:
        now = render(name, read(server, name)).strip().replace("\n", "; ") or "no A/AAAA records"
        raise DnsError(
            f"{SETTING}: {name} changed outside this stack (it holds {now}); "
            "run `pulumi refresh` to see it, then `pulumi up` to put ours back"
        )


def delete(server: Server, name: str, records: RecordSet) -> None:
    """Remove our addresses at ``name`` and only those (a record someone else added there stays)."""
    if records.empty:
        return
    message = _update(server)
    for rdtype in OWNED_TYPES:
        rdatas = _rdatas(records.addresses, rdtype)
        if rdatas:
            message.delete(fqdn(name), *rdatas)
    _apply(server, message, f"removing {name}")


# TXT records (the ACME DNS-01 answer, ``_acme-challenge.<domain>``): one value at a time, never the whole set.
# A name's TXT set may hold values other clients put there (another ACME client validating the same name, an
# SPF line): adding ours leaves them, and removing deletes our value only.


def txt_rdata(value: str) -> dns.rdata.Rdata:
    """``value`` as one TXT string (no zone-file quoting to get wrong: the bytes are put as they are)."""
    return dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, [value.encode()])


def read_txt(server: Server, name: str) -> list[str]:
    """The TXT values at ``name`` (each record's strings joined), sorted."""
    query = dns.message.make_query(fqdn(name), "TXT")
    query.use_tsig(server.key())
    answer = _send(server, query, f"reading TXT {name}")
    if answer.rcode() == dns.rcode.NXDOMAIN:
        return []
    _check_rcode(server, answer, f"reading TXT {name}")
    values: list[str] = []
    for rrset in answer.answer:
        if rrset.name == fqdn(name) and rrset.rdtype == dns.rdatatype.TXT:
            values += [b"".join(rd.strings).decode() for rd in rrset]
    return sorted(values)


def add_txt(server: Server, name: str, value: str, ttl: int) -> None:
    """Add ``value`` to the TXT records at ``name``, keeping those already there. Refused (one line) if the
    name is an alias: a CNAME there would send the TXT elsewhere."""
    message = _update(server)
    message.absent(fqdn(name), "CNAME")
    message.add(fqdn(name), ttl, txt_rdata(value))
    if _apply(server, message, f"adding TXT {name}") != dns.rcode.NOERROR:
        raise DnsError(f"{SETTING}: {name} is an alias (it has a CNAME record): a TXT record cannot be added there")


def remove_txt(server: Server, name: str, value: str) -> None:
    """Remove ``value`` from the TXT records at ``name``, and only it (another TXT value there stays)."""
    message = _update(server)
    message.delete(fqdn(name), txt_rdata(value))
    _apply(server, message, f"removing TXT {name}")
