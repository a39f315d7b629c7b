"""``ContainerSiteArgs``: the containers site's plain, typed settings, with the config's defaults and
checked by the config's own rules (components/config/), so a site built directly, as the tests do, meets
the same rules as one built from a stack."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
from pydantic import ValidationError

from components.config import AppConfig, LoadBalancerConfig
from components.config.containers import ContainersConfig, check_containers_site
from components.config.hosts import check_server_names
from components.containers.build_context import REPO

# The defaults: the `wayshub:containers` section's and the app's.
_SECTION = ContainersConfig()
_APP = AppConfig()


@dataclass(frozen=True)
class ContainerSiteArgs:
    """Plain, typed settings (the ``wayshub:containers`` section and friends)."""

    stack: str
    domain: str
    app_servers: Sequence[str]
    app_source: Path
    lb_server: str = "lb"
    lb: LoadBalancerConfig = field(default_factory=LoadBalancerConfig)
    app_port: int = _APP.port
    env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    # Secret values (wayshub:appSecrets): the containers' whole env is then a secret in the state.
    secret_env: pulumi.Input[Mapping[str, str]] | None = None
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
    # The pulumi-docker builder: BuilderV1 (the legacy builder: no buildx needed) or BuilderBuildKit.
    builder_version: str = _SECTION.builder
    wait_timeout_seconds: int = 90

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
