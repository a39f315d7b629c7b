"""With several sites on one nginx (``wayshub:sites``), a request for a name none of them has is refused
(``templates/nginx-unknown-names.conf.j2``): without it nginx would answer it with whichever site comes first."""

from __future__ import annotations

import pulumi

from components.config import LoadBalancerConfig
from components.hosts import Host
from components.layout import stack_label
from components.load_balancer.nginx import publish_command, unpublish_command
from components.render import render
from components.shell import cmd, sudo_script
from components.shell.command import remote


def unknown_names_label(stack: str) -> str:
    """The file's name in conf.d: ``00-`` first, so nginx takes its server as each port's default."""
    return f"00-{stack_label(stack)}-unknown-names"


def unknown_names_text(stack: str, settings: LoadBalancerConfig, tls: bool) -> str:
    return render(
        "nginx-unknown-names.conf.j2",
        stack=stack,
        listen_port=settings.listen_port,
        https_port=settings.https_port if tls else None,
    )


# Debian's stock site: its `listen 80 default_server` would answer a name no site has with nginx's welcome page.
STOCK_DEFAULT_SITE = "/etc/nginx/sites-enabled/default"


def refuse_unknown_names(
    name: str,
    host: Host,
    stack: str,
    settings: LoadBalancerConfig,
    *,
    tls: bool,
    ours: bool,
    after: list[pulumi.Resource],
    opts: pulumi.ResourceOptions | None = None,
) -> pulumi.Resource:
    """The refusing server on one LB, published (``nginx -t``, reload) after ``after`` (nginx is there). On an
    LB we made (``ours``: a sandbox VM) Debian's stock default site goes with the same reload; on your own
    servers it stays, and so does any server of yours that says ``default_server``."""
    label = unknown_names_label(stack)
    publish = publish_command(label)
    return remote.Command(
        name,
        pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=after)),
        connection=host.connection,
        create=f"{sudo_script([cmd('rm', '-f', STOCK_DEFAULT_SITE)])} && {publish}" if ours else publish,
        delete=unpublish_command(label),
        stdin=unknown_names_text(stack, settings, tls),
    )
