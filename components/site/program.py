"""The program: the stack's settings and secrets in, one Site declared, its outputs exported.

The Site's steps (components/site/component.py): 1. servers  2. each site's app on its app servers  3. nginx
in front  4. the domain in a hosts file and/or DNS records  5. the URL and a curl that prove it. Reading and
checking everything comes first. Steps 1-3 run on servers over SSH (sandbox or existing VMs) or, in containers
mode, as containers.
"""

from __future__ import annotations

from pathlib import Path

import pulumi

from components import config as stack_config
from components.site.component import Site
from components.site.inputs import Tuning, exit_with, read_site_args

SITE_NAME = "site"


def main(project: Path, tuning: Tuning | None = None) -> Site:
    """The whole program for the project folder ``project`` (where the app and the stack's files are)."""
    args = read_site_args(project, tuning or Tuning())
    try:
        site = Site(SITE_NAME, args)
    except stack_config.ConfigError as err:  # planning: before any resource is declared
        exit_with(err)
    for key, value in site.outputs.items():
        pulumi.export(key, value)
    return site
