"""``AcmeCertificate``: the site's certificate from an ACME CA, issued in ``up`` and renewed inside the window.

A dynamic resource around components/load_balancer/acme.py. ``create`` issues; ``diff`` reads the stored
expiry and says "update" once it is within ``renew_days_before`` days (or past it), so a ``preview`` shows the
renewal and a no-op ``up`` while the certificate is good does nothing; ``update`` issues again with the same
account key, or, when only bookkeeping changed (a connection, the trusted bundle), keeps the certificate.
A failed issuance fails the ``up`` with one line and leaves the stored certificate as it was: the LB keeps
serving the old one.

The challenge's answer: HTTP-01 as a file in the webroot of every LB of the stack (the CA reaches whichever
holds the shared address), over SSH (host/acme-answer.sh; each LB's ``<site>-acme.conf`` serves it on port
80), DNS-01 as a TXT record through ``wayshub:dns`` (RFC 2136, TSIG).
The account key and the certificate's key are secret outputs.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from cryptography import x509
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult

from components.config import DnsConfig
from components.load_balancer import acme
from components.names import dns_update
from components.shell import ssh
from components.shell.host_script import host_script
from components.shell.provider import CommandFailed, _clean_errors

ANSWER_SCRIPT = Path(__file__).resolve().parent / "host" / "acme-answer.sh"
ANSWER_TIMEOUT_SECONDS = 60
REPLACE_KEYS = ("domain", "directory_url")  # another name or another CA: another certificate (and account)
SECRET_OUTPUTS = ["private_key", "account_key", "tsig_secret"]
INPUT_KEYS = (
    "domain",
    "directory_url",
    "email",
    "challenge",
    "ca_bundle",
    "renew_days_before",
    "timeout_seconds",
    "connection",
    "other_lbs",
    "webroot",
    "dns",
    "tsig_secret",
)
WHEN_KEYS = ("renew_days_before", "timeout_seconds")
ISSUED_KEYS = ("certificate", "private_key", "account_key", "not_after", "serial", "issuer", "warnings")


def renew_after(not_after: datetime.datetime, renew_days_before: int) -> datetime.datetime:
    return not_after - datetime.timedelta(days=renew_days_before)


def when(not_after_iso: str, renew_days_before: int, now: datetime.datetime | None = None) -> str:
    """One line for the log: when the certificate expires and when ``up`` renews it."""
    not_after = datetime.datetime.fromisoformat(not_after_iso)
    now = now or datetime.datetime.now(datetime.UTC)
    renew = renew_after(not_after, renew_days_before)
    if acme.renew_due(not_after, renew_days_before, now):
        return f"expires {not_after:%Y-%m-%d %H:%M} UTC: inside lb.acme.renewDaysBefore ({renew_days_before}), `up` renews it"
    return (
        f"expires {not_after:%Y-%m-%d %H:%M} UTC; `up` renews it from {renew:%Y-%m-%d %H:%M} UTC "
        f"(lb.acme.renewDaysBefore {renew_days_before})"
    )


@dataclass(frozen=True)
class WebrootAnswerer:
    """HTTP-01 answers as files under each LB's webroot, written as root over SSH (host/acme-answer.sh): with two
    LBs the CA reaches whichever holds the shared address, so every one holds the answer."""

    connections: tuple[ssh.Connection, ...]
    webroot: str

    def put(self, name: str, value: str) -> None:
        for connection in self.connections:
            self._run(connection, "put", name, value)

    def remove(self, name: str, value: str) -> None:
        for connection in self.connections:
            self._run(connection, "remove", name, "")

    def _run(self, connection: ssh.Connection, action: str, token: str, value: str) -> None:
        script = host_script(ANSWER_SCRIPT, {"WEBROOT": self.webroot, "ACTION": action, "TOKEN": token})
        result = ssh.run(connection, script, stdin=value, timeout=ANSWER_TIMEOUT_SECONDS)
        if result.exit_code != 0:
            detail = " ".join(result.stderr.split())[-300:] or f"exit code {result.exit_code}"
            raise OSError(f"{action} of the HTTP-01 answer on {connection.address} failed: {detail}")


def dns_server_props(settings: DnsConfig) -> dict[str, Any]:
    """``wayshub:dns`` as DNS-01 needs it (the TSIG secret is its own, secret input)."""
    return {
        "server": settings.server,
        "port": settings.port,
        "zone": settings.zone,
        "keyName": settings.key_name,
        "algorithm": settings.algorithm,
        "timeoutSeconds": settings.timeout_seconds,
    }


def answerer(props: dict[str, Any]) -> acme.ChallengeAnswerer:
    if props["challenge"] == "dns-01":
        dns = props["dns"]
        server = dns_update.Server(
            address=str(dns["server"]),
            port=int(dns["port"]),
            zone=str(dns["zone"]),
            key_name=str(dns["keyName"]),
            algorithm=str(dns["algorithm"]),
            secret=str(props["tsig_secret"]),
            timeout=float(dns["timeoutSeconds"]),
        )
        return acme.DnsAnswerer(server)
    connections = [props["connection"], *(props.get("other_lbs") or [])]
    return WebrootAnswerer(tuple(ssh.Connection.from_props(c) for c in connections), str(props["webroot"]))


def issue(props: dict[str, Any], account_key: str | None, kept: str = "") -> dict[str, Any]:
    """Issue for ``props``; the issued values as outputs (keys ISSUED_KEYS). A failure is one line, ending
    with ``kept`` (what still serves)."""
    try:
        issued = acme.issue(
            str(props["directory_url"]),
            props.get("email"),
            str(props["domain"]),
            props["challenge"],
            answerer(props),
            account_key_pem=account_key,
            ca_bundle=props.get("ca_bundle"),
            timeout=float(props["timeout_seconds"]),
        )
    except acme.AcmeError as err:
        raise CommandFailed(f"{err}{kept}") from None
    leaf = x509.load_pem_x509_certificates(issued.certificate_chain_pem.encode())[0]
    return {
        "certificate": issued.certificate_chain_pem,
        "private_key": issued.private_key_pem,
        "account_key": issued.account_key_pem,
        "not_after": issued.not_after.isoformat(),
        "serial": f"{leaf.serial_number:x}",
        "issuer": leaf.issuer.rfc4514_string(),
        "warnings": list(issued.warnings),
    }


def due(olds: dict[str, Any], news: dict[str, Any], now: datetime.datetime | None = None) -> bool:
    """True when the stored certificate expires within the new ``renew_days_before`` (or none is stored)."""
    not_after = olds.get("not_after")
    if not isinstance(not_after, str) or not olds.get("certificate"):
        return True
    days = news.get("renew_days_before")
    if not isinstance(days, int | float):  # numbers arrive as floats
        return True  # unknown in a preview: say what up may do
    now = now or datetime.datetime.now(datetime.UTC)
    return acme.renew_due(datetime.datetime.fromisoformat(not_after), float(days), now)


class AcmeCertificateProvider(ResourceProvider):
    """Talks to the ACME server from where ``pulumi`` runs; answers through SSH (HTTP-01) or DNS (DNS-01)."""

    kind = "acme"
    serialize_as_secret_always = False

    @_clean_errors
    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = {**props, **issue(props, None)}
        return CreateResult(id_=f"{props['domain']}@{props['directory_url']}", outs=outs)

    @_clean_errors
    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # When and how long to issue are read at issuance only: a change of them alone is not a change.
        changed = [key for key in INPUT_KEYS if key not in WHEN_KEYS and olds.get(key) != news.get(key)]
        replaces = [key for key in REPLACE_KEYS if key in changed]
        return DiffResult(changes=bool(changed) or due(olds, news), replaces=replaces, delete_before_replace=False)

    @_clean_errors
    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        if due(olds, news):
            kept = f"; the LB keeps serving the certificate it has (expires {olds.get('not_after')})"
            return UpdateResult(outs={**news, **issue(news, olds.get("account_key"), kept)})
        # Bookkeeping only (a connection, the bundle, the challenge): the certificate stays.
        return UpdateResult(outs={**news, **{key: olds.get(key) for key in ISSUED_KEYS}, "warnings": []})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """Nothing to take down: the files on the LB are their own resources; the CA's record stays."""


@dataclass(frozen=True)
class AcmeCertificateArgs:
    """``settings`` is ``lb.acme``; HTTP-01 needs ``connection`` (the LB's; ``other_lbs``: the other LBs' of a
    stack with two) and ``webroot``, DNS-01 ``dns`` (``wayshub:dns`` as the DNS layer stores it) and
    ``tsig_secret``."""

    domain: str
    directory_url: str
    email: str | None
    challenge: acme.Challenge
    ca_bundle: str | None
    renew_days_before: int
    timeout_seconds: int
    connection: pulumi.Input[dict[str, Any]] | None = None
    other_lbs: Sequence[pulumi.Input[dict[str, Any]]] = ()
    webroot: str | None = None
    dns: dict[str, Any] | None = None
    tsig_secret: pulumi.Input[str] | None = None


class AcmeCertificate(Resource, module="wayshub", name="AcmeCertificate"):
    """``certificate`` (the chain, leaf first) and ``not_after`` are public; ``private_key`` and
    ``account_key`` are secret."""

    certificate: pulumi.Output[str]
    private_key: pulumi.Output[str]
    account_key: pulumi.Output[str]
    not_after: pulumi.Output[str]
    serial: pulumi.Output[str]
    issuer: pulumi.Output[str]
    warnings: pulumi.Output[list[str]]

    def __init__(self, name: str, args: AcmeCertificateArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        props: dict[str, Any] = {
            "domain": args.domain,
            "directory_url": args.directory_url,
            "email": args.email,
            "challenge": args.challenge,
            "ca_bundle": args.ca_bundle,
            "renew_days_before": args.renew_days_before,
            "timeout_seconds": args.timeout_seconds,
            "connection": args.connection,
            # None with one LB: a stack from before two LBs existed sees no change.
            "other_lbs": list(args.other_lbs) or None,
            "webroot": args.webroot,
            "dns": args.dns,
            "tsig_secret": pulumi.Output.secret(args.tsig_secret) if args.tsig_secret is not None else None,
            **{key: None for key in ISSUED_KEYS},
        }
        assert set(props) == {*INPUT_KEYS, *ISSUED_KEYS}
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=SECRET_OUTPUTS))
        super().__init__(AcmeCertificateProvider(), name, props, opts)
