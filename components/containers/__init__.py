"""Containers mode: the site as Docker containers (app image, N app containers, nginx), with pulumi-docker."""

from components.containers.site import (
    ContainerSite,
    ContainerSiteArgs,
    ContainerSpec,
    app_spec,
    docker_create_argv,
    lb_spec,
    resolver_conf,
    site_conf,
    stage_app_context,
)

__all__ = [
    "ContainerSite",
    "ContainerSiteArgs",
    "ContainerSpec",
    "app_spec",
    "docker_create_argv",
    "lb_spec",
    "resolver_conf",
    "site_conf",
    "stage_app_context",
]
