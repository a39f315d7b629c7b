"""The site as one component resource: checked settings in, servers (or containers), each site's app, nginx
in front and the domain pointed at it declared under it, and what `pulumi stack output` shows out.

No ``from __future__ import annotations`` here: the component package's Site (package/site_component.py)
subclasses this one, and Pulumi's schema inference reads every class's annotations as evaluated types."""

from dataclasses import replace
from typing import Any

import pulumi

from components.layout import SITE_TYPE, ca_file
from components.site.containers import in_containers
from components.site.domain import point_the_domain
from components.site.inputs import Inputs, SiteArgs, plan
from components.site.outputs import Front, site_urls
from components.site.servers import on_servers

# Before the Site existed every step's resources sat at the stack's top: each child of the Site names that
# place as an alias, so a deployed stack keeps every resource (the engine derives their children's aliases).
MOVED_UNDER_THE_SITE = pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)


class Site(pulumi.ComponentResource):
    """A load-balanced Node site: steps 1-5 of components/site/program.py for checked settings.

    What the engine (and a policy pack's stack policies) reads of it, among its outputs: ``settings`` (the
    stack file's ``wayshub:`` values, defaults filled in) and ``plainSecrets`` (secret settings the stack sets
    in plain text). Outputs, not inputs: a changed setting is no step of its own (a component's inputs are
    diffed, and an up that failed further on would leave them ahead of the site, a change in every later
    preview). One per
    stack: its resources' names are the stack's. Planning comes first and raises ConfigError (one line) before
    anything is declared."""

    # Outputs as the schema inference reads them (the package's Site adds its own); ``outputs`` (every value
    # `pulumi stack output` shows) is set in __init__, not annotated here, so it stays out of the schema.
    url: pulumi.Output[str]
    curl: pulumi.Output[str]

    def __init__(self, name: str, args: SiteArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        inputs = plan(args)
        super().__init__(SITE_TYPE, name, None, opts)
        under = pulumi.ResourceOptions(parent=self, aliases=[MOVED_UNDER_THE_SITE])
        front = declare(replace(inputs, under=under))
        self.outputs: dict[str, Any] = front.outputs
        self.url = pulumi.Output.from_input(front.outputs["url"])
        self.curl = pulumi.Output.from_input(front.outputs["curl"])
        self.register_outputs(
            {
                **self.outputs,
                "settings": args.settings.model_dump(mode="json", by_alias=True),
                "plainSecrets": list(args.plain_secrets),
            }
        )


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
    front.outputs.update(urls)
    return front
