"""Steps 1-3 on servers reached over SSH (sandbox VMs or your existing VMs): the servers, each site's app on
its app servers (components/site/apps.py), nginx on the LB server(s) with TLS, more sites, two LBs sharing an
address; the exports that say what runs."""

from __future__ import annotations

from typing import Any

import pulumi

from components import config as stack_config
from components.app.layout import app_user, unit_name
from components.config.hosts import TAKEOVER_BACKUP_DIR
from components.hosts.address import host_port
from components.hosts.from_config import declare_servers
from components.hosts.host import gate
from components.hosts.survey import SurveyArgs, survey_servers
from components.layout import ca_file, lb_component, site_component, site_label, site_resource, stack_label
from components.load_balancer import (
    BackendHealthCheck,
    BackendHealthCheckArgs,
    NginxLoadBalancer,
    NginxLoadBalancerArgs,
    SelfSignedTls,
    TlsMaterial,
    holder,
)
from components.load_balancer.acme_certificate import AcmeCertificate, AcmeCertificateArgs, dns_server_props, when
from components.load_balancer.failover import PRIORITIES, VrrpFailover, VrrpFailoverArgs
from components.load_balancer.more_sites import SiteOnLbs, SiteOnLbsArgs
from components.load_balancer.nginx import site_path
from components.load_balancer.shared_certificate import SharedCertificate
from components.load_balancer.takeover import retire_sites
from components.load_balancer.unknown_names import refuse_unknown_names
from components.site.apps import deploy_app, has_paths, host_site, site_servers
from components.site.domain import dns_records
from components.site.inputs import Inputs
from components.site.outputs import Front, site_urls


def acme_certificate(inputs: Inputs) -> AcmeCertificateArgs | None:
    """``lb.tls: acme``: what the LB's certificate is issued with (docs/acme.md)."""
    settings = inputs.settings
    acme = settings.lb.acme
    if acme is None:
        return None
    dns = settings.dns if acme.challenge == "dns-01" else None  # the config makes dns-01 need wayshub:dns
    return AcmeCertificateArgs(
        domain=settings.domain,
        directory_url=acme.directory_url,
        email=acme.email,
        challenge=acme.challenge,
        ca_bundle=stack_config.acme_ca_bundle(settings, inputs.here),
        renew_days_before=acme.renew_days_before,
        timeout_seconds=acme.timeout_seconds,
        dns=dns_server_props(dns) if dns else None,
        tsig_secret=inputs.secrets.dns_tsig() if dns else None,
    )


def log_certificate(inputs: Inputs, domain: str, certificate: AcmeCertificate) -> None:
    """When an ACME certificate expires and when `up` renews it, and the CA's warnings, in the up's log."""
    days = inputs.settings.lb.acme.renew_days_before if inputs.settings.lb.acme else 0
    certificate.not_after.apply(lambda d: pulumi.log.info(f"certificate for {domain} {when(d, days)}"))
    certificate.warnings.apply(lambda lines: pulumi.log.warn("\n".join(lines)) if lines else None)


def provided_tls(inputs: Inputs, site: str) -> TlsMaterial:
    """A site's own certificate and key (``siteTls.<site>``, checked by load_checked), both from a secret."""
    return TlsMaterial(*inputs.secrets.site_tls(site))


def on_servers(inputs: Inputs) -> Front:
    """Steps 1-3 on servers reached over SSH: sandbox VMs or your existing VMs."""
    settings, stack, site_apps = inputs.settings, inputs.stack, inputs.site_apps
    run, release = site_apps[0].run, site_apps[0].release
    # 1. Servers: N app servers and one load balancer.
    servers = declare_servers(
        settings,
        stack,
        inputs.secrets.ssh_private_key() if settings.hosts.provider == "existing" else None,
        inputs.under,
    )
    outputs: dict[str, Any] = {"ssh_public_key": servers.ssh_public_key}  # for authorized_keys (docs/hosts.md)
    site_name = stack_label(stack)
    takeover = settings.hosts.takeover
    if settings.hosts.provider == "existing":
        # What is already on your servers (an app run by hand, a hand-written nginx site): any conflict
        # stops the up before anything changes, unless hosts.takeover says to take it over.
        servers = survey_servers(
            servers,
            SurveyArgs(
                app_port=settings.app.port,
                app_unit=unit_name(settings.app.name),
                app_user=app_user(settings.app.name),
                domain=settings.domain,
                site_file=site_path(site_name),
                takeover=takeover,
            ),
            opts=inputs.under,
        )

    # 2. Each site's app (built once above, or a pinned release already on the servers) on its app servers,
    # rolled out in batches over the hosts that already run a release; a host's first deploy waits for nobody.
    servers_of = {site_app.site.key: site_servers(inputs, site_app.site, servers) for site_app in site_apps}
    apps_of = {app.site.key: deploy_app(inputs, app, servers_of[app.site.key].app, takeover) for app in site_apps}
    apps = apps_of[""]

    # 3. nginx on the LB server(s), a file per site with one upstream line per backend, TLS if configured; with
    # two LBs (hosts.lbServers) keepalived on both shares one address (docs/failover.md).
    sandbox = settings.hosts.provider == "sandbox"
    failover = settings.virtual_address
    if failover is not None:
        public_address = failover
    else:
        public_address = settings.sandbox.bind_address if sandbox else (settings.hosts.load_balancers[0].address or "")
    # lb.acme: the CA every site with `tls: acme` gets its certificate from (the stack's own with lb.tls acme).
    acme_ca = acme_certificate(inputs)
    acme = acme_ca if settings.lb.tls == "acme" else None
    # HTTP-01: the CA looks the name up, so the DNS records come before the certificate (and the site).
    acme_after = (
        dns_records(inputs, public_address, servers.lb.ready)
        if acme_ca and settings.dns and acme_ca.challenge == "http-01"
        else []
    )
    tls: TlsMaterial | None = None
    if settings.lb.tls == "self-signed":
        self_signed = SelfSignedTls("tls", domain=settings.domain, stack=stack, opts=inputs.under)
        tls = TlsMaterial(self_signed.certificate, self_signed.private_key)
        outputs["ca_certificate"] = self_signed.ca_certificate
    elif settings.lb.tls == "provided":
        tls = TlsMaterial(*inputs.secrets.tls())
    published = sandbox and failover is None  # a sandbox LB's ports published on this machine
    public_https_port = settings.sandbox.https_port if published else settings.lb.https_port
    # With two LBs a site change reaches the one not holding the shared address first, the holder last (read
    # now; by default the second LB first). With ACME: one certificate, issued by the first LB once the
    # address is held and both serve the HTTP-01 answers; the other LB gets it through deferred outputs.
    order = holder.publish_order(
        len(servers.lbs),
        holder.address_holder(settings, stack, inputs.secrets.ssh_private_key_now()) if failover else None,
    )
    shared = SharedCertificate() if acme is not None and len(servers.lbs) > 1 else None
    lbs: dict[int, NginxLoadBalancer] = {}
    for position, index in enumerate(order):
        host = servers.lbs[index]
        name = lb_component(index)
        lbs[index] = NginxLoadBalancer(
            name,
            NginxLoadBalancerArgs(
                host=host,
                site_name=site_name,
                domain=settings.domain,
                backends=[a.backend for a in apps],
                settings=settings.lb,
                tls=shared.tls if shared and index > 0 else tls,
                public_https_port=public_https_port,
                harden=settings.harden_nginx,
                acme=acme,
                acme_after=[*acme_after, *(shared.issue_after() if shared and index == 0 else [])],
                acme_issuer=index == 0,
                acme_peers=servers.lbs[1:] if index == 0 else [],
                after=[lbs[order[position - 1]].site] if position else [],
                has_paths=has_paths(inputs, site_apps[0].site),
            ),
            inputs.under,
        )
        if settings.lb.health_check.enabled:
            # A hung backend leaves the upstream within seconds (docs/hung-backends.md).
            BackendHealthCheck(
                f"{name}-health",
                BackendHealthCheckArgs(
                    host=host,
                    site_name=site_name,
                    backends=[a.backend for a in apps],
                    settings=settings.lb,
                    health=settings.app.health,
                    site=lbs[index].site,
                ),
                inputs.under,
            )
    # Each of wayshub:sites: its own nginx file, certificate and checker on every LB, independent of each
    # other; first, on each LB, the server that refuses a name no site has (docs/sites.md).
    http_port = settings.sandbox.http_port if published else settings.lb.listen_port
    on_lbs_of: dict[str, SiteOnLbs] = {}
    if len(site_apps) > 1:
        any_tls = any(site_app.site.tls != "off" for site_app in site_apps)
        refusing = {
            index: [
                refuse_unknown_names(
                    f"{lb_component(index)}-unknown-names",
                    host,
                    stack,
                    settings.lb,
                    tls=any_tls,
                    ours=sandbox,
                    after=[lbs[index].nginx],
                    opts=inputs.under,
                )
            ]
            for index, host in enumerate(servers.lbs)
        }
        sites: dict[str, object] = {}
        # Sites with their own names first: a site with a path waits for its domain's site on each LB.
        for site_app in sorted(site_apps[1:], key=lambda one: bool(one.site.path)):
            more = site_app.site
            home = host_site(inputs, more)  # itself, or the site whose domain it serves a path of
            on_lbs = SiteOnLbs(
                site_component(more.key),
                SiteOnLbsArgs(
                    site=more,
                    site_name=site_label(stack, more.key),
                    stack=stack,
                    backends=[a.backend for a in apps_of[more.key]],
                    lbs=servers_of[more.key].lbs,
                    order=order,
                    settings=settings.lb,
                    public_https_port=public_https_port,
                    after=refusing,
                    acme=acme_ca,
                    acme_after=acme_after,
                    provided=provided_tls(inputs, more.key) if more.tls == "provided" else None,
                    has_paths=has_paths(inputs, more),
                    host_site_name=site_label(stack, home.key),
                    host_sites={
                        index: lbs[index].site if not home.key else on_lbs_of[home.key].sites[index]
                        for index in range(len(servers.lbs))
                    }
                    if more.path
                    else {},
                ),
                inputs.under,
            )
            on_lbs_of[more.key] = on_lbs
            if on_lbs.certificate is not None:
                log_certificate(inputs, more.names[0], on_lbs.certificate)
            ca = ca_file(stack, home.key) if home.tls == "self-signed" else ""
            sites[more.key] = {
                **site_urls(
                    more.names[0], more.tls != "off", http_port, public_https_port, public_address, ca, more.path
                ),
                "backends": [a.backend for a in apps_of[more.key]],
                "release": site_app.release.id,
                "releases": [a.release_id for a in apps_of[more.key]],
                **({"ca_certificate": on_lbs.ca_certificate} if on_lbs.ca_certificate is not None else {}),
                **(
                    {"certificate": {"expires": on_lbs.certificate.not_after, "issuer": on_lbs.certificate.issuer}}
                    if on_lbs.certificate is not None
                    else {}
                ),
            }
        outputs["sites"] = sites

    lb = lbs[0]
    ready: list[pulumi.Resource] = [lb.site]
    if failover is not None:
        ready = []
        for index, host in enumerate(servers.lbs):
            vrrp = VrrpFailover(
                f"{lb_component(index)}-vrrp",
                VrrpFailoverArgs(
                    host=host,
                    site_name=site_name,
                    peers=[other.private_address for other in servers.lbs if other is not host],
                    virtual_address=failover,
                    priority=PRIORITIES[index],
                    settings=settings.lb.failover,
                    listen_port=settings.lb.listen_port,
                    # ACME: the CA must reach the shared address before the certificate (and the site) exists.
                    site=(lbs[index].acme_front if shared else None) or lbs[index].site,
                    after=ready[:1],
                ),
                inputs.under,
            )
            ready.append(vrrp.keepalived)
    if shared is not None and lb.certificate is not None:
        shared.resolve(lb.certificate, ready[0], [other.acme_front for other in lbs.values() if other is not lb])
    if lb.certificate is not None:
        outputs["certificate"] = {"expires": lb.certificate.not_after, "issuer": lb.certificate.issuer}
        log_certificate(inputs, settings.domain, lb.certificate)
    outputs["lb_address"] = lb.address if failover is None else host_port(failover, settings.lb.listen_port)
    outputs["backends"] = [a.backend for a in apps]
    outputs["release"] = release.id
    node = run.node.describe() + (f" (from {run.node.source})" if run.node.source else "")
    outputs["app"] = {"start": run.spec.start, "node": node, "install": run.spec.recipe}
    outputs["releases"] = [a.release_id for a in apps]
    outputs["previous_releases"] = [a.previous_release for a in apps]
    if takeover:
        notes = [a.takeover_notes for site_apps_of in apps_of.values() for a in site_apps_of]
        for index, host in enumerate(servers.lbs):
            # Each site's hand-written nginx site for its domain, once that site of ours is live there.
            live_sites = {"": lbs[index].site, **{key: on_lbs.sites[index] for key, on_lbs in on_lbs_of.items()}}
            for view in (site_app.site for site_app in site_apps if not site_app.site.path):
                retired = retire_sites(
                    site_resource(view.key, f"{lb_component(index)}-retire-sites"),
                    host,
                    view.names[0],
                    site_path(site_label(stack, view.key)),
                    live_sites[view.key],
                    inputs.under,
                )
                notes.append(retired.stdout.apply(str.splitlines))
        outputs["takeover"] = pulumi.Output.all(*notes).apply(lambda lists: [n for ns in lists for n in ns])
        outputs["takeover_backup"] = TAKEOVER_BACKUP_DIR
    return Front(
        lb_ready=ready[0] if len(ready) == 1 else gate("lb-ready", ready, inputs.under),
        public_address=public_address,
        http_port=http_port,
        https_port=public_https_port,
        tls=settings.lb.tls != "off",
        dns_declared=bool(acme_after),
        outputs=outputs,
    )
