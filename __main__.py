"""wayshub: the seed's five steps, declared once per stack.

1. servers  2. the Node app on each app server  3. nginx in front  4. the domain in a hosts file and/or DNS records
5. exports to prove it (URL, backends, release). Reading and checking config happens first.
Steps 1-3 run on servers over SSH (sandbox or existing VMs) or, in containers mode, as containers.
"""

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pulumi

from components import config as stack_config
from components.app import NodeApp, NodeAppArgs, app_name, deployed_before, roll_out
from components.app.layout import app_user, unit_name
from components.app.plan import SiteApp, plan_site_app
from components.app.release_task import ReleaseTask, ReleaseTaskArgs
from components.app.schedules import Schedules, SchedulesArgs
from components.checkpoint import checkpoint_urns
from components.config import SiteView
from components.containers import ContainerSite
from components.containers.app_image import plan_app_image
from components.containers.args import site_args
from components.engine_stop import leave_quietly_when_stopped
from components.hosts import Host
from components.hosts.address import host_port
from components.hosts.from_config import Servers, check_known_host_keys, declare_servers
from components.hosts.host import gate
from components.hosts.survey import BACKUP_DIR, SurveyArgs, survey_servers
from components.layout import ca_file, lb_component, site_component, site_label, site_resource, stack_label
from components.load_balancer import (
    BackendHealthCheck,
    BackendHealthCheckArgs,
    NginxLoadBalancer,
    NginxLoadBalancerArgs,
    SelfSignedTls,
    TlsMaterial,
)
from components.load_balancer.acme_certificate import AcmeCertificate, AcmeCertificateArgs, dns_server_props, when
from components.load_balancer.failover import PRIORITIES, VrrpFailover, VrrpFailoverArgs
from components.load_balancer.holder import address_holder, publish_order
from components.load_balancer.more_sites import SiteOnLbs, SiteOnLbsArgs
from components.load_balancer.nginx import site_path
from components.load_balancer.shared_certificate import SharedCertificate
from components.load_balancer.takeover import retire_sites
from components.load_balancer.unknown_names import refuse_unknown_names
from components.names import DnsRecordSet, DnsRecordSetArgs, HostsEntry, HostsEntryArgs
from components.names import write_problem as hosts_file_write_problem
from components.shell.command import backend as command_backend

leave_quietly_when_stopped()  # the engine names a failure; a SIGINT traceback would bury it
HERE = Path(__file__).resolve().parent
stack = pulumi.get_stack()
config = pulumi.Config()
try:
    stack_config.check_passphrase(stack, os.environ)
    # Every `wayshub:` key the stack sets, so a typo (wayshub:hostFile) stops the program instead of being ignored.
    names = stack_config.setting_names(pulumi.runtime.get_config_env())
    settings = stack_config.load_checked(config.get, HERE, names)
    if settings.hosts_file.enabled and (problem := hosts_file_write_problem(Path(settings.hosts_file.path))):
        raise stack_config.ConfigError(problem)  # now, not after the servers are built
    if settings.hosts.provider == "containers":
        # The app image by the same contract: start, build, Node (app_image.py); nothing is built here.
        image_plan = plan_app_image(settings.app, HERE / settings.app.source)
    else:
        # Each site's app (the stack's own first): how it is built and started, which Node, and the release
        # every host of the site runs. appSecrets are the stack's own site's, siteSecrets.<site> another's.
        site_secrets = stack_config.check_site_secrets(settings, config.get(stack_config.SITE_SECRETS_SETTING))
        site_apps = [
            plan_site_app(
                site,
                HERE,
                secrets=site_secrets.get(site.key, {})
                if site.key
                else stack_config.check_app_secrets(settings, config.get("appSecrets")),
                key=config.get(stack_config.RELEASE_KEY_SETTING),  # checked with appSecrets by load_checked
                preview=pulumi.runtime.is_dry_run(),  # a preview builds nothing: no npm, no app scripts
            )
            for site in settings.all_sites
        ]
        run, release = site_apps[0].run, site_apps[0].release
    # The command backend (docs/commands.md): as set, else the one a deployed stack has, else for a new stack
    # pulumi-command where its plugin is installed. Said in the up's output either way. Last: reading the
    # checkpoint registers the engine's default provider, and a bad setting must leave no resource at all.
    if (commands_setting := stack_config.check_commands(config.get(stack_config.COMMANDS_SETTING))) is not None:
        command_backend.use(commands_setting)
        why = f"{stack_config.NAMESPACE}:{stack_config.COMMANDS_SETTING} says so"
    else:
        try:
            chosen, why = command_backend.default(checkpoint_urns())
        except ValueError as err:  # the state is unreadable and the plugin installed: either could be right
            raise stack_config.ConfigError(str(err)) from None
        command_backend.use(chosen)
    pulumi.log.info(f"commands: {command_backend.current()} ({why})")
    if command_backend.current() == "pulumi-command":
        check_known_host_keys(settings)  # it checks only a host key it is given
except stack_config.ConfigError as err:
    # One line naming the setting, before any resource is declared (exit code 32 tells the
    # language host the message was shown, so it adds no "unhandled error" line).
    pulumi.log.error(str(err))
    sys.exit(32)


@dataclass(frozen=True)
class Site:
    """What steps 4 and 5 need from steps 1-3, whichever way the site runs."""

    lb_ready: pulumi.Resource
    public_address: str
    http_port: int
    https_port: int
    tls: bool = False
    dns_declared: bool = False  # ACME HTTP-01 needs the records before the certificate: made in step 3


def dns_records(public_address: str, after: pulumi.Resource) -> list[pulumi.Resource]:
    """A/AAAA records on your DNS server (RFC 2136 + TSIG, docs/dns.md), at dns.addresses or the LB's address."""
    assert settings.dns is not None
    return [
        DnsRecordSet(
            f"dns-{record}",
            DnsRecordSetArgs(
                settings=settings.dns,
                name=record,
                addresses=settings.dns.addresses or [public_address],
                tsig_secret=config.require_secret(stack_config.DNS_TSIG_SETTING),
            ),
            opts=pulumi.ResourceOptions(depends_on=[after]),
        )
        for record in settings.dns_records
    ]


def acme_certificate() -> AcmeCertificateArgs | None:
    """``lb.tls: acme``: what the LB's certificate is issued with (docs/acme.md)."""
    acme = settings.lb.acme
    if acme is None:
        return None
    dns = settings.dns if acme.challenge == "dns-01" else None  # the config makes dns-01 need wayshub:dns
    return AcmeCertificateArgs(
        domain=settings.domain,
        directory_url=acme.directory_url,
        email=acme.email,
        challenge=acme.challenge,
        ca_bundle=stack_config.acme_ca_bundle(settings, HERE),
        renew_days_before=acme.renew_days_before,
        timeout_seconds=acme.timeout_seconds,
        dns=dns_server_props(dns) if dns else None,
        tsig_secret=config.require_secret(stack_config.DNS_TSIG_SETTING) if dns else None,
    )


def site_servers(site: SiteView, servers: Servers) -> Servers:
    """A site's app servers and the LBs. On your own servers each of wayshub:sites is surveyed for what is
    already there (its port, unit, user, domain) like the stack's own site, before any of its steps."""
    mine = replace(servers, app=[host for host in servers.app if host.name in site.servers])
    if not site.key or settings.hosts.provider != "existing":
        return mine
    survey = SurveyArgs(
        app_port=site.app.port,
        app_unit=unit_name(site.app.name),
        app_user=app_user(site.app.name),
        domain=site.names[0],
        site_file=site_path(site_label(stack, site.key)),
        takeover=settings.hosts.takeover,
    )
    if site.path:  # its domain is another site's: only its app servers have anything to survey
        return replace(survey_servers(replace(mine, lbs=[]), survey, site.key), lbs=mine.lbs)
    return survey_servers(mine, survey, site.key)


def host_site(site: SiteView) -> SiteView:
    """The site whose domain ``site`` serves a path of (``site`` itself when it has no path)."""
    if not site.path:
        return site
    return next(view for view in settings.all_sites if not view.path and view.names[0] == site.names[0])


def has_paths(site: SiteView) -> bool:
    """Whether other sites serve paths of ``site``'s domain (then its servers include their locations)."""
    return any(view.path and host_site(view).key == site.key for view in settings.all_sites)


def deploy_app(site_app: SiteApp, hosts: list[Host], takeover: bool) -> list[NodeApp]:
    """One site's app on its app servers, rolled out in batches over the hosts that serve it already. With a
    release task (app.releaseTask) every host first makes the release folder, the task runs on the first, and
    only then does the rollout switch hosts."""
    site = site_app.site
    with_task = site_app.run.task_text() is not None and site_app.release.build is not None

    def app(host: Host, after: Sequence[pulumi.Resource]) -> NodeApp:
        return NodeApp(
            app_name(host, site.key),
            NodeAppArgs(
                host=host,
                run=site_app.run,
                release=site_app.release,
                secret_env=secret_env(site.key),
                releases_kept=site.app.releases_kept,
                settle_seconds=settings.lb.fail_timeout_seconds + 1 if len(hosts) > 1 else 0,
                after=after,
                takeover=takeover,
                prepare=with_task,
            ),
        )

    deployed = deployed_before(takeover, site.key)
    if not with_task:
        return with_schedules(site_app, hosts, roll_out(hosts, settings.rollout.batch_size, app, deployed))
    prepared = {host.name: app(host, []) for host in hosts}
    task = ReleaseTask(
        site_resource(site.key, "release-task"),
        ReleaseTaskArgs(
            host=hosts[0],
            run=site_app.run,
            release=site_app.release,
            timeout_seconds=site.app.release_task_timeout_seconds,
            prepared=[a.prepare for a in prepared.values() if a.prepare is not None],
        ),
    )
    return with_schedules(
        site_app,
        hosts,
        roll_out(
            hosts, settings.rollout.batch_size, lambda host, after: prepared[host.name].switch([*after, task]), deployed
        ),
    )


def with_schedules(site_app: SiteApp, hosts: list[Host], apps: list[NodeApp]) -> list[NodeApp]:
    """``apps``, after declaring the site's scheduled jobs (app.schedules) on its app.schedulesServer (else its
    first app server), once that server runs the release (which carries the jobs' scripts)."""
    site = site_app.site
    if site.app.schedules:
        index = next((i for i, host in enumerate(hosts) if host.name == site.app.schedules_server), 0)
        Schedules(
            site_resource(site.key, "schedules"),
            SchedulesArgs(
                host=hosts[index],
                run=site_app.run,
                setting=f"{stack_config.NAMESPACE}:{site.where}app.schedules",
                after=apps[index].deploy,
            ),
        )
    return apps


def log_certificate(domain: str, certificate: AcmeCertificate) -> None:
    """When an ACME certificate expires and when `up` renews it, and the CA's warnings, in the up's log."""
    days = settings.lb.acme.renew_days_before if settings.lb.acme else 0
    certificate.not_after.apply(lambda d: pulumi.log.info(f"certificate for {domain} {when(d, days)}"))
    certificate.warnings.apply(lambda lines: pulumi.log.warn("\n".join(lines)) if lines else None)


def secret_env(site: str) -> pulumi.Output[dict[str, str]] | None:
    """A site's secret env values as a secret Output: appSecrets for the stack's own, siteSecrets.<site> else."""
    if not site:
        return config.get_secret_object("appSecrets")
    if site not in site_secrets:
        return None
    every = config.require_secret_object(stack_config.SITE_SECRETS_SETTING)
    return pulumi.Output.secret(every.apply(lambda sites: dict(sites[site])))


def provided_tls(site: str) -> TlsMaterial:
    """A site's own certificate and key (``siteTls.<site>``, checked by load_checked), both from a secret."""
    pair = config.require_secret_object(stack_config.SITE_TLS_SETTING).apply(lambda sites: sites[site])
    return TlsMaterial(pair.apply(lambda p: p["certificate"]), pair.apply(lambda p: p["privateKey"]))


def site_urls(
    domain: str, tls: bool, http_port: int, https_port: int, address: str, ca: str = "", path: str = ""
) -> dict[str, str]:
    """A site's URL, and a curl that works even before the hosts file is read (``ca``: the file `make up` saves a
    self-signed site's CA in, components/layout.py's ``ca_file``; ``path``: a site serving a path of ``domain``)."""
    scheme, port = ("https", https_port) if tls else ("http", http_port)
    url = f"{scheme}://{domain}{'' if port == (443 if tls else 80) else f':{port}'}{path}/"
    trust = f" --cacert {ca}" if ca else ""
    return {"url": url, "curl": f"curl{trust} --resolve {domain}:{port}:{address} {url}"}


def on_servers() -> Site:
    """Steps 1-3 on servers reached over SSH: sandbox VMs or your existing VMs."""
    # 1. Servers: N app servers and one load balancer.
    servers = declare_servers(settings, stack)
    pulumi.export("ssh_public_key", servers.ssh_public_key)  # for the servers' authorized_keys (docs/hosts.md)
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
        )

    # 2. Each site's app (built once above, or a pinned release already on the servers) on its app servers,
    # rolled out in batches over the hosts that already run a release; a host's first deploy waits for nobody.
    servers_of = {site_app.site.key: site_servers(site_app.site, servers) for site_app in site_apps}
    apps_of = {app.site.key: deploy_app(app, servers_of[app.site.key].app, takeover) for app in site_apps}
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
    acme_ca = acme_certificate()
    acme = acme_ca if settings.lb.tls == "acme" else None
    # HTTP-01: the CA looks the name up, so the DNS records come before the certificate (and the site).
    acme_after = (
        dns_records(public_address, servers.lb.ready)
        if acme_ca and settings.dns and acme_ca.challenge == "http-01"
        else []
    )
    tls: TlsMaterial | None = None
    if settings.lb.tls == "self-signed":
        self_signed = SelfSignedTls("tls", domain=settings.domain, stack=stack)
        tls = TlsMaterial(self_signed.certificate, self_signed.private_key)
        pulumi.export("ca_certificate", self_signed.ca_certificate)
    elif settings.lb.tls == "provided":
        tls = TlsMaterial(config.require("tlsCertificate"), config.require_secret("tlsPrivateKey"))
    published = sandbox and failover is None  # a sandbox LB's ports published on this machine
    public_https_port = settings.sandbox.https_port if published else settings.lb.https_port
    # With two LBs a site change reaches the one not holding the shared address first, the holder last (read
    # now; by default the second LB first). With ACME: one certificate, issued by the first LB once the
    # address is held and both serve the HTTP-01 answers; the other LB gets it through deferred outputs.
    order = publish_order(len(servers.lbs), address_holder(settings, stack) if failover else None)
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
                has_paths=has_paths(site_apps[0].site),
            ),
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
                )
            ]
            for index, host in enumerate(servers.lbs)
        }
        sites: dict[str, object] = {}
        # Sites with their own names first: a site with a path waits for its domain's site on each LB.
        for site_app in sorted(site_apps[1:], key=lambda one: bool(one.site.path)):
            more = site_app.site
            home = host_site(more)  # itself, or the site whose domain it serves a path of
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
                    provided=provided_tls(more.key) if more.tls == "provided" else None,
                    has_paths=has_paths(more),
                    host_site_name=site_label(stack, home.key),
                    host_sites={
                        index: lbs[index].site if not home.key else on_lbs_of[home.key].sites[index]
                        for index in range(len(servers.lbs))
                    }
                    if more.path
                    else {},
                ),
            )
            on_lbs_of[more.key] = on_lbs
            if on_lbs.certificate is not None:
                log_certificate(more.names[0], on_lbs.certificate)
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
        pulumi.export("sites", sites)

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
            )
            ready.append(vrrp.keepalived)
    if shared is not None and lb.certificate is not None:
        shared.resolve(lb.certificate, ready[0], [other.acme_front for other in lbs.values() if other is not lb])
    if lb.certificate is not None:
        pulumi.export("certificate", {"expires": lb.certificate.not_after, "issuer": lb.certificate.issuer})
        log_certificate(settings.domain, lb.certificate)
    pulumi.export("lb_address", lb.address if failover is None else host_port(failover, settings.lb.listen_port))
    pulumi.export("backends", [a.backend for a in apps])
    pulumi.export("release", release.id)
    node = run.node.describe() + (f" (from {run.node.source})" if run.node.source else "")
    pulumi.export("app", {"start": run.spec.start, "node": node, "install": run.spec.recipe})
    pulumi.export("releases", [a.release_id for a in apps])
    pulumi.export("previous_releases", [a.previous_release for a in apps])
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
                )
                notes.append(retired.stdout.apply(str.splitlines))
        pulumi.export("takeover", pulumi.Output.all(*notes).apply(lambda lists: [n for ns in lists for n in ns]))
        pulumi.export("takeover_backup", BACKUP_DIR)
    return Site(
        lb_ready=ready[0] if len(ready) == 1 else gate("lb-ready", ready),
        public_address=public_address,
        http_port=http_port,
        https_port=public_https_port,
        tls=settings.lb.tls != "off",
        dns_declared=bool(acme_after),
    )


def in_containers() -> Site:
    """Steps 1-3 as Docker containers (pulumi-docker): an app image built from app/, one container per
    app server, nginx with the same site template. No servers, no SSH."""
    c = settings.containers
    secrets = stack_config.check_app_secrets(settings, config.get("appSecrets"))
    try:
        site = ContainerSite(
            "containers",
            site_args(settings, stack, HERE, config.get_secret_object("appSecrets"), secrets, image_plan),
        )
    except ValueError as err:  # a pinned release this stack has no image for: one line, as for a bad setting
        pulumi.log.error(str(err))
        sys.exit(32)
    pulumi.export("lb_address", f"{c.bind_address}:{c.http_port}")
    pulumi.export("backends", site.backends)
    pulumi.export("release", site.release)
    pulumi.export("network", site.network_name)
    pulumi.export("releases", site.releases)
    pulumi.export("previous_releases", site.previous_releases)
    pulumi.export("release_images", site.release_images)  # read back by the next up (containers/rollout.py)
    return Site(lb_ready=site.site, public_address=c.bind_address, http_port=c.http_port, https_port=c.http_port)


# 1-3. Servers, the app on each app server, nginx in front.
site = in_containers() if settings.hosts.provider == "containers" else on_servers()

# 4. The domain points at the LB.
if settings.hosts_file.enabled:
    HostsEntry(
        "hosts-entry",
        HostsEntryArgs(
            path=settings.hosts_file.path,
            stack=stack,
            # Each site's names.
            entries=[(settings.hosts_entry_address, one.hosts_line) for one in settings.all_sites if one.hosts_line],
        ),
        opts=pulumi.ResourceOptions(depends_on=[site.lb_ready]),
    )
if settings.dns is not None and not site.dns_declared:
    dns_records(site.public_address, site.lb_ready)

# 5. What proves it: the URL, and a curl that works even before the hosts file is read.
ca = ca_file(stack) if settings.lb.tls == "self-signed" else ""  # `make up` saves ca_certificate there
urls = site_urls(settings.domain, site.tls, site.http_port, site.https_port, site.public_address, ca)
pulumi.export("url", urls["url"])
pulumi.export("curl", urls["curl"])
