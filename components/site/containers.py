"""Steps 1-3 as Docker containers (containers mode, pulumi-docker): the app image, a container per app
server, nginx with the same site template, and the exports that say what runs."""

from __future__ import annotations

import sys
from typing import Any

import pulumi

from components.containers import ContainerSite
from components.containers.args import site_args
from components.site.inputs import Inputs
from components.site.outputs import Front


def in_containers(inputs: Inputs) -> Front:
    """Steps 1-3 as Docker containers (pulumi-docker): an app image built from app/, one container per
    app server, nginx with the same site template. No servers, no SSH."""
    settings = inputs.settings
    c = settings.containers
    assert inputs.image_plan is not None
    try:
        site = ContainerSite(
            "containers",
            site_args(
                settings, inputs.stack, inputs.here, inputs.secrets.app_env(), inputs.app_secrets, inputs.image_plan
            ),
            inputs.under,
        )
    except ValueError as err:  # a pinned release this stack has no image for: one line, as for a bad setting
        pulumi.log.error(str(err))
        sys.exit(32)
    outputs: dict[str, Any] = {
        "lb_address": f"{c.bind_address}:{c.http_port}",
        "backends": site.backends,
        "release": site.release,
        "network": site.network_name,
        "releases": site.releases,
        "previous_releases": site.previous_releases,
        "release_images": site.release_images,  # read back by the next up (containers/rollout.py)
    }
    return Front(
        lb_ready=site.site,
        public_address=c.bind_address,
        http_port=c.http_port,
        https_port=c.http_port,
        outputs=outputs,
    )
