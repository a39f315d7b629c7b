"""``ContainerSiteArgs``: the containers site's plain, typed settings, with the config's defaults and
checked by the config's own rules (components/config/), so a site built directly, as the tests do, meets
the same rules as one built from a stack."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
from pydantic import ValidationError

from components.config import AppConfig, LoadBalancerConfig, StackConfig
from components.config.containers import ContainersConfig, check_containers_site
from components.config.hosts import check_server_names
from components.containers.app_image import AppImagePlan
from components.containers.build_context import REPO

# The defaults: the `wayshub:containers` section's and the app's.
_SECTION = ContainersConfig()
_APP = AppConfig()


def secret_digest(values: Mapping[str, str]) -> str:
    """sha256 of the secret env (names and values, sorted); empty without secrets. Never the values."""
    if not values:
        return ""
    text = "\0".join(f"{k}={values[k]}" for k in sorted(values))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class ContainerSiteArgs:
    """Plain, typed settings (the ``wayshub:containers`` section and friends)."""

    stack: str
    domain: str
    app_servers: Sequence[str]
    app_source: Path
    lb_server: str = "lb"
    lb: LoadBalancerConfig = field(default_factory=LoadBalancerConfig)
    # The app contract (docs/app.md): port and portEnv, start, build, nodeVersion, health: as on VMs.
    app: AppConfig = field(default_factory=AppConfig)
    # How the image is built and started (app_image.py), planned from ``app`` where not given.
    image: AppImagePlan | None = None
    # The app's extra env (``app.env``; values may be Outputs).
    env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    # Secret values (wayshub:appSecrets): the containers' whole env is then a secret in the state.
    secret_env: pulumi.Input[Mapping[str, str]] | None = None
    # A digest of the secret values (``secret_digest``): part of each app container's release key, so a changed
    # secret rolls out like any change (the values themselves are Outputs, unknown when resources are named).
    secret_digest: str = ""
    # Run this release (its image, from the stack's recent releases) instead of the one built from app_source.
    release_pin: str | None = None
    releases_kept: int = _APP.releases_kept
    app_image: str = _SECTION.app_image
    nginx_image: str = _SECTION.nginx_image
    app_base: str = _SECTION.app_base
    nginx_base: str = _SECTION.nginx_base
    network: str = _SECTION.network
    subnet: str = _SECTION.subnet
    http_port: int = _SECTION.http_port
    bind_address: str = _SECTION.bind_address
    # Where the app's build context is staged (a clean copy: no node_modules, no tests).
    build_dir: Path = REPO / "build" / "images"
    # Fill an npm cache in the staged context with this machine's npm, so the image build runs
    # `npm ci --offline` and needs no registry (for builders that cannot reach one).
    prefetch_npm: bool = _SECTION.prefetch_npm
    # The pulumi-docker builder: BuilderBuildKit (the daemon's BuildKit) or BuilderV1 (the legacy builder, which
    # keeps every build step's container: pulumi-docker does not ask it to remove them).
    builder_version: str = _SECTION.builder
    # How long the nginx container may take to report healthy (an app container has app.health.timeoutSeconds).
    wait_timeout_seconds: int = 120

    @property
    def app_port(self) -> int:
        return self.app.port

    def __post_init__(self) -> None:
        if not self.app_servers:
            raise ValueError("containers: at least one app server is needed")
        section = {
            "appImage": self.app_image,
            "nginxImage": self.nginx_image,
            "appBase": self.app_base,
            "nginxBase": self.nginx_base,
            "network": self.network,
            "subnet": self.subnet,
            "httpPort": self.http_port,
            "bindAddress": self.bind_address,
            "prefetchNpm": self.prefetch_npm,
            "builder": self.builder_version,
        }
        try:
            ContainersConfig.model_validate(section)
        except ValidationError as err:
            first = err.errors(include_url=False)[0]
            where = ".".join(str(part) for part in first["loc"])
            raise ValueError(f"containers.{where}: {str(first['msg']).removeprefix('Value error, ')}") from None
        try:
            check_server_names([*self.app_servers, self.lb_server])
        except ValueError as err:
            raise ValueError(f"containers: {err}") from None
        check_containers_site(self.lb.tls, self.subnet, len(self.app_servers))  # its errors name the settings


def site_args(
    settings: StackConfig,
    stack: str,
    project_dir: Path,
    secret_env: pulumi.Input[Mapping[str, str]] | None,
    secrets: Mapping[str, str],
    image: AppImagePlan | None = None,
) -> ContainerSiteArgs:
    """The site's arguments from a stack's checked settings (``secrets``: the plain secret values, for their
    digest only; ``secret_env`` is what the containers get; ``image``: the app image's plan, made before)."""
    c = settings.containers
    return ContainerSiteArgs(
        stack=stack,
        domain=settings.domain,
        app_servers=[server.name for server in settings.hosts.app_servers],
        lb_server=settings.hosts.load_balancers[0].name,
        app_source=project_dir / settings.app.source,
        lb=settings.lb,
        app=settings.app,
        image=image,
        env=settings.app.env_text_values,
        secret_env=secret_env,
        secret_digest=secret_digest(secrets),
        app_image=c.app_image,
        nginx_image=c.nginx_image,
        app_base=c.app_base,
        nginx_base=c.nginx_base,
        network=c.network,
        subnet=c.subnet,
        http_port=c.http_port,
        bind_address=c.bind_address,
        build_dir=project_dir / "build" / "images",
        prefetch_npm=c.prefetch_npm,
        builder_version=c.builder,
        release_pin=settings.app.release_pin,
        releases_kept=settings.app.releases_kept,
    )
