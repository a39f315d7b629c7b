"""The program: the stack's settings and secrets in, the site's steps declared in order, its URL out.

1. servers  2. each site's app on its app servers  3. nginx in front  4. the domain in a hosts file and/or DNS
records  5. the URL and a curl that prove it. Reading and checking everything comes first. Steps 1-3 run on
servers over SSH (sandbox or existing VMs) or, in containers mode, as containers.
"""

from __future__ import annotations

from pathlib import Path

import pulumi

from components.layout import ca_file
from components.site.containers import in_containers
from components.site.domain import point_the_domain
from components.site.inputs import Inputs, Tuning, read_inputs
from components.site.outputs import Front, site_urls
from components.site.servers import on_servers


def declare(inputs: Inputs) -> Front:
    """Steps 1-5 for checked inputs."""
    settings = inputs.settings
    # 1-3. Servers, the app on each app server, nginx in front.
    front = in_containers(inputs) if settings.hosts.provider == "containers" else on_servers(inputs)
    # 4. The domain points at the LB.
    point_the_domain(inputs, front)
    # 5. What proves it: the URL, and a curl that works even before the hosts file is read.
    ca = ca_file(inputs.stack) if settings.lb.tls == "self-signed" else ""  # `make up` saves ca_certificate there
    urls = site_urls(settings.domain, front.tls, front.http_port, front.https_port, front.public_address, ca)
    pulumi.export("url", urls["url"])
    pulumi.export("curl", urls["curl"])
    return front


def main(project: Path, tuning: Tuning | None = None) -> None:
    """The whole program for the project folder ``project`` (where the app and the stack's files are)."""
    declare(read_inputs(project, tuning or Tuning()))
