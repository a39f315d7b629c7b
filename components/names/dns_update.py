"""RFC 2136 dynamic updates signed with TSIG, through dnspython: the transport, and TXT values one at a time.

Pure functions without Pulumi. ``Server`` says where updates go and how they are signed; ``send`` carries a
signed query or update over TCP and turns every failure into one ``DnsError`` line naming the setting to
look at; ``new_update`` and ``apply_update`` make and send an update whose prerequisites (RFC 2136 section
2.4) the caller sets. The A/AAAA record set of a name is written through these in dns_addresses.py.

TXT values (the ACME DNS-01 answer, components/load_balancer/acme.py) are added and removed one value
at a time: ``add_txt`` keeps the values already there, ``remove_txt`` removes ours only.

Messages are one line and never contain the TSIG secret.
"""

from __future__ import annotations

import socket
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


def fqdn(name: str) -> dns.name.Name:
    return dns.name.from_text(name.rstrip(".") + ".")


def send(server: Server, message: dns.message.Message, what: str) -> dns.message.Message:
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


def check_rcode(server: Server, answer: dns.message.Message, what: str) -> None:
    """Nothing for NOERROR; any other rcode is one DnsError line, with a hint for the usual ones."""
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


def new_update(server: Server) -> dns.update.UpdateMessage:
    """An empty update of the server's zone, signed with its key."""
    return dns.update.UpdateMessage(fqdn(server.zone), keyring=server.key(), keyname=fqdn(server.key_name))


def apply_update(server: Server, message: dns.update.UpdateMessage, what: str) -> int:
    """Send an update; the answer's rcode (NOERROR, or a prerequisite's YXRRSET/NXRRSET) for the caller."""
    answer = send(server, message, what)
    rcode = answer.rcode()
    if rcode not in (dns.rcode.YXRRSET, dns.rcode.NXRRSET, dns.rcode.YXDOMAIN, dns.rcode.NXDOMAIN):
        check_rcode(server, answer, what)
    return int(rcode)


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
    answer = send(server, query, f"reading TXT {name}")
    if answer.rcode() == dns.rcode.NXDOMAIN:
        return []
    check_rcode(server, answer, f"reading TXT {name}")
    values: list[str] = []
    for rrset in answer.answer:
        if rrset.name == fqdn(name) and rrset.rdtype == dns.rdatatype.TXT:
            values += [b"".join(rd.strings).decode() for rd in rrset]
    return sorted(values)


def add_txt(server: Server, name: str, value: str, ttl: int) -> None:
    """Add ``value`` to the TXT records at ``name``, keeping those already there. Refused (one line) if the
    name is an alias: a CNAME there would send the TXT elsewhere."""
    message = new_update(server)
    message.absent(fqdn(name), "CNAME")
    message.add(fqdn(name), ttl, txt_rdata(value))
    if apply_update(server, message, f"adding TXT {name}") != dns.rcode.NOERROR:
        raise DnsError(f"{SETTING}: {name} is an alias (it has a CNAME record): a TXT record cannot be added there")


def remove_txt(server: Server, name: str, value: str) -> None:
    """Remove ``value`` from the TXT records at ``name``, and only it (another TXT value there stays)."""
    message = new_update(server)
    message.delete(fqdn(name), txt_rdata(value))
    apply_update(server, message, f"removing TXT {name}")
