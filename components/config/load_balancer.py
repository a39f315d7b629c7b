"""The load balancer's section: nginx's ports, TLS and timeouts, its active health check of the backends
(``lb``, ``lb.healthCheck``), and how app updates roll out behind it (``rollout``)."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from components.config.base import Model, Port, Text, check_ip, not_in_containers, shown

_DURATION = re.compile(r"[1-9][0-9]*(ms|s|m)")


def duration_seconds(value: str) -> float:
    """An nginx duration (``500ms``, ``3s``, ``1m``) in seconds."""
    number, unit = re.fullmatch(r"(\d+)(ms|s|m)", value).groups()  # type: ignore[union-attr]
    return int(number) * {"ms": 0.001, "s": 1.0, "m": 60.0}[unit]


SHORT_DURATION = "a duration such as '250ms' or '1s'"
NGINX_DURATION = "an nginx duration such as '500ms', '10s' or '1m'"


def check_duration(value: str, such_as: str, within: tuple[float, float, str] | None = None) -> str:
    """``value`` if it is a duration (``such_as`` says which, in the error), and with ``within`` (low and high
    seconds, and how the error says them) in that range; ValueError otherwise."""
    if not _DURATION.fullmatch(value):
        raise ValueError(f"{value!r} is not {such_as}")
    if within is not None and not within[0] <= duration_seconds(value) <= within[1]:
        raise ValueError(f"{value!r} must be {within[2]}")
    return value


class HealthCheckConfig(Model):
    """Active checks from the LB (docs/hung-backends.md): every ``interval`` each backend's
    ``app.health.path``; no answer within ``timeout``, ``fall`` times in a row, makes it hung: the LB
    then ends the requests stuck on it every round, until ``rise`` answers in ``app.health.expectStatus``
    in a row."""

    enabled: bool = Field(
        default=True,
        description="run the LB's active check of every backend's `app.health.path` (docs/hung-backends.md)",
    )
    interval: Text = Field(default="250ms", description="how often each backend is probed (50ms to 60s)")
    timeout: Text = Field(
        default="750ms", description="no answer within this is a hang sign (50ms to 60s; shorter than `lb.readTimeout`)"
    )
    fall: Annotated[int, Field(ge=1, le=10)] = Field(
        default=2, description="probes in a row without an answer that make a backend hung (1 to 10)"
    )
    rise: Annotated[int, Field(ge=1, le=10)] = Field(
        default=2,
        description="answers in a row that bring it back (1 to 10; `rise` x `interval` ≤ `lb.failTimeout`, "
        "since the rollout waits `failTimeout` + 1 s for a restarted backend)",
    )

    @field_validator("interval", "timeout")
    @classmethod
    def _duration(cls, value: str) -> str:
        return check_duration(value, SHORT_DURATION, (0.05, 60, "between 50ms and 60s"))


# Named ACME directories a stack may give instead of a URL.
ACME_DIRECTORIES = {
    "letsencrypt": "https://acme-v02.api.letsencrypt.org/directory",
    "letsencrypt-staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
}


class AcmeConfig(Model):
    """Certificates from an ACME CA (docs/acme.md): Let's Encrypt, ZeroSSL, step-ca, an internal CA."""

    MULTILINE: ClassVar[dict[str, str]] = {
        "ca_bundle": "PEM text is lines; it is parsed as certificates and only reaches our ACME client"
    }

    directory_url: Text = Field(
        alias="directoryUrl",
        description="the CA's ACME directory: an `https://` URL, or `letsencrypt` / `letsencrypt-staging`",
    )
    email: Text | None = Field(default=None, description="the account's contact address (the CA's expiry notices)")
    challenge: Literal["http-01", "dns-01"] = Field(
        default="http-01",
        description="`http-01` (the LB's nginx answers on port 80) or `dns-01` (a TXT record through `wayshub:dns`)",
    )
    ca_bundle: Text | None = Field(
        default=None,
        alias="caBundle",
        description="PEM file (relative to the project) or text that trusts a private ACME server's HTTPS; "
        "default: the system's CAs",
    )
    renew_days_before: Annotated[int, Field(ge=1, le=365)] = Field(
        default=30,
        alias="renewDaysBefore",
        description="an `up` renews the certificate once it expires within this many days",
    )
    timeout_seconds: Annotated[int, Field(ge=10, le=900)] = Field(
        default=120, alias="timeoutSeconds", description="how long one issuance may take (validation and finalizing)"
    )

    @field_validator("directory_url")
    @classmethod
    def _directory(cls, value: str) -> str:
        value = ACME_DIRECTORIES.get(value, value)
        if not re.fullmatch(r"https://[^\s/]+(/\S*)?", value):
            names = ", ".join(ACME_DIRECTORIES)
            raise ValueError(f"{value!r} is not an https:// URL (or one of {names})")
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
            raise ValueError(f"{value!r} is not an email address")
        return value


class FailoverConfig(Model):
    """Two LBs (``hosts.lbServers``) sharing one address by VRRP (keepalived, docs/failover.md)."""

    virtual_address: Text | None = Field(
        default=None,
        alias="virtualAddress",
        description="the IP address the two LBs share and the name points at: a free address in their private "
        "network (`existing`: required)",
        json_schema_extra=shown("sandbox: the subnet's `.5`"),
    )
    virtual_router_id: Annotated[int, Field(ge=1, le=255)] = Field(
        default=51,
        alias="virtualRouterId",
        description="the VRRP router id: unique among the VRRP groups on that network",
    )
    advert_interval: Text = Field(
        default="250ms",
        alias="advertInterval",
        description="how often the holder says so (VRRPv3, 50ms to 10s in steps of 10ms); the other takes the "
        "address after about three missed",
    )
    preempt: bool = Field(
        default=False,
        description="whether the first LB takes the address back when it returns (`false`: the other keeps it "
        "until it fails, one switch per fault)",
    )

    @field_validator("virtual_address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = check_ip(value)
        if ":" in value:
            raise ValueError(f"{value!r}: the shared address must be IPv4 (VRRP for IPv6 is not supported yet)")
        return value

    @field_validator("advert_interval")
    @classmethod
    def _interval(cls, value: str) -> str:
        seconds = duration_seconds(check_duration(value, SHORT_DURATION))
        if not 0.05 <= seconds <= 10 or round(seconds * 1000) % 10:
            raise ValueError(f"{value!r} must be between 50ms and 10s, in steps of 10ms")
        return value

    @property
    def advert_seconds(self) -> float:
        return duration_seconds(self.advert_interval)


# Header names nginx can read a client's address from (`$http_<name>`): letters, digits and dashes.
_HEADER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,63}")


class LimitsConfig(Model):
    """What one client may take from the LB, and how long nginx waits for a slow one (docs/limits.md).
    Per-client limits count by the client's address: the peer's, or with ``trustedProxies`` the one a
    trusted proxy names in ``realIpHeader``. The LB's own ``/lb-health`` and ACME answers are never limited."""

    worker_connections: Text = Field(
        default="auto",
        alias="workerConnections",
        description="connections each nginx worker may hold (nginx.conf's `worker_connections`, and "
        "`worker_rlimit_nofile` twice that); `auto`: sized from the LB server's memory and open-file limit "
        "(docs/limits.md), never below what nginx.conf already has",
    )
    connections_per_client: Annotated[int, Field(ge=0, le=100000)] = Field(
        default=100,
        alias="connectionsPerClient",
        description="requests in progress at once per client address (`limit_conn`; `0`: no limit)",
    )
    requests_per_second: Annotated[int, Field(ge=0, le=100000)] = Field(
        default=50,
        alias="requestsPerSecond",
        description="the steady request rate per client address (`limit_req`; `0`: no limit)",
    )
    burst: Annotated[int, Field(ge=0, le=100000)] = Field(
        default=200,
        description="requests a client may send at once above `requestsPerSecond` (a page and its assets), "
        "answered at once, not delayed",
    )
    status: Literal[429, 503] = Field(
        default=429, description="the answer to a request over a client's limit (`429` Too Many Requests or `503`)"
    )
    trusted_proxies: list[Text] = Field(
        default_factory=list,
        alias="trustedProxies",
        description="networks (CIDR) of proxies in front of the LB whose `realIpHeader` names the client; "
        "empty: the peer's address is the client's",
    )
    real_ip_header: Text = Field(
        default="X-Forwarded-For",
        alias="realIpHeader",
        description="the header a trusted proxy puts the client's address in (with `trustedProxies`)",
    )
    header_timeout: Text = Field(
        default="10s",
        alias="headerTimeout",
        description="the whole request header (and the TLS handshake) must arrive within this "
        "(`client_header_timeout`), else the connection is closed",
    )
    body_timeout: Text = Field(
        default="10s",
        alias="bodyTimeout",
        description="the longest pause between two reads of a request body (`client_body_timeout`)",
    )
    send_timeout: Text = Field(
        default="10s",
        alias="sendTimeout",
        description="the longest pause of a client that does not read its answer (`send_timeout`)",
    )
    keepalive_timeout: Text = Field(
        default="30s",
        alias="keepaliveTimeout",
        description="how long an idle client connection (HTTP/1.1 or HTTP/2) stays open (`keepalive_timeout`)",
    )

    @field_validator("worker_connections")
    @classmethod
    def _connections(cls, value: str) -> str:
        if value != "auto" and not (re.fullmatch(r"[1-9][0-9]{3,6}", value) and 1024 <= int(value) <= 1048576):
            raise ValueError(f"{value!r} is neither 'auto' nor a number from 1024 to 1048576")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        networks = []
        for text in value:
            address, slash, length = text.partition("/")
            address = check_ip(address)
            if slash and not re.fullmatch(r"[0-9]{1,3}", length):
                raise ValueError(f"{text!r} is not a network such as 10.0.0.0/8")
            try:
                network = ipaddress.ip_network(f"{address}/{length}" if slash else address, strict=True)
            except ValueError as error:
                raise ValueError(f"{text!r} is not a network such as 10.0.0.0/8 ({error})") from None
            networks.append(str(network))
        return networks

    @field_validator("real_ip_header")
    @classmethod
    def _header(cls, value: str) -> str:
        if not _HEADER_NAME.fullmatch(value):
            raise ValueError(f"{value!r} is not an HTTP header name (letters, digits and dashes)")
        return value

    @field_validator("header_timeout", "body_timeout", "send_timeout", "keepalive_timeout")
    @classmethod
    def _duration(cls, value: str) -> str:
        return check_duration(value, NGINX_DURATION, (1, 3600, "between 1s and 1h"))


class LoadBalancerConfig(Model):
    """nginx on the LB server: ports, TLS, and how it treats backends."""

    listen_port: Port = Field(default=80, alias="listenPort", description="nginx's plain-HTTP port on the LB")
    https_port: Port = Field(
        default=443,
        alias="httpsPort",
        description="nginx's TLS port",
        json_schema_extra=not_in_containers("containers mode serves plain HTTP"),
    )
    tls: Literal["off", "self-signed", "provided", "acme"] = Field(
        default="off",
        description="`off`, `self-signed` (a per-stack CA, as the `local` stack uses), `provided` (`tlsCertificate` and "
        "`tlsPrivateKey`) or `acme` (`lb.acme`)",
    )
    acme: AcmeConfig | None = Field(
        default=None, description="with `tls: acme`: the ACME CA, the challenge and when to renew (docs/acme.md)"
    )
    hsts: bool = Field(
        default=False,
        description="send `Strict-Transport-Security` (only once you are sure of HTTPS)",
        json_schema_extra=not_in_containers("containers mode serves plain HTTP"),
    )
    harden_nginx: bool | None = Field(
        default=None,
        alias="hardenNginx",
        description='sandbox nginx.service with our systemd drop-in (docs/app.md, "Sandboxing"); default: on for sandbox '
        "VMs, off for your own servers (it would confine every site that nginx serves)",
        json_schema_extra=not_in_containers("the nginx container runs no systemd"),
    )
    client_max_body_size: Text = Field(
        default="10m", alias="clientMaxBodySize", description="the largest request body nginx accepts (`0`: no limit)"
    )
    keepalive: Annotated[int, Field(ge=0, le=1024)] = Field(
        default=32, description="idle upstream connections kept per worker"
    )
    max_fails: Annotated[int, Field(ge=0, le=100)] = Field(
        default=1,
        alias="maxFails",
        description="passive health: failures that make nginx skip a backend for `failTimeout`",
    )
    fail_timeout: Text = Field(
        default="3s",
        alias="failTimeout",
        description="how long a failed backend is skipped; the rollout waits this long (+1 s) between batches",
    )
    connect_timeout: Text = Field(default="1s", alias="connectTimeout", description="the upstream connect timeout")
    read_timeout: Text = Field(default="30s", alias="readTimeout", description="the upstream read timeout")
    next_upstream_tries: Annotated[int, Field(ge=0, le=100)] = Field(
        default=3,
        alias="nextUpstreamTries",
        description="backends tried for one request on `error timeout http_502 http_503`",
    )
    health_check: HealthCheckConfig = Field(
        default_factory=HealthCheckConfig,
        alias="healthCheck",
        description="the LB's active check that takes hung backends out within seconds (docs/hung-backends.md)",
    )
    limits: LimitsConfig = Field(
        default_factory=LimitsConfig,
        description="what one client may take (connections, request rate) and how long nginx waits for a slow "
        "one; nginx's capacity (docs/limits.md)",
    )
    failover: FailoverConfig = Field(
        default_factory=FailoverConfig,
        description="with `hosts.lbServers`: the address the two LBs share and how they hand it over (docs/failover.md)",
        json_schema_extra=not_in_containers("containers mode runs one nginx container"),
    )

    @field_validator("acme", mode="before")
    @classmethod
    def _acme_off(cls, value: object) -> object:
        return None if value == {} else value

    @field_validator("fail_timeout", "connect_timeout", "read_timeout")
    @classmethod
    def _duration(cls, value: str) -> str:
        return check_duration(value, NGINX_DURATION)

    @field_validator("client_max_body_size")
    @classmethod
    def _size(cls, value: str) -> str:
        if not re.fullmatch(r"[0-9]+[kmg]?", value):
            raise ValueError(f"{value!r} is not an nginx size such as '10m', '512k' or '0' (no limit)")
        return value

    @model_validator(mode="after")
    def _ports(self) -> LoadBalancerConfig:
        if self.tls != "off" and self.https_port == self.listen_port:
            raise ValueError(f"httpsPort and listenPort are both {self.listen_port}")
        if self.tls == "acme" and self.acme is None:
            raise ValueError("tls 'acme' needs lb.acme (at least its directoryUrl)")
        check = self.health_check
        if check.enabled and duration_seconds(check.timeout) >= duration_seconds(self.read_timeout):
            raise ValueError(
                f"healthCheck.timeout ({check.timeout}) must be shorter than readTimeout ({self.read_timeout})"
            )
        if check.enabled and check.rise * duration_seconds(check.interval) > self.fail_timeout_seconds:
            # The rollout waits failTimeout + 1s after a batch: the restarted host must be back by then.
            raise ValueError(
                f"healthCheck.rise x interval ({check.rise} x {check.interval}) must not exceed "
                f"failTimeout ({self.fail_timeout}): a restarted backend must be back before the next batch"
            )
        return self

    @property
    def fail_timeout_seconds(self) -> float:
        return duration_seconds(self.fail_timeout)


class RolloutConfig(Model):
    """How app updates roll: ``batchSize`` hosts at a time, each batch gated on the previous one's health."""

    batch_size: Annotated[int, Field(ge=1, le=100)] = Field(
        default=1,
        alias="batchSize",
        description="app servers switched at a time; the next batch waits for this one's health gate",
        json_schema_extra=not_in_containers("containers switch one app server at a time"),
    )
