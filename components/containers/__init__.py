"""Containers mode: the site as Docker containers (app image, N app containers, nginx), with pulumi-docker.

``site`` declares the component; ``args`` holds its settings (checked by the config's rules), ``spec``
what each container gets, ``build_context`` the images' staged build contexts."""

from components.containers.args import ContainerSiteArgs
from components.containers.build_context import stage_app_context
from components.containers.site import ContainerSite
from components.containers.spec import ContainerSpec, app_spec, lb_spec, resolver_conf, site_conf

__all__ = [
    "ContainerSite",
    "ContainerSiteArgs",
    "ContainerSpec",
    "app_spec",
    "lb_spec",
    "resolver_conf",
    "site_conf",
    "stage_app_context",
]
