"""The stack's settings, loaded once into frozen, validated objects.

Every key is checked before any resource is declared: an unknown key, a missing one or a bad value
stops the program with ONE line naming the setting (``wayshub:hosts.appServers[1].name: ...``).
The models are the one source of truth: each field carries its description and default, and
Pulumi.yaml's ``config:`` section and docs/config.md are generated from them (components/config_reference.py).
"""

from __future__ import annotations

import base64
import binascii
import difflib
import ipaddress
import json
import re
import types
import typing
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from components.shell.ssh import load_private_key

NAMESPACE = "wayshub"
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_HOST_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$|^[a-z]$")
_DURATION = re.compile(r"^[1-9][0-9]*(ms|s|m)$")

Port = Annotated[int, Field(ge=1, le=65535)]


class ConfigError(Exception):
    """A setting is missing or wrong; the message is one line that names it."""


def _shown(default: str) -> dict[str, Any]:
    """The default the reference shows for a field whose value is decided elsewhere (``None`` in the model)."""
    return {"shown_default": default}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, strict=True)


def _check_host_name(value: str) -> str:
    if not _HOST_NAME.match(value):
        raise ValueError("must be 1-32 lowercase letters, digits or '-', starting with a letter")
    return value


def _check_address(value: str) -> str:
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        if _DOMAIN.match(value):
            return value
    raise ValueError(f"{value!r} is neither an IP address nor a host name")


class ServerConfig(_Model):
    """One server. For ``sandbox`` only ``name`` (and ``sshPort``) apply; ``existing`` needs ``address``."""

    name: str = Field(description="the server's name: lowercase letters, digits or `-`, unique in the stack")
    address: str | None = Field(
        default=None, description="`existing` (required there): the IP address or host name SSH reaches"
    )
    ssh_port: Port | None = Field(
        default=None,
        alias="sshPort",
        description="`existing`: the server's SSH port",
        json_schema_extra=_shown("`22` (sandbox: from `sandbox.sshPortBase`)"),
    )
    user: str | None = Field(
        default=None, description="`existing`: the SSH user for this server", json_schema_extra=_shown("`hosts.user`")
    )
    private_address: str | None = Field(
        default=None,
        alias="privateAddress",
        description="`existing`: the address the LB reaches this server's app on",
        json_schema_extra=_shown("`address`"),
    )
    host_key: str | None = Field(
        default=None,
        alias="hostKey",
        description="the server's pinned host key (`ssh-ed25519 AAAA…`, a known_hosts line without the host name): any other is refused",
    )

    _name = field_validator("name")(_check_host_name)

    @field_validator("address", "private_address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        return None if value is None else _check_address(value)

    @field_validator("host_key")
    @classmethod
    def _host_key(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^(ssh-ed25519|ecdsa-sha2-nistp\d+|ssh-rsa) [A-Za-z0-9+/=]+$", value):
            raise ValueError("must be '<type> <base64>' as in a known_hosts line without the host name")
        return value


class SandboxConfig(_Model):
    """Local sandbox VMs: Docker containers with systemd + sshd on one network."""

    image: str = Field(default="wayshub/sandbox-vm:bookworm", description="the VM image `scripts/sandbox-image` makes")
    network: str = Field(default="wayshub-local", description="the sandbox VMs' own Docker network")
    subnet: str = Field(
        default="172.30.77.0/24",
        description="the network's private IPv4 subnet (≥ /28): the LB gets `.10`, app servers `.11`, `.12`, … in config order",
    )
    ssh_port_base: Port = Field(
        default=2220,
        alias="sshPortBase",
        description="SSH of the LB on `bindAddress`:this port, app servers on the next ports in config order",
    )
    http_port: Port = Field(default=8080, alias="httpPort", description="the LB's port 80 published on `bindAddress`")
    https_port: Port = Field(
        default=8443, alias="httpsPort", description="the LB's port 443 published on `bindAddress`"
    )
    bind_address: str = Field(
        default="127.0.0.1",
        alias="bindAddress",
        description="where the sandbox ports are published: a loopback address, so they never leave this machine",
    )

    @field_validator("subnet")
    @classmethod
    def _subnet(cls, value: str) -> str:
        net = ipaddress.ip_network(value, strict=True)
        if not net.is_private or net.num_addresses < 16:
            raise ValueError("must be a private IPv4 network of at least /28, e.g. 172.30.77.0/24")
        return value

    @field_validator("bind_address")
    @classmethod
    def _loopback(cls, value: str) -> str:
        if not ipaddress.ip_address(value).is_loopback:
            raise ValueError("must be a loopback address: sandbox ports are never published beyond this machine")
        return value


_IMAGE_REPOSITORY = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$")
_IMAGE_REFERENCE = re.compile(
    r"^([a-z0-9.-]+(:[0-9]+)?/)?[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$"
)
_DOCKER_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$")


class ContainersConfig(_Model):
    """Containers mode (``hosts.provider: containers``): the site as Docker containers, with pulumi-docker."""

    app_image: str = Field(
        default="wayshub/app",
        alias="appImage",
        description="the app image's local repository (never pushed; the tag is a digest of what it is built from)",
    )
    nginx_image: str = Field(
        default="wayshub/nginx",
        alias="nginxImage",
        description="the nginx image's local repository, tagged the same way",
    )
    app_base: str = Field(
        default="node:20-bookworm-slim",
        alias="appBase",
        description="the app Dockerfile's `BASE`; `wayshub/debian-base:bookworm` (from `scripts/sandbox-image`) where no registry answers",
    )
    nginx_base: str = Field(
        default="nginx:1.27", alias="nginxBase", description="the nginx Dockerfile's `BASE`, likewise"
    )
    network: str = Field(
        default="wayshub-containers",
        description="the containers' own Docker network: nginx gets `.10`, app containers `.11`, `.12`, … in config order",
    )
    subnet: str = Field(default="172.30.78.0/24", description="the network's private IPv4 subnet (≥ /28)")
    http_port: Port = Field(default=8090, alias="httpPort", description="nginx's port published on `bindAddress`")
    bind_address: str = Field(
        default="127.0.0.1", alias="bindAddress", description="where nginx's port is published: a loopback address"
    )
    prefetch_npm: bool = Field(
        default=False,
        alias="prefetchNpm",
        description="fill the build's npm cache with this machine's npm, so `npm ci` in the image build runs offline",
    )
    builder: Literal["BuilderV1", "BuilderBuildKit"] = Field(
        default="BuilderV1", description="`BuilderV1` (the legacy builder, no buildx) or `BuilderBuildKit`"
    )

    @field_validator("app_image", "nginx_image")
    @classmethod
    def _repository(cls, value: str) -> str:
        if not _IMAGE_REPOSITORY.match(value):
            raise ValueError(
                f"{value!r} is not an image repository such as 'wayshub/app' (no tag: the tag is a digest)"
            )
        return value

    @field_validator("app_base", "nginx_base")
    @classmethod
    def _reference(cls, value: str) -> str:
        if not _IMAGE_REFERENCE.match(value):
            raise ValueError(f"{value!r} is not an image reference such as 'node:20-bookworm-slim'")
        return value

    @field_validator("network")
    @classmethod
    def _network(cls, value: str) -> str:
        if not _DOCKER_NAME.match(value):
            raise ValueError(f"{value!r} is not a Docker network name (letters, digits, '_', '.', '-')")
        return value

    @field_validator("subnet")
    @classmethod
    def _subnet(cls, value: str) -> str:
        net = ipaddress.ip_network(value, strict=True)
        if not net.is_private or net.version != 4 or net.num_addresses < 16:
            raise ValueError("must be a private IPv4 network of at least /28, e.g. 172.30.78.0/24")
        return value

    @field_validator("bind_address")
    @classmethod
    def _loopback(cls, value: str) -> str:
        if not ipaddress.ip_address(value).is_loopback:
            raise ValueError("must be a loopback address: the site's port is never published beyond this machine")
        return value


class HostsConfig(_Model):
    provider: Literal["sandbox", "existing", "containers"] = Field(
        default="sandbox",
        description="`sandbox` (VMs on this machine), `existing` (your servers over SSH) or `containers` (Docker containers, pulumi-docker; only server names apply)",
    )
    app_servers: list[ServerConfig] = Field(
        alias="appServers", min_length=1, description="the app servers (at least one), each a server as below"
    )
    lb_server: ServerConfig = Field(alias="lbServer", description="the load-balancer server, same keys")
    user: str = Field(default="wayshub", description="the SSH user (needs passwordless sudo)")
    allow_lb_on_app_server: bool = Field(
        default=False, alias="allowLbOnAppServer", description="`existing`: let the LB share an app server's address"
    )
    dial_timeout_seconds: Annotated[int, Field(ge=1, le=600)] = Field(
        default=60, alias="dialTimeoutSeconds", description="how long to keep trying to reach a server over SSH"
    )
    # Stored as an absolute path.
    known_hosts_file: str | None = Field(
        default=None,
        alias="knownHostsFile",
        min_length=1,
        description="`existing`: the known_hosts file that vouches for servers without a pinned `hostKey`",
        json_schema_extra=_shown("`~/.ssh/known_hosts`"),
    )
    takeover: bool = Field(
        default=False,
        description="`existing`: a hand-run app on the app's port or a hand-written nginx site for the domain stops the `up` before any change; `true` takes them over, keeping copies under /var/backups/wayshub-takeover (docs/hosts.md)",
    )

    @field_validator("known_hosts_file")
    @classmethod
    def _known_hosts(cls, value: str | None) -> str | None:
        if value is None:
            return None
        path = Path(value).expanduser().absolute()
        if not path.is_file():
            raise ValueError(f"{path} is not a file (make it with: ssh-keyscan -p <sshPort> <address> >> {path})")
        return str(path)

    @model_validator(mode="after")
    def _servers(self) -> HostsConfig:
        names = [s.name for s in self.all_servers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"server names must be unique, {', '.join(duplicates)} repeated")
        if self.provider == "containers":
            for index, server in enumerate(self.all_servers):
                where = f"appServers[{index}]" if index < len(self.app_servers) else "lbServer"
                given = {
                    "address": server.address,
                    "sshPort": server.ssh_port,
                    "user": server.user,
                    "privateAddress": server.private_address,
                    "hostKey": server.host_key,
                }
                extra = next((key for key, value in given.items() if value is not None), None)
                if extra:
                    raise ValueError(f"{where}.{extra} does not apply with provider 'containers' (only name)")
        if self.known_hosts_file is not None and self.provider != "existing":
            raise ValueError("knownHostsFile applies only with provider 'existing' (sandbox VMs pin their keys)")
        if self.takeover and self.provider != "existing":
            raise ValueError("takeover applies only with provider 'existing' (the program makes the other servers)")
        if self.provider == "existing":
            for index, server in enumerate(self.all_servers):
                if server.address is None:
                    where = f"appServers[{index}]" if index < len(self.app_servers) else "lbServer"
                    raise ValueError(f"{where}.address is required with provider 'existing'")
            app_addresses = [(s.address, s.ssh_port or 22) for s in self.app_servers]
            if len(set(app_addresses)) != len(app_addresses):
                raise ValueError("two app servers share the same address and sshPort")
            lb = (self.lb_server.address, self.lb_server.ssh_port or 22)
            if lb in app_addresses and not self.allow_lb_on_app_server:
                raise ValueError(
                    f"lbServer.address {lb[0]} is also an app server: set hosts.allowLbOnAppServer: true to share it"
                )
        return self

    @property
    def all_servers(self) -> list[ServerConfig]:
        return [*self.app_servers, self.lb_server]


_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
# A Node version as a person writes it: exact (20.11.1), partial (20, 20.11), optional leading "v".
NODE_VERSION = re.compile(r"^v?[0-9]{1,2}(\.[0-9]+){0,2}$")


class HealthConfig(_Model):
    """How a new release proves it serves: the unit's new process answers ``path`` on the app's port."""

    path: str = Field(default="/", description="the URL path a release must answer (also what the LB probes)")
    expect_status: str | int = Field(
        default="200-399", alias="expectStatus", description="the answer's status: one (`200`) or a range (`200-399`)"
    )
    timeout_seconds: Annotated[int, Field(ge=1, le=600)] = Field(
        default=60, alias="timeoutSeconds", description="how long a new release has to answer before the `up` fails"
    )
    interval_seconds: Annotated[float, Field(ge=0.1, le=60)] = Field(
        default=1.0, alias="intervalSeconds", description="seconds between two tries"
    )
    body_contains: str | None = Field(
        default=None,
        alias="bodyContains",
        min_length=1,
        description="text the answer must contain; `{release}` stands for the release id (`WAYSHUB_RELEASE`)",
    )

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not re.match(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*$", value):
            raise ValueError(f"{value!r} must be a URL path starting with '/', e.g. /healthz")
        return value

    @field_validator("expect_status")
    @classmethod
    def _status(cls, value: str | int) -> str:
        match = re.match(r"^([1-5][0-9][0-9])(?:-([1-5][0-9][0-9]))?$", str(value))
        if not match or int(match.group(2) or match.group(1)) < int(match.group(1)):
            raise ValueError(f"{value!r} is not an HTTP status or range such as 200 or 200-399")
        return str(value)

    @property
    def status_range(self) -> tuple[int, int]:
        low, _, high = str(self.expect_status).partition("-")
        return int(low), int(high or low)


EnvValue = str | int | float | bool


def env_value_problem(value: str) -> str | None:
    """Why text cannot reach the app's environment byte for byte (None: it can). Quotes, backslashes,
    ``$``, newlines, spaces and any Unicode arrive as written (components/app/node_app.py quotes them
    for systemd); a NUL cannot be in an environment variable at all, and the env file is UTF-8."""
    if "\0" in value:
        return "contains a NUL character, which no environment variable can hold"
    try:
        value.encode()
    except UnicodeEncodeError:
        return "is not valid Unicode text (it holds a lone surrogate such as \\udc80)"
    return None


def _env_value(value: Any) -> Any:
    problem = env_value_problem(value) if isinstance(value, str) else None
    if problem:
        raise ValueError(problem)
    return value


class AppConfig(_Model):
    """The Node app and how it runs on each app server (docs/app.md explains each setting)."""

    name: str = Field(default="wayshub", description="the app's name: its systemd unit, user and folders")
    source: str = Field(default="app", description="the app's folder (with its package.json), relative to the project")
    port: Port = Field(default=3000, description="the port the app listens on")
    port_env: str | list[str] = Field(
        default="PORT", alias="portEnv", description="the environment variable(s) the app reads its port from"
    )
    start: str | None = Field(
        default=None,
        min_length=1,
        description="the command line run in the release's app folder",
        json_schema_extra=_shown("package.json's `start` script, else `node <main>`"),
    )
    build: str | None = Field(
        default=None,
        min_length=1,
        description="a command run once where `pulumi up` runs (e.g. `npm run build`), before dev dependencies are pruned",
    )
    node_install: Literal["binary", "apt", "nodesource", "nvm"] | None = Field(
        default=None,
        alias="nodeInstall",
        description="how Node gets onto the servers: `binary` (from the npm registry, shipped with the release), `apt` (the distro's), `nodesource` or `nvm`",
        json_schema_extra=_shown("`binary` when a version is known, else `apt`"),
    )
    node_version: str | None = Field(
        default=None,
        alias="nodeVersion",
        description="the Node version (`22`, `22.11`, `22.11.0`)",
        json_schema_extra=_shown("`.nvmrc`, else package.json's `engines.node`"),
    )
    # Text, numbers and booleans (`pulumi config set --path` stores 3000 and true as such); written as text.
    # Each value is checked on its own, so an error names it: wayshub:app.env.<KEY>.
    env: dict[str, Annotated[Any, AfterValidator(_env_value)]] = Field(
        default_factory=dict,
        description="environment variables for the app: `NAME: value` (text, numbers and true/false, written as text)",
    )
    health: HealthConfig = Field(
        default_factory=HealthConfig, description="how a new release proves it serves before the next host switches"
    )
    releases_kept: Annotated[int, Field(ge=1, le=20)] = Field(
        default=3, alias="releasesKept", description="releases kept on each server (the previous one is the rollback)"
    )
    release_pin: str | None = Field(
        default=None,
        alias="releasePin",
        description="run this release id (12 hex characters) instead of the one built from `source`: `make rollback` sets it",
    )

    _name = field_validator("name")(_check_host_name)

    @field_validator("node_version")
    @classmethod
    def _node_version(cls, value: str | None) -> str | None:
        if value is not None and not NODE_VERSION.match(value):
            raise ValueError(f"{value!r} is not a Node version such as '22', '22.11' or '22.11.0'")
        return value

    @field_validator("start", "build")
    @classmethod
    def _command(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be empty")
        if value is not None and "\n" in value:
            raise ValueError("must be one line")
        return value

    @field_validator("port_env")
    @classmethod
    def _port_env(cls, value: str | list[str]) -> str | list[str]:
        names = [value] if isinstance(value, str) else value
        if not names:
            raise ValueError("must name at least one variable, e.g. PORT")
        for name in names:
            if not _ENV_NAME.match(name):
                raise ValueError(f"variable name {name!r} must be UPPER_SNAKE_CASE")
        return value

    @model_validator(mode="after")
    def _version_for_installer(self) -> AppConfig:
        if self.node_install in ("nodesource", "nvm") and self.node_version is None:
            raise ValueError(f"nodeVersion is required with nodeInstall '{self.node_install}'")
        taken = sorted(set(self.port_names) & set(self.env))
        if taken:
            raise ValueError(f"env.{taken[0]} is the port variable (portEnv): app.port sets it")
        return self

    @field_validator("release_pin")
    @classmethod
    def _pin(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[0-9a-f]{12}$", value):
            raise ValueError(
                f"{value!r} is not a release id (12 hex characters, as `pulumi stack output releases` shows)"
            )
        return value

    @field_validator("env")
    @classmethod
    def _env(cls, value: dict[str, Any]) -> dict[str, EnvValue]:
        for key, item in value.items():
            if not _ENV_NAME.match(key):
                raise ValueError(f"variable name {key!r} must be UPPER_SNAKE_CASE")
            if not isinstance(item, EnvValue):
                raise ValueError(f"{key}: must be text, a number or true/false, not {type(item).__name__}")
        return value

    @property
    def port_names(self) -> list[str]:
        return [self.port_env] if isinstance(self.port_env, str) else list(self.port_env)

    @property
    def env_text_values(self) -> dict[str, str]:
        """``env`` as the text a process sees: numbers as written, booleans as true/false."""
        return {key: str(value).lower() if isinstance(value, bool) else str(value) for key, value in self.env.items()}


def duration_seconds(value: str) -> float:
    """An nginx duration (``500ms``, ``3s``, ``1m``) in seconds."""
    number, unit = re.match(r"^(\d+)(ms|s|m)$", value).groups()  # type: ignore[union-attr]
    return int(number) * {"ms": 0.001, "s": 1.0, "m": 60.0}[unit]


class HealthCheckConfig(_Model):
    """Active checks from the LB (docs/hung-backends.md): every ``interval`` each backend's
    ``app.health.path``; no answer within ``timeout``, ``fall`` times in a row, makes it hung: the LB
    then ends the requests stuck on it every round, until ``rise`` answers in ``app.health.expectStatus``
    in a row."""

    enabled: bool = Field(
        default=True,
        description="the LB's active check of every backend's `app.health.path` (docs/hung-backends.md; not in containers mode)",
    )
    interval: str = Field(default="250ms", description="how often each backend is probed (50ms to 60s)")
    timeout: str = Field(
        default="750ms", description="no answer within this is a hang sign (shorter than `lb.readTimeout`)"
    )
    fall: Annotated[int, Field(ge=1, le=10)] = Field(default=2, description="probes in a row that make a backend hung")
    rise: Annotated[int, Field(ge=1, le=10)] = Field(
        default=2, description="answers in a row that bring it back (`rise` x `interval` ≤ `lb.failTimeout`)"
    )

    @field_validator("interval", "timeout")
    @classmethod
    def _duration(cls, value: str) -> str:
        if not _DURATION.match(value):
            raise ValueError(f"{value!r} is not a duration such as '250ms' or '1s'")
        if not 0.05 <= duration_seconds(value) <= 60:
            raise ValueError(f"{value!r} must be between 50ms and 60s")
        return value


class LoadBalancerConfig(_Model):
    """nginx on the LB server: ports, TLS, and how it treats backends."""

    listen_port: Port = Field(default=80, alias="listenPort", description="nginx's plain-HTTP port on the LB")
    https_port: Port = Field(default=443, alias="httpsPort", description="nginx's TLS port")
    tls: Literal["off", "self-signed", "provided"] = Field(
        default="off",
        description="`off`, `self-signed` (a per-stack CA, as the `local` stack uses) or `provided` (`tlsCertificate` and `tlsPrivateKey`)",
    )
    hsts: bool = Field(default=False, description="send `Strict-Transport-Security` (only once you are sure of HTTPS)")
    harden_nginx: bool | None = Field(
        default=None,
        alias="hardenNginx",
        description='sandbox nginx.service with our systemd drop-in (docs/app.md, "Sandboxing"); default: on for sandbox '
        "VMs, off for your own servers (it would confine every site that nginx serves)",
    )
    client_max_body_size: str = Field(
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
    fail_timeout: str = Field(
        default="3s",
        alias="failTimeout",
        description="how long a failed backend is skipped; the rollout waits this long (+1 s) between batches",
    )
    connect_timeout: str = Field(default="1s", alias="connectTimeout", description="the upstream connect timeout")
    read_timeout: str = Field(default="30s", alias="readTimeout", description="the upstream read timeout")
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

    @field_validator("fail_timeout", "connect_timeout", "read_timeout")
    @classmethod
    def _duration(cls, value: str) -> str:
        if not _DURATION.match(value):
            raise ValueError(f"{value!r} is not an nginx duration such as '500ms', '10s' or '1m'")
        return value

    @field_validator("client_max_body_size")
    @classmethod
    def _size(cls, value: str) -> str:
        if not re.match(r"^[0-9]+[kmg]?$", value):
            raise ValueError(f"{value!r} is not an nginx size such as '10m', '512k' or '0' (no limit)")
        return value

    @model_validator(mode="after")
    def _ports(self) -> LoadBalancerConfig:
        if self.tls != "off" and self.https_port == self.listen_port:
            raise ValueError(f"httpsPort and listenPort are both {self.listen_port}")
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


class RolloutConfig(_Model):
    """How app updates roll: ``batchSize`` hosts at a time, each batch gated on the previous one's health."""

    batch_size: Annotated[int, Field(ge=1, le=100)] = Field(
        default=1,
        alias="batchSize",
        description="app servers switched at a time; the next batch waits for this one's health gate",
    )


class HostsFileConfig(_Model):
    """A managed block in a hosts file that points the domain at the LB."""

    enabled: bool = Field(default=True, description="write the managed block")
    path: str = Field(default="/etc/hosts", description="which hosts file")
    address: str = Field(default="127.0.0.1", description="the address the domain points at")

    @field_validator("address")
    @classmethod
    def _ip(cls, value: str) -> str:
        ipaddress.ip_address(value)
        return value


_KEY_NAME = re.compile(
    r"^(?=.{1,253}\.?$)([A-Za-z0-9]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.?$"
)
DNS_TSIG_SETTING = "dnsTsigSecret"


def in_zone(name: str, zone: str) -> bool:
    """True if ``name`` is ``zone`` or a name under it (``www.example.com`` in ``example.com``)."""
    return name == zone or name.endswith("." + zone)


class DnsConfig(_Model):
    """DNS records for the site's names, kept on your DNS server with RFC 2136 updates signed with TSIG
    (docs/dns.md). The key's secret is the separate secret setting ``wayshub:dnsTsigSecret``."""

    server: str = Field(description="your DNS server: the zone's primary, as an IP address")
    port: Port = Field(default=53, description="the DNS server's port")
    zone: str = Field(description="the zone the records live in: the domain or a suffix of it")
    key_name: str = Field(alias="keyName", description="the TSIG key's name, as the server knows it")
    algorithm: Literal["hmac-sha224", "hmac-sha256", "hmac-sha384", "hmac-sha512"] = Field(
        default="hmac-sha256", description="the TSIG key's algorithm"
    )
    ttl: Annotated[int, Field(ge=1, le=86400)] = Field(default=300, description="the records' TTL in seconds")
    records: list[str] = Field(
        default_factory=list,
        description="the names that point at the LB, each an A record (AAAA for IPv6 addresses)",
        json_schema_extra=_shown("the domain"),
    )
    addresses: list[str] = Field(
        default_factory=list,
        description="the addresses they point at (`existing`: `lbServer.address` must then be an IP address)",
        json_schema_extra=_shown("the LB's public address"),
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
            return str(ipaddress.ip_address(value))
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address (give the DNS server's address, not its name)") from None

    @field_validator("zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        zone = value.rstrip(".").lower()
        if not _DOMAIN.match(zone):
            raise ValueError(f"{value!r} is not a zone name such as 'example.com'")
        return zone

    @field_validator("key_name")
    @classmethod
    def _key_name(cls, value: str) -> str:
        if not _KEY_NAME.match(value):
            raise ValueError(f"{value!r} is not a TSIG key name such as 'wayshub-update' (as tsig-keygen names it)")
        return value

    @field_validator("records")
    @classmethod
    def _records(cls, value: list[str]) -> list[str]:
        names = [name.rstrip(".").lower() for name in value]
        for name in names:
            if not _DOMAIN.match(name):
                raise ValueError(f"{name!r} is not a domain name such as 'www.example.com'")
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"{', '.join(duplicates)} repeated")
        return names

    @field_validator("addresses")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        addresses = []
        for address in value:
            try:
                addresses.append(str(ipaddress.ip_address(address)))
            except ValueError:
                raise ValueError(f"{address!r} is not an IP address") from None
        if len(set(addresses)) != len(addresses):
            raise ValueError("an address is repeated")
        return addresses

    @model_validator(mode="after")
    def _names_in_zone(self) -> DnsConfig:
        outside = [name for name in self.records if not in_zone(name, self.zone)]
        if outside:
            raise ValueError(f"records: {outside[0]} is not in zone {self.zone}")
        return self


class StackConfig(_Model):
    """Everything one stack declares, after validation."""

    domain: str = Field(description="the site's domain: nginx `server_name`, hosts entry, URL; e.g. `wayshub.local`")
    hosts: HostsConfig = Field(description="the servers: sandbox VMs, your existing servers, or containers")
    sandbox: SandboxConfig = Field(
        default_factory=SandboxConfig,
        description="sandbox VMs (`hosts.provider: sandbox`): Docker containers with systemd and sshd",
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

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        if not _DOMAIN.match(value) or "." not in value:
            raise ValueError(f"{value!r} is not a domain name such as 'wayshub.local'")
        return value

    @model_validator(mode="after")
    def _containers(self) -> StackConfig:
        if self.hosts.provider != "containers":
            return self
        if self.lb.tls != "off":
            raise ValueError("lb.tls must be 'off' with hosts.provider 'containers' (plain HTTP on loopback)")
        room = ipaddress.ip_network(self.containers.subnet).num_addresses - 12
        if len(self.hosts.app_servers) > room:
            raise ValueError(f"containers.subnet has room for {room} app servers, not {len(self.hosts.app_servers)}")
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
        if not in_zone(self.domain, self.dns.zone):
            raise ValueError(f"dns.zone {self.dns.zone} is not a suffix of the domain {self.domain}")
        lb_address = self.hosts.lb_server.address
        if not self.dns.addresses and self.hosts.provider == "existing" and lb_address is not None:
            try:
                ipaddress.ip_address(lb_address)
            except ValueError:
                raise ValueError(
                    f"dns.addresses is required: lbServer.address {lb_address} is a name, not an IP address"
                ) from None
        return self

    @property
    def dns_records(self) -> list[str]:
        """The names the DNS records are kept for (``dns.records``, else the domain)."""
        return (self.dns.records if self.dns else []) or [self.domain]

    @property
    def harden_nginx(self) -> bool:
        """``lb.hardenNginx``, else only on servers we made: on someone else's LB the drop-in would confine
        (and its one restart interrupt) every site their nginx serves."""
        return self.lb.harden_nginx if self.lb.harden_nginx is not None else self.hosts.provider == "sandbox"


# Settings read on their own, not part of StackConfig: secrets (never printed) and the TLS certificate.
SEPARATE_SETTINGS: dict[str, str] = {
    "sshPrivateKey": "`existing` only: the SSH private key, a secret: "
    '`pulumi config set --secret wayshub:sshPrivateKey -- "$(cat key)"`',
    "appSecrets": "secret environment values for the app: "
    "`pulumi config set --secret --path wayshub:appSecrets.API_TOKEN …`; never shown in plain text",
    "tlsCertificate": "`lb.tls: provided`: the PEM certificate chain for the domain",
    "tlsPrivateKey": "`lb.tls: provided`: the certificate's private key (PEM), a secret",
    DNS_TSIG_SETTING: "with `dns`: the TSIG key's secret as `tsig-keygen` prints it, a secret: "
    "`pulumi config set --secret wayshub:dnsTsigSecret …`",
}

COMMANDS_SETTING = "commands"
COMMAND_BACKENDS = ("auto", "builtin", "pulumi-command")
SEPARATE_SETTINGS[COMMANDS_SETTING] = (
    "what runs the commands: `builtin` (our providers, the default), `pulumi-command` (its plugin), or `auto`: "
    "pulumi-command when its plugin is installed, else builtin — for new stacks only (docs/commands.md)"
)


def check_commands(value: str | None) -> str:
    """``wayshub:commands``, or ``builtin`` when unset: a deployed stack must never change backend by itself
    (installing a plugin would turn its next ``up`` into a teardown; docs/commands.md "Switching backends")."""
    if value is None:
        return "builtin"
    if value not in COMMAND_BACKENDS:
        raise ConfigError(f"{NAMESPACE}:{COMMANDS_SETTING}: must be one of {', '.join(COMMAND_BACKENDS)}")
    return value


def section_model(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The model a field holds (unwrapping ``X | None`` and ``list[X]``), and whether it is a list of them."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        found = [section_model(arg) for arg in typing.get_args(annotation) if arg is not type(None)]
        return next((m for m in found if m[0] is not None), (None, False))
    if origin is list:
        model, _ = section_model(typing.get_args(annotation)[0])
        return (model, True) if model is not None else (None, False)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    return None, False


def field_keys(model: type[BaseModel]) -> list[str]:
    """A model's keys as a stack file spells them (the aliases)."""
    return [field.alias or name for name, field in model.model_fields.items()]


def _keys_at(loc: tuple[Any, ...]) -> list[str]:
    """The keys known where a validation location points (``("lb", "keepAlive")`` -> LoadBalancerConfig's)."""
    model: type[BaseModel] | None = StackConfig
    for part in loc:
        if isinstance(part, int):
            continue
        fields = {field.alias or name: field for name, field in model.model_fields.items()} if model else {}
        if part not in fields:
            break
        model, _ = section_model(fields[part].annotation)
    return field_keys(model) if model else []


def unknown_setting(name: str, known: Collection[str], where: str = "") -> ConfigError:
    """``wayshub:lb.keepAlive: unknown setting; did you mean wayshub:lb.keepalive?``"""
    full = f"{NAMESPACE}:{where}{name}"
    lower = {key.lower(): key for key in known}
    near = difflib.get_close_matches(name.lower(), lower, n=1, cutoff=0.75)
    if near:
        return ConfigError(f"{full}: unknown setting; did you mean {NAMESPACE}:{where}{lower[near[0]]}?")
    return ConfigError(f"{full}: unknown setting (known here: {', '.join(known)})")


_KINDS = {str: "text", int: "a number", float: "a number", bool: "true/false", list: "a list"}


def _location(error: Mapping[str, Any]) -> str:
    parts: list[str] = []
    for part in error["loc"]:
        if isinstance(part, int):
            parts[-1] = f"{parts[-1]}[{part}]"
        else:
            parts.append(str(part))
    return ".".join(parts)


def parse(raw: Mapping[str, Any]) -> StackConfig:
    """Validate plain settings (keys without the ``wayshub:`` prefix); raise ConfigError on the first problem."""
    try:
        return StackConfig.model_validate(dict(raw))
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        where = _location(first)
        message = str(first["msg"]).removeprefix("Value error, ")
        if first["type"] == "missing":
            message = "is required"
        elif first["type"] == "extra_forbidden":
            parent = where.rpartition(".")[0]
            where_parent = f"{parent}." if parent else ""
            raise unknown_setting(str(first["loc"][-1]), _keys_at(first["loc"][:-1]), where_parent) from None
        elif first["type"] in ("model_type", "dict_type", "model_attributes_type"):
            kind = _KINDS.get(type(first["input"]), type(first["input"]).__name__)
            message = f"must be a map of settings (docs/config.md lists them), not {kind}"
        prefix = f"{NAMESPACE}:{where}" if where else NAMESPACE
        raise ConfigError(f"{prefix}: {message}") from None


# The sections and values a stack sets under ``wayshub:`` (besides SEPARATE_SETTINGS).
KEYS = tuple(field_keys(StackConfig))


def _decode(key: str, value: str) -> Any:
    """Pulumi hands over objects as JSON text and plain values as text."""
    if not value.lstrip().startswith(("{", "[")):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as err:
        raise ConfigError(f"{NAMESPACE}:{key}: is not valid JSON/YAML ({err.msg})") from None


def setting_names(config_env: Mapping[str, Any]) -> list[str]:
    """The ``wayshub:`` settings a stack sets, from the engine's config (``pulumi.runtime.get_config_env()``:
    the language host hands the program every ``namespace:key`` of the stack), without the prefix."""
    prefix = f"{NAMESPACE}:"
    return sorted(key.removeprefix(prefix) for key in config_env if key.startswith(prefix))


def check_known(names: Collection[str]) -> None:
    """Every setting the stack sets is one the program reads: a typo (``hostFile``) is not silently ignored."""
    known = [*KEYS, *SEPARATE_SETTINGS]
    for name in sorted(names):
        if name not in known:
            raise unknown_setting(name, known)


def load(get: Callable[[str], str | None], keys: tuple[str, ...] = KEYS, names: Collection[str] = ()) -> StackConfig:
    """Load from a Pulumi config getter (``pulumi.Config().get``); absent keys take defaults. ``names``: the
    settings the stack sets (``setting_names``), each of which must be known."""
    check_known(names)
    raw = {key: _decode(key, value) for key in keys if (value := get(key)) is not None}
    return parse(raw)


# The passphrase the Makefile gives the `local` stack; any other stack must have its own.
DEFAULT_PASSPHRASE = "wayshub-local"  # noqa: S105 (public on purpose: it is in the Makefile)
DEFAULT_PASSPHRASE_STACKS = ("local",)


def check_passphrase(stack: str, environ: Mapping[str, str]) -> None:
    """Refuse the well-known default passphrase for any stack but ``local``: its secrets (SSH keys, TLS keys)
    would be encrypted with a passphrase everyone can read in the Makefile."""
    if stack in DEFAULT_PASSPHRASE_STACKS:
        return
    given = environ.get("PULUMI_CONFIG_PASSPHRASE")
    source = "PULUMI_CONFIG_PASSPHRASE"
    if given is None and environ.get("PULUMI_CONFIG_PASSPHRASE_FILE"):
        source = "PULUMI_CONFIG_PASSPHRASE_FILE"
        try:
            given = Path(environ[source]).read_text().rstrip("\r\n")
        except OSError:
            return  # the engine itself reports a passphrase file it cannot read
    if given == DEFAULT_PASSPHRASE:
        raise ConfigError(
            f"{source}: stack '{stack}' uses the default passphrase, which only the local stack may use; set your "
            "own (export PULUMI_CONFIG_PASSPHRASE=... or PULUMI_CONFIG_PASSPHRASE_FILE=<file>) before creating the stack"
        )


# --- Checks that need more than the config values: files on disk, secrets (never echoed). ---


def check_paths(config: StackConfig, project_dir: Path) -> None:
    """Folders and files the settings name must be usable; raise ConfigError naming the setting."""
    source = project_dir / config.app.source
    if not source.is_dir():
        raise ConfigError(f"{NAMESPACE}:app.source: {source} is not a folder")
    if not (source / "package.json").is_file():
        raise ConfigError(f"{NAMESPACE}:app.source: {source} has no package.json")
    if config.hosts_file.enabled:
        path = Path(config.hosts_file.path)
        if path.is_dir():
            raise ConfigError(f"{NAMESPACE}:hostsFile.path: {path} is a directory, not a hosts file")
        if not path.parent.is_dir():
            raise ConfigError(f"{NAMESPACE}:hostsFile.path: folder {path.parent} does not exist")


def check_ssh_private_key(config: StackConfig, key: str | None) -> None:
    if config.hosts.provider != "existing":
        return
    if not key:
        raise ConfigError(
            f"{NAMESPACE}:sshPrivateKey: is required with hosts.provider 'existing' "
            '(pulumi config set --secret wayshub:sshPrivateKey -- "$(cat key)")'
        )
    try:
        load_private_key(key)
    except ValueError:
        raise ConfigError(
            f"{NAMESPACE}:sshPrivateKey: is not an SSH private key (OpenSSH or PEM, unencrypted)"
        ) from None


def check_app_secrets(config: StackConfig, raw: str | None) -> dict[str, str]:
    """``appSecrets``: a secret object of extra env values; returns it parsed (never printed)."""
    if raw is None:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        raise ConfigError(
            f"{NAMESPACE}:appSecrets: must be an object of NAME: value (set it with --secret --path)"
        ) from None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ConfigError(f"{NAMESPACE}:appSecrets: must be an object of NAME: text value")
    for name in value:
        if not re.match(r"^[A-Z_][A-Z0-9_]*$", name):
            raise ConfigError(f"{NAMESPACE}:appSecrets: variable name {name!r} must be UPPER_SNAKE_CASE")
        if name in config.app.env:
            raise ConfigError(f"{NAMESPACE}:appSecrets: {name} is also in app.env; keep it in one place")
        problem = env_value_problem(value[name])
        if problem:  # says what is wrong, never the value
            raise ConfigError(f"{NAMESPACE}:appSecrets.{name}: {problem}")
    return value


def check_tls(config: StackConfig, certificate: str | None, key: str | None) -> None:
    """``provided`` TLS needs a certificate for the domain and its matching private key."""
    if config.lb.tls != "provided":
        if certificate or key:
            which = "tlsCertificate" if certificate else "tlsPrivateKey"
            raise ConfigError(f"{NAMESPACE}:{which}: is set but lb.tls is '{config.lb.tls}', not 'provided'")
        return
    if not certificate:
        raise ConfigError(f"{NAMESPACE}:tlsCertificate: is required with lb.tls 'provided' (PEM certificate chain)")
    if not key:
        raise ConfigError(f"{NAMESPACE}:tlsPrivateKey: is required with lb.tls 'provided' (set it with --secret)")
    from components.load_balancer.tls import TlsError, check_certificate_pair

    try:
        check_certificate_pair(certificate, key, config.domain)
    except TlsError as err:
        raise ConfigError(f"{NAMESPACE}:{err.setting}: {err}") from None


def check_dns_tsig_secret(config: StackConfig, secret: str | None) -> None:
    """``dnsTsigSecret``: the TSIG key's secret (base64, as tsig-keygen prints it); never printed."""
    setting = f"{NAMESPACE}:{DNS_TSIG_SETTING}"
    if config.dns is None:
        if secret:
            raise ConfigError(f"{setting}: is set but wayshub:dns is not")
        return
    if not secret:
        raise ConfigError(
            f"{setting}: is required with wayshub:dns "
            f"(pulumi config set --secret {setting} <the secret tsig-keygen printed>)"
        )
    try:
        decoded = base64.b64decode(secret.strip(), validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if not decoded:
        raise ConfigError(f'{setting}: is not base64 (the secret "..." line tsig-keygen prints)')


def load_checked(get: Callable[[str], str | None], project_dir: Path, names: Collection[str] = ()) -> StackConfig:
    """Everything checked before any resource: the settings' names, values, files, and the secrets' form
    (never their text)."""
    config = load(get, names=names)
    check_paths(config, project_dir)
    check_ssh_private_key(config, get("sshPrivateKey"))
    check_app_secrets(config, get("appSecrets"))
    check_tls(config, get("tlsCertificate"), get("tlsPrivateKey"))
    check_dns_tsig_secret(config, get(DNS_TSIG_SETTING))
    check_commands(get(COMMANDS_SETTING))
    return config
