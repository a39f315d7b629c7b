"""``SiteOnLbs``: one of ``wayshub:sites`` on the stack's load balancer(s), beside the stack's own site.

Each site is its own nginx file (``wayshub-<stack>-<site>.conf``: its names, its upstream of its app's backends,
its TLS), published through ``nginx -t`` and a graceful reload like the stack's own, and its own backend checker.
Nothing of one site waits for another's, so a broken release of one leaves the others as they are; the
stack's own site keeps the LB-wide parts (nginx's sandboxing drop-in). docs/sites.md has the design.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi

from components.config import LoadBalancerConfig, SiteView
from components.hosts import Host
from components.layout import lb_component, site_resource
from components.load_balancer.acme_certificate import AcmeCertificate, AcmeCertificateArgs
from components.load_balancer.health_check import BackendHealthCheck, BackendHealthCheckArgs
from components.load_balancer.nginx import (
    NginxLoadBalancer,
    NginxLoadBalancerArgs,
    TlsMaterial,
    path_location_file,
    path_site_texts,
    publish_command,
    publish_file_command,
    unpublish_command,
    unpublish_file_command,
)
from components.load_balancer.tls import SelfSignedTls
from components.shell.command import remote


@dataclass(frozen=True)
class SiteOnLbsArgs:
    site: SiteView
    site_name: str  # its things on the LB: wayshub-<stack>-<site> (components/layout.py)
    stack: str
    backends: Sequence[pulumi.Input[str]]
    lbs: Sequence[Host]
    # The order the LBs take a change in (two LBs: the one not holding the shared address first).
    order: Sequence[int]
    settings: LoadBalancerConfig
    public_https_port: int
    # Per LB index: what the site's publish waits for (the unknown-names server).
    after: Mapping[int, Sequence[pulumi.Resource]]
    # lb.acme's CA (``tls: acme``; one LB), and what the certificate waits for (HTTP-01: the DNS records).
    acme: AcmeCertificateArgs | None = None
    acme_after: Sequence[pulumi.Resource] = ()
    # ``tls: provided``: its certificate chain and key (``wayshub:siteTls.<site>``).
    provided: TlsMaterial | None = None
    # Other sites serve paths of this one's domain: its servers include their location files.
    has_paths: bool = False
    # A site with a path: the site whose domain it serves a path of (its things' name on the LB), and that
    # site's published file on each LB (its include must be there first).
    host_site_name: str = ""
    host_sites: Mapping[int, pulumi.Resource] = dataclasses.field(default_factory=dict)


class SiteOnLbs(pulumi.ComponentResource):
    """``sites`` holds the published site of each LB; ``ca_certificate`` its own CA (``tls: self-signed``)."""

    def __init__(self, name: str, args: SiteOnLbsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wayshub:load_balancer:SiteOnLbs", name, None, opts)
        site = args.site
        tls: TlsMaterial | None = args.provided if site.tls == "provided" else None
        self.ca_certificate: pulumi.Output[str] | None = None
        if site.tls == "self-signed":
            own = SelfSignedTls(
                site_resource(site.key, "tls"),
                domain=site.names[0],
                stack=args.stack,
                aliases=[n for n in site.names[1:]],
                opts=pulumi.ResourceOptions(parent=self),
            )
            tls = TlsMaterial(own.certificate, own.private_key)
            self.ca_certificate = own.ca_certificate
        # Its own certificate from lb.acme's CA, for its domain (the config refuses it with two LBs).
        acme = dataclasses.replace(args.acme, domain=site.names[0]) if site.tls == "acme" and args.acme else None
        published: dict[int, pulumi.Resource] = {}
        self.certificate: AcmeCertificate | None = None
        for position, index in enumerate(args.order):
            lb_name = site_resource(site.key, lb_component(index))
            after = [*args.after.get(index, []), *([published[args.order[position - 1]]] if position else [])]
            if site.path:
                published[index] = self._path_site(lb_name, args, index, after)
            else:
                lb = NginxLoadBalancer(
                    lb_name,
                    NginxLoadBalancerArgs(
                        host=args.lbs[index],
                        site_name=args.site_name,
                        domain=site.names[0],
                        aliases=site.names[1:],
                        backends=args.backends,
                        settings=args.settings,
                        tls=tls,
                        public_https_port=args.public_https_port,
                        after=after,
                        acme=acme,
                        acme_after=args.acme_after,
                        has_paths=args.has_paths,
                    ),
                    pulumi.ResourceOptions(parent=self),
                )
                published[index] = lb.site
                self.certificate = self.certificate or lb.certificate
            if args.settings.health_check.enabled:
                BackendHealthCheck(
                    f"{lb_name}-health",
                    BackendHealthCheckArgs(
                        host=args.lbs[index],
                        site_name=args.site_name,
                        backends=args.backends,
                        settings=args.settings,
                        health=site.app.health,
                        site=published[index],
                    ),
                    pulumi.ResourceOptions(parent=self),
                )
        self.sites = [published[index] for index in sorted(published)]
        self.register_outputs({"ca_certificate": self.ca_certificate})

    def _path_site(
        self, name: str, args: SiteOnLbsArgs, index: int, after: Sequence[pulumi.Resource]
    ) -> pulumi.Resource:
        """A site serving a path of another's domain on one LB: its upstream in conf.d, then its locations in
        the folder that site's server includes; returns the locations' step (the site is live once it ran)."""
        site, conn = args.site, args.lbs[index].connection
        texts = pulumi.Output.all(*args.backends).apply(
            lambda backends: path_site_texts(
                args.site_name, args.host_site_name, site.names[0], site.path, list(backends), args.settings
            )
        )
        upstream = remote.Command(
            f"{name}-upstream",
            pulumi.ResourceOptions(parent=self, depends_on=list(after)),
            connection=conn,
            create=publish_command(args.site_name),
            delete=unpublish_command(args.site_name),
            stdin=texts.apply(lambda pair: pair[0]),
        )
        location = path_location_file(args.host_site_name, args.site_name)
        return remote.Command(
            f"{name}-site",
            pulumi.ResourceOptions(parent=self, depends_on=[upstream, args.host_sites[index]]),
            connection=conn,
            create=publish_file_command(location),
            delete=unpublish_file_command(location),
            stdin=texts.apply(lambda pair: pair[1]),
        )
