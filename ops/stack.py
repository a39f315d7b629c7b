"""What the stack says about its hosts: how to reach each one, and what should be running there.

Read from the stack (``pulumi stack export --show-secrets``, ``pulumi stack output``, ``pulumi config``)
with the ``pulumi`` on PATH. The parsing is plain functions of those JSON documents, testable alone.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from components import config as stack_config
from components.config import SiteView
from components.layout import app_component, lb_component, site_label, site_of_resource, site_resource
from components.load_balancer.health_check import Paths
from components.load_balancer.nginx import site_path
from components.shell.ssh import Connection

# How the engine marks a secret value in an exported state (pulumi's resource.SecretSig).
SECRET_SIG = "4dabf18193072939515e22adb298388d"  # noqa: S105 - a marker, not a secret


class StackError(Exception):
    """The stack cannot be read, or has no hosts we can reach over SSH."""


@dataclass(frozen=True)
class OpsHost:
    name: str
    role: str  # "app" or "lb"
    connection: Connection = field(repr=False)  # carries the private key: never printed


@dataclass(frozen=True)
class OpsSite:
    """One site as the ops tools see it: the stack's own (``key`` ``""``) or one of ``wayshub:sites``."""

    key: str
    name: str  # how SITE= and the reports name it: the key, or the own site's domain
    app: stack_config.AppConfig
    servers: tuple[str, ...]  # the app servers its app runs on
    release: str  # the release the stack intends (output `release`, or `sites.<key>.release`)
    backends: list[str]  # its upstream members (output `backends`, or `sites.<key>.backends`)
    site_name: str  # its nginx file on the LBs (``site_label``; "" when the state has no such file)
    upstream: str  # the upstream its rendered file proxies to
    health_unit: bool  # whether the stack runs its backend health check


@dataclass(frozen=True)
class StackView:
    stack: str
    hosts: list[OpsHost]
    sites: list[OpsSite]  # every site (the stack's own first), or the one SITE= selects
    virtual_address: str = ""  # the address two LBs share (hosts.lbServers), "" with one LB
    several: bool = False  # the stack has wayshub:sites (the reports name each row's site)
    selected: str = ""  # the site SITE= chose ("" for all)
    urns: tuple[str, ...] = ()  # every resource of the stack's state but the providers
    every_site: tuple[OpsSite, ...] = ()  # all the stack's sites, also when SITE= selects one

    def site_urns(self, site: OpsSite) -> list[str]:
        """The resources of ``site``: a site of wayshub:sites by its name's prefix; the stack's own site, all
        the others (its servers, hosts entry and DNS records too)."""
        keys = [s.key for s in self.every_site]
        return [urn for urn in self.urns if site_of_resource(_name(urn), keys) == site.key]

    def host(self, name: str) -> OpsHost:
        for host in self.hosts:
            if host.name == name:
                return host
        scope = f"site {self.selected} of stack {self.stack}" if self.selected else f"stack {self.stack}"
        raise StackError(f"no host {name!r} in {scope} (hosts: {', '.join(h.name for h in self.hosts)})")

    @property
    def app_hosts(self) -> list[OpsHost]:
        return [h for h in self.hosts if h.role == "app"]

    def site_of(self, name: str) -> OpsSite:
        for site in self.sites:
            if name == site.name:
                return site
        raise StackError(f"no site {name!r} in stack {self.stack} (sites: {', '.join(s.name for s in self.sites)})")

    def only(self, name: str) -> StackView:
        """The view of one site (``SITE=``): its app servers and the LBs."""
        site = self.site_of(name)
        hosts = [h for h in self.hosts if h.role != "app" or h.name in site.servers]
        return replace(self, hosts=hosts, sites=[site], selected=site.name)

    def serves(self, host: OpsHost) -> list[OpsSite]:
        """The sites ``host`` has a part in: each whose app runs there, every site on an LB."""
        return [s for s in self.sites if host.role != "app" or host.name in s.servers]


def unsecret(value: Any) -> Any:
    """The plain value of an exported state value, secrets (shown with --show-secrets) decoded."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) is not None and "plaintext" in value:
            return unsecret(json.loads(value["plaintext"]))
        return {k: unsecret(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unsecret(v) for v in value]
    return value


def _name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def connections_by_component(deployment: Mapping[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """``{component name: (component type, connection props)}`` from the remote resources' inputs."""
    resources = deployment.get("resources") or []
    types = {r["urn"]: r["type"] for r in resources}
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for resource in resources:
        parent = resource.get("parent")
        connection = unsecret((resource.get("inputs") or {}).get("connection"))
        if parent in types and isinstance(connection, dict) and connection.get("host"):
            found.setdefault(_name(parent), (types[parent], connection))
    return found


def component_outputs(deployment: Mapping[str, Any], type_: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (_name(r["urn"]), unsecret(r.get("outputs") or {}))
        for r in deployment.get("resources") or []
        if r["type"] == type_
    ]


APP_TYPE = "wayshub:app:NodeApp"
LB_TYPE = "wayshub:load_balancer:NginxLoadBalancer"
HEALTH_TYPE = "wayshub:load_balancer:BackendHealthCheck"


def view_of(
    stack: str, deployment: Mapping[str, Any], outputs: Mapping[str, Any], settings: stack_config.StackConfig
) -> StackView:
    """The hosts in config order (app servers, then the LB), each with the connection its resources use; the
    sites in config order (the stack's own first), each with what should run for it."""
    if settings.hosts.provider == "containers":
        raise StackError(f"stack {stack} runs in containers (no SSH): use docker ps / docker logs")
    by_component = connections_by_component(deployment)
    sites = settings.all_sites
    hosts: list[OpsHost] = []
    for server in settings.hosts.app_servers:
        found = next(
            (f for f in (by_component.get(app_component(server.name, s.key)) for s in sites) if f and f[0] == APP_TYPE),
            None,
        )
        if found:
            hosts.append(OpsHost(server.name, "app", Connection.from_props(found[1])))
    for index, server in enumerate(settings.hosts.load_balancers):
        found = by_component.get(lb_component(index))
        if found and found[0] == LB_TYPE:
            hosts.append(OpsHost(server.name, "lb", Connection.from_props(found[1])))
    if not hosts:
        raise StackError(f"stack {stack} has no deployed hosts (run `make up STACK={stack}` first)")
    return StackView(
        stack=stack,
        hosts=hosts,
        sites=list(every := tuple(ops_site(stack, site, deployment, outputs) for site in sites)),
        every_site=every,
        virtual_address=settings.virtual_address or "",
        several=len(sites) > 1,
        urns=tuple(
            r["urn"] for r in deployment.get("resources") or [] if not r["type"].startswith("pulumi:providers:")
        ),
    )


def ops_site(stack: str, site: SiteView, deployment: Mapping[str, Any], outputs: Mapping[str, Any]) -> OpsSite:
    """What the stack says of one site: its outputs (the own site's at the top, the others' under ``sites``),
    its nginx file and checker as the state has them."""
    said = outputs if not site.key else (outputs.get("sites") or {}).get(site.key) or {}
    label = site_label(stack, site.key)
    lbs = dict(component_outputs(deployment, LB_TYPE))
    return OpsSite(
        key=site.key,
        name=site.key or site.names[0],
        app=site.app,
        servers=tuple(site.servers),
        release=str(said.get("release") or ""),
        backends=[str(b) for b in said.get("backends") or []],
        site_name=label if label in published_files(deployment, LB_TYPE, site_path) else "",
        upstream=upstream_name(str(lbs.get(site_resource(site.key, lb_component(0)), {}).get("site") or "")),
        health_unit=label in published_files(deployment, HEALTH_TYPE, lambda name: Paths.of(name).unit),
    )


def upstream_name(site_text: str) -> str:
    """The upstream a rendered nginx site declares: ``upstream <name> {``."""
    match = re.search(r"^upstream\s+(\S+)\s*\{", site_text, re.MULTILINE)
    return match.group(1) if match else ""


def published_files(deployment: Mapping[str, Any], type_: str, shape: Callable[[str], str]) -> set[str]:
    """The site names whose file (nginx site, checker unit: ``shape(site name)``) the commands of ``type_``
    components write (the stack has no output for them)."""
    pattern = re.compile(re.escape(shape("@@")).replace("@@", r"([A-Za-z0-9._-]+)"))
    types = {r["urn"]: r["type"] for r in deployment.get("resources") or []}
    found: set[str] = set()
    for resource in deployment.get("resources") or []:
        if types.get(resource.get("parent", "")) == type_:
            found.update(pattern.findall(str((resource.get("inputs") or {}).get("create") or "")))
    return found


def with_dial_timeout(view: StackView, seconds: float) -> StackView:
    """The same hosts, giving up on an unreachable one after ``seconds`` (deploys wait longer)."""
    hosts = [replace(h, connection=replace(h.connection, dial_timeout_seconds=seconds)) for h in view.hosts]
    return replace(view, hosts=hosts)


@dataclass(frozen=True)
class PulumiStack:
    """The ``pulumi`` CLI for one stack of the project in ``workdir`` (env: backend, passphrase, home)."""

    stack: str
    workdir: Path
    env: Mapping[str, str] | None = None

    def _json(self, *args: str) -> Any:
        result = self._run(*args)
        if result.returncode != 0:
            if f"no stack named '{self.stack}'" in result.stderr or "unable to open state directory" in result.stderr:
                deploy = "make up" if self.stack == "local" else f"make up STACK={self.stack}"
                raise StackError(f"stack {self.stack} is not deployed here: {deploy} first")
            raise StackError(f"pulumi {args[0]} {args[1]} --stack {self.stack}: {result.stderr.strip()[-500:]}")
        return json.loads(result.stdout or "null")

    def remove_site(self, key: str) -> list[str]:
        """Take the site ``key`` out of the stack's config: its entry of wayshub:sites, and its siteSecrets and
        siteTls when set; returns what it did, a line each. The stack's own site is not one to take out."""
        if not key:
            raise StackError("the stack's own site goes with the stack: make destroy (without SITE)")
        config = self._json("config", "--json")
        sites = json.loads(config.get(f"{stack_config.NAMESPACE}:sites", {}).get("value") or "[]")
        index = next((i for i, site in enumerate(sites) if site.get("name") == key), None)
        if index is None:
            raise StackError(f"no site {key!r} in wayshub:sites of stack {self.stack}")
        done = []
        for path in (
            f"sites[{index}]",
            f"{stack_config.SITE_SECRETS_SETTING}.{key}",
            f"{stack_config.SITE_TLS_SETTING}.{key}",
        ):
            setting = f"{stack_config.NAMESPACE}:{path}"
            if path.startswith("sites[") or f"{stack_config.NAMESPACE}:{path.split('.')[0]}" in config:
                removed = self._run("config", "rm", "--path", setting)
                if removed.returncode == 0:
                    done.append(f"removed {setting} from stack {self.stack}'s config")
                elif path.startswith("sites["):
                    raise StackError(f"pulumi config rm --path {setting}: {removed.stderr.strip()[-300:]}")
        return done

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                ["pulumi", "--non-interactive", *args, "--stack", self.stack],
                cwd=self.workdir,
                env=dict(self.env) if self.env is not None else None,
                capture_output=True,
                text=True,
                check=False,
            )
        except FileNotFoundError:
            raise StackError(
                "no pulumi on PATH: run this through make (make status, logs, ssh, exec), which finds the engine"
            ) from None

    def read(self) -> StackView:
        deployment = self._json("stack", "export", "--show-secrets").get("deployment") or {}
        outputs = self._json("stack", "output", "--json", "--show-secrets") or {}
        config = self._json("config", "--json")
        values = {key.removeprefix(f"{stack_config.NAMESPACE}:"): entry.get("value") for key, entry in config.items()}
        try:
            settings = stack_config.load(values.get)
        except stack_config.ConfigError as err:
            raise StackError(str(err)) from None
        return view_of(self.stack, deployment, outputs, settings)
