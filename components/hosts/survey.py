"""Before anything is deployed to servers you own: what is already there, and may it be taken over?

Servers someone set up by hand are not empty: the app runs by hand on its port and nginx serves a hand-written
site for the domain. One ``<server>-survey`` step per server looks for those (host/survey.sh); every
later step waits behind one gate after all of them, so a conflict on any server stops the ``up``
before anything changes on any server, with one line per conflict. With ``hosts.takeover: true`` the
survey lists what will be taken over, and the app and LB steps do it (stop the hand-run process
right before that host's switch; disable the hand-written site once ours is live), keeping copies.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pulumi

from components.config.hosts import TAKEOVER_BACKUP_DIR
from components.hosts.from_config import Servers
from components.hosts.host import gate
from components.layout import site_resource
from components.shell.command import remote
from components.shell.host_script import host_script

HOST_SCRIPTS = Path(__file__).resolve().parent / "host"


@dataclass(frozen=True)
class SurveyArgs:
    app_port: int
    app_unit: str  # our systemd unit: its processes are not conflicts
    app_user: str  # the unit's user: reads its own processes' sockets where root may not (host/lib.sh)
    domain: str
    site_file: str  # our nginx site: not a conflict
    takeover: bool


def survey_inputs(server: str, role: str, args: SurveyArgs) -> dict[str, str]:
    return {
        "SERVER": server,
        "ROLE": role,
        "PORT": str(args.app_port),
        "UNIT": args.app_unit,
        "APP_USER": args.app_user,
        "DOMAIN": args.domain,
        "SITE_FILE": args.site_file,
        "TAKEOVER": "1" if args.takeover else "0",
        "BACKUP": TAKEOVER_BACKUP_DIR,
    }


def survey_servers(
    servers: Servers, args: SurveyArgs, site: str = "", opts: pulumi.ResourceOptions | None = None
) -> Servers:
    """The same servers, each ``ready`` only once every server's survey has passed (``site``: for one of
    ``wayshub:sites``, its own steps and gate)."""
    roles = [(host, "app") for host in servers.app] + [(host, "lb") for host in servers.lbs]
    surveys = [
        remote.Command(
            site_resource(site, f"{host.name}-survey"),
            # stdout is a secret: with takeover it names the processes to stop by their command lines.
            pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(depends_on=[host.ready], additional_secret_outputs=["stdout"])
            ),
            connection=host.connection,
            create=host_script(HOST_SCRIPTS / "survey.sh", survey_inputs(host.name, role, args)),
        )
        for host, role in roles
    ]
    ready = gate(site_resource(site, "survey-gate"), surveys, opts)
    return replace(
        servers,
        app=[replace(host, ready=ready) for host in servers.app],
        lbs=[replace(host, ready=ready) for host in servers.lbs],
    )
