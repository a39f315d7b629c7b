"""More sites behind the same load balancer (``wayshub:sites``): each its own names, app, servers and TLS.

The stack's own ``domain`` and ``app`` are its first site, as before; each entry here adds one more (docs/sites.md).
The rules that span sites (a name, an app or a port used twice) are checked in ``StackConfig`` (``check_sites``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from components.config.app import AppConfig
from components.config.base import DOMAIN, Model, Text, check_short_name, named_once, repeated

# A site's name goes into file, unit, zone and resource names next to the stack's (components/layout.py).
SITE_TLS = ("off", "self-signed", "acme", "provided")


def check_domain(value: str) -> str:
    """A domain name with at least one dot (``shop.example``), whole."""
    if not DOMAIN.fullmatch(value) or "." not in value:
        raise ValueError(f"{value!r} is not a domain name such as 'wayshub.local'")
    return value


# A URL path a site serves below another site's domain: segments of unreserved characters, no trailing `/`.
SITE_PATH = re.compile(r"(/[A-Za-z0-9._~-]+)+")


def check_path(value: str) -> str:
    """A site's path (``/api``, ``/shop/admin``), whole; not ``/``, no trailing ``/``, no ``..``."""
    if not SITE_PATH.fullmatch(value) or any(part in (".", "..") for part in value.split("/")):
        raise ValueError(f"{value!r} is not a path such as '/api' (letters, digits, '.', '_', '~', '-' between '/')")
    return value


def check_alias(value: str) -> str:
    """Another name of a site: a domain, or a wildcard ``*.<domain>`` (its subdomains, one label deep or more)."""
    base = value.removeprefix("*.")
    if not DOMAIN.fullmatch(base) or "." not in base:
        raise ValueError(f"{value!r} is not a domain name or a wildcard such as '*.shop.example'")
    return value


class SiteConfig(Model):
    """One more site on the stack's load balancer (``wayshub:sites[N]``)."""

    name: Text = Field(
        description="the site's name: 1-16 lowercase letters or digits, starting with a letter; "
        "its nginx file, checker and resources are named after it (`wayshub-<stack>-<name>`)"
    )
    domain: Text = Field(description="the site's domain: its nginx `server_name`, hosts entry and URL")
    aliases: list[Text] = Field(
        default_factory=list,
        description="more names the site answers to: domains, or a wildcard `*.<domain>` (not in the hosts file)",
    )
    app: AppConfig = Field(
        default_factory=AppConfig,
        description="the site's Node app, every setting as in `app` (docs/app.md); `name` defaults to the site's name",
    )
    servers: list[Text] = Field(
        default_factory=list,
        description="the app servers (names from `hosts.appServers`) the app runs on; empty: all of them",
    )
    tls: Literal["off", "self-signed", "acme", "provided"] | None = Field(
        default=None,
        description="`off`, `self-signed` (its own CA and certificate), `acme` (its own certificate from `lb.acme`'s CA, for its domain) or `provided` (its certificate and key in `siteTls`); `lb.tls`'s value when that is `off`, `self-signed` or `acme`",
    )
    hosts_file: bool = Field(
        default=True, alias="hostsFile", description="its names (not wildcards) in the managed hosts-file block"
    )
    path: Text | None = Field(
        default=None,
        description="serve this path and below (`/api`) of another site's domain (`domain` is that site's): the "
        "requests keep the path; no aliases or TLS of its own (the other site's)",
    )

    @model_validator(mode="before")
    @classmethod
    def _app_name(cls, data: Any) -> Any:
        # The app's user, unit and folders are named after the site unless its app says otherwise.
        if isinstance(data, dict) and isinstance(data.get("app", {}), dict) and isinstance(data.get("name"), str):
            app = dict(data.get("app", {}))
            app.setdefault("name", data["name"])
            return {**data, "app": app}
        return data

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_short_name(value)

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        return check_domain(value)

    @field_validator("aliases")
    @classmethod
    def _aliases(cls, value: list[str]) -> list[str]:
        for alias in value:
            check_alias(alias)
        return value

    @field_validator("path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        return None if value is None else check_path(value)

    @model_validator(mode="after")
    def _path_alone(self) -> SiteConfig:
        if self.path is not None and self.aliases:
            raise ValueError("aliases: a site with a path answers on its domain's site's names; list none")
        if self.path is not None and self.tls is not None:
            raise ValueError("tls: a site with a path is served with its domain's site's TLS; set none")
        return self

    @field_validator("servers")
    @classmethod
    def _servers(cls, value: list[str]) -> list[str]:
        return named_once(value)

    @property
    def names(self) -> list[str]:
        """Every name the site answers to: its domain, then its aliases."""
        return [self.domain, *self.aliases]


@dataclass(frozen=True)
class SiteView:
    """One site as the program deploys it, the stack's own first (``key`` ``""``: its resources keep their names)."""

    key: str  # "" for the stack's own site, else the site's name
    where: str  # how messages name its settings: "" or "sites[1]."
    names: Sequence[str]
    app: AppConfig
    servers: Sequence[str]
    tls: str
    hosts_file: bool
    path: str = ""  # a path of the domain of another site (its "host"), or "" for a site of its own names

    @property
    def hosts_line(self) -> str:
        """The names its hosts-file line holds (``""``: none): all but wildcards, which no hosts file can hold."""
        if not self.hosts_file or self.path:  # a path's site: its domain's line is its domain site's
            return ""
        return " ".join(n for n in self.names if not n.startswith("*."))


def site_views(
    domain: str, app: AppConfig, lb_tls: str, app_servers: Sequence[str], sites: Sequence[SiteConfig]
) -> Iterator[SiteView]:
    """The stack's own site, then each of ``sites``, with their defaults filled in (servers, TLS)."""
    yield SiteView("", "", [domain], app, list(app_servers), lb_tls, True)
    tls_of = {domain: lb_tls, **{site.domain: site.tls for site in sites if site.path is None}}
    for index, site in enumerate(sites):
        tls = site.tls or (lb_tls if lb_tls in SITE_TLS and lb_tls != "provided" else "")
        if site.path is not None:  # served in its domain's site's server, with that site's TLS
            tls = tls_of.get(site.domain) or "off"
        yield SiteView(
            site.name,
            f"sites[{index}].",
            site.names,
            site.app,
            site.servers or list(app_servers),
            tls,
            site.hosts_file,
            site.path or "",
        )


def check_process_servers(views: Sequence[SiteView]) -> None:
    """Each of a site's ``app.processes`` (and its ``app.schedulesServer``) runs on servers its app runs on;
    ValueError naming the first that does not."""
    for view in views:
        for index, process in enumerate(view.app.processes):
            for server in process.servers:
                if server not in view.servers:
                    raise ValueError(
                        f"{view.where}app.processes[{index}].servers: {server!r} is not a server the app runs on "
                        f"({', '.join(view.servers)})"
                    )
        chosen = view.app.schedules_server
        if chosen is not None and chosen not in view.servers:
            raise ValueError(
                f"{view.where}app.schedulesServer: {chosen!r} is not a server the app runs on ({', '.join(view.servers)})"
            )


def check_sites(
    domain: str, app: AppConfig, lb_tls: str, app_servers: Sequence[str], sites: Sequence[SiteConfig]
) -> None:
    """The rules that span sites: names of their own, known servers, one app per name and port on a server,
    and a TLS mode each; ValueError naming the first setting that breaks one."""
    twice = repeated([site.name for site in sites])
    if twice:
        raise ValueError(f"sites: the name {twice[0]!r} is used twice; every site needs its own")
    seen_names: dict[str, str] = {}
    on_server: dict[tuple[str, str], str] = {}  # (server, "name:<app>" / "port:<n>") -> the setting that took it
    views = list(site_views(domain, app, lb_tls, app_servers, sites))
    own_names = {view.names[0] for view in views if not view.path}
    seen_paths: dict[tuple[str, str], str] = {}
    for view in views:
        if view.path:
            if view.names[0] not in own_names:
                raise ValueError(
                    f"{view.where}domain {view.names[0]} is no site's domain: a site with a path serves it below "
                    "the domain of another site (domain, or a site of sites without a path)"
                )
            first = seen_paths.setdefault((view.names[0], view.path), view.where)
            if first != view.where:
                raise ValueError(f"{view.where}path {view.path} of {view.names[0]} is also {first}path")
        for index, name in enumerate([] if view.path else view.names):
            key = f"{view.where}domain" if index == 0 else f"{view.where}aliases[{index - 1}]"
            if name in seen_names:
                raise ValueError(f"{key} {name} is also {seen_names[name]}: every site needs names of its own")
            seen_names[name] = key
        if not view.tls:
            raise ValueError(
                f"{view.where}tls is required: `off`, `self-signed`, `acme` or `provided` (lb.tls {lb_tls!r} is for "
                "the stack's own site)"
            )
        if view.key and view.tls == "acme" and len(view.names) > 1:
            raise ValueError(
                f"{view.where}aliases: an ACME certificate covers the site's domain alone; list no aliases with "
                "tls 'acme' (or make each its own site)"
            )
        for server in view.servers:
            if server not in app_servers:
                raise ValueError(
                    f"{view.where}servers: {server!r} is not in hosts.appServers ({', '.join(app_servers)})"
                )
            for what, value in (("name", view.app.name), ("port", str(view.app.port))):
                taken = on_server.get((server, f"{what}:{value}"))
                if taken is not None:
                    raise ValueError(
                        f"{view.where}app.{what} {value} is also {taken}.{what} on server {server}: "
                        f"two apps on one server need {what}s of their own"
                    )
                on_server[(server, f"{what}:{value}")] = f"{view.where}app" if view.where else "app"
