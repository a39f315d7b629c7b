"""Taking over a hand-built LB (``hosts.takeover``): once our site is live, retire the hand-written one.

Runs after ``NginxLoadBalancer``'s site step, so the domain is served all along: ours wins from the
moment it is live (conf.d is read before sites-enabled), then theirs is disabled with a copy kept under
the takeover backup folder (host/retire-sites.sh). Without takeover nothing here is declared.
"""

from __future__ import annotations

from pathlib import Path

import pulumi

from components.config.hosts import TAKEOVER_BACKUP_DIR
from components.hosts import Host
from components.shell.command import remote
from components.shell.host_script import host_script

SCRIPT = Path(__file__).resolve().parent / "host" / "retire-sites.sh"


def retire_sites(
    name: str,
    host: Host,
    domain: str,
    site_file: str,
    after: pulumi.Resource,
    opts: pulumi.ResourceOptions | None = None,
) -> remote.RemoteCommandResource:
    """``stdout``: one line per site it disabled."""
    inputs = {"DOMAIN": domain, "SITE_FILE": site_file, "BACKUP": TAKEOVER_BACKUP_DIR}
    return remote.Command(
        name,
        pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[after])),
        connection=host.connection,
        create=host_script(SCRIPT, inputs),
    )
