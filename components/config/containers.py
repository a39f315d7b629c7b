"""Containers mode's section (``hosts.provider: containers``): images, network and published port, and the
rules the site as a whole must meet there. ``components/containers`` checks its arguments with these too."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from components.config.base import Model, Port, Text, check_loopback, check_private_subnet
from components.config.hosts import app_server_room

_IMAGE_REPOSITORY = re.compile(r"[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*")
_IMAGE_REFERENCE = re.compile(
    r"([a-z0-9.-]+(:[0-9]+)?/)?[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
)
_DOCKER_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}")


class ContainersConfig(Model):
    """Containers mode (``hosts.provider: containers``): the site as Docker containers, with pulumi-docker."""

    app_image: Text = Field(
        default="wayshub/app",
        alias="appImage",
        description="the app image's local repository (never pushed; the tag is a digest of what it is built from)",
    )
    nginx_image: Text = Field(
        default="wayshub/nginx",
        alias="nginxImage",
        description="the nginx image's local repository, tagged the same way",
    )
    app_base: Text = Field(
        default="node:20-bookworm-slim",
        alias="appBase",
        description="the app Dockerfile's `BASE`; `wayshub/debian-base:bookworm` (from `scripts/sandbox-image`) where no registry answers",
    )
    nginx_base: Text = Field(
        default="nginx:1.27", alias="nginxBase", description="the nginx Dockerfile's `BASE`, likewise"
    )
    network: Text = Field(
        default="wayshub-containers",
        description=(
            "the containers' own Docker network: nginx gets `.10`, each app server two addresses "
            "(slots a and b: `.11`, `.12`, … and the same half the subnet later)"
        ),
    )
    subnet: Text = Field(default="172.30.78.0/24", description="the network's private IPv4 subnet (≥ /28)")
    http_port: Port = Field(default=8090, alias="httpPort", description="nginx's port published on `bindAddress`")
    bind_address: Text = Field(
        default="127.0.0.1", alias="bindAddress", description="where nginx's port is published: a loopback address"
    )
    prefetch_npm: bool = Field(
        default=False,
        alias="prefetchNpm",
        description="fill the build's npm cache with this machine's npm, so `npm ci` in the image build runs offline",
    )
    builder: Literal["BuilderV1", "BuilderBuildKit"] = Field(
        default="BuilderBuildKit",
        description=(
            "`BuilderBuildKit` (the daemon's BuildKit: no buildx needed, leaves no container) or `BuilderV1` "
            "(the legacy builder: every build step's container stays, docs/architecture.md)"
        ),
    )

    @field_validator("app_image", "nginx_image")
    @classmethod
    def _repository(cls, value: str) -> str:
        if not _IMAGE_REPOSITORY.fullmatch(value):
            raise ValueError(
                f"{value!r} is not an image repository such as 'wayshub/app' (no tag: the tag is a digest)"
            )
        return value

    @field_validator("app_base", "nginx_base")
    @classmethod
    def _reference(cls, value: str) -> str:
        if not _IMAGE_REFERENCE.fullmatch(value):
            raise ValueError(f"{value!r} is not an image reference such as 'node:20-bookworm-slim'")
        return value

    @field_validator("network")
    @classmethod
    def _network(cls, value: str) -> str:
        if not _DOCKER_NAME.fullmatch(value):
            raise ValueError(f"{value!r} is not a Docker network name (letters, digits, '_', '.', '-')")
        return value

    @field_validator("subnet")
    @classmethod
    def _subnet(cls, value: str) -> str:
        return check_private_subnet(value, example="172.30.78.0/24")

    @field_validator("bind_address")
    @classmethod
    def _loopback(cls, value: str) -> str:
        return check_loopback(value, why="the site's port is never published beyond this machine")


def container_slot_room(subnet: str) -> int:
    """How many app servers fit in ``subnet`` in containers mode: each has two fixed addresses (slots a and b,
    the container serving now and the next release's), slot b's ``container_slot_room`` addresses after a's."""
    return app_server_room(subnet) // 2


def check_containers_site(tls: str, subnet: str, app_servers: int) -> None:
    """What containers mode needs of the rest of the stack: plain HTTP, and an address for every app server."""
    if tls != "off":
        raise ValueError("lb.tls must be 'off' with hosts.provider 'containers' (plain HTTP on loopback)")
    room = container_slot_room(subnet)
    if app_servers > room:
        raise ValueError(f"containers.subnet has room for {room} app servers (two addresses each), not {app_servers}")
