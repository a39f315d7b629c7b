"""``NginxLoadBalancer``: nginx on one server, proxying the domain to every backend.

The site is rendered from ``templates/nginx-site.conf.j2`` and its text is the resource input, so ``pulumi
preview --diff`` shows the nginx lines that will change. Going live is one chain: write a temp file, move it
into conf.d, ``nginx -t``; on failure the previous file is put back and nginx is never reloaded, so the old
site keeps serving and the resource fails with nginx's message. Each step's program is a script in ``host/``
(nginx-install, nginx-publish, nginx-unpublish, install-file).

With ``lb.tls: acme`` the plain-HTTP server is its own file (``<site>-acme.conf``: HTTP-01 answers, else a
redirect), published before the certificate is issued; then the certificate (``AcmeCertificate``), its files,
and the HTTPS site. A renewed certificate re-runs the site's publish: ``nginx -t``, then a graceful reload.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi

from components.config import LoadBalancerConfig
from components.config.sites import check_alias, check_path
from components.hosts import Host
from components.hosts.address import checked_site
from components.load_balancer.acme_certificate import AcmeCertificate, AcmeCertificateArgs
from components.load_balancer.state_checks import SITE, TLS_CERTIFICATE, TLS_KEY, lb_checks
from components.render import render
from components.shell import cmd, sudo_script
from components.shell.command import Logging, remote
from components.shell.host_script import host_script

NGINX_PACKAGE = "nginx-light"
# Our sandboxing drop-in for Debian's nginx.service (templates/nginx-sandbox.conf.j2), one per site:
# two stacks sharing an LB each remove only their own.
SANDBOX_DROPIN_DIR = "/etc/systemd/system/nginx.service.d"
HOST_SCRIPTS = Path(__file__).resolve().parent / "host"
SANDBOX_SCRIPT = HOST_SCRIPTS / "nginx-sandbox.sh"
CAPACITY_SCRIPT = HOST_SCRIPTS / "nginx-capacity.sh"


@dataclass(frozen=True)
class TlsMaterial:
    """A certificate chain (public) and its private key (made secret on the way in)."""

    certificate: pulumi.Input[str]
    private_key: pulumi.Input[str]


@dataclass(frozen=True)
class NginxLoadBalancerArgs:
    host: Host
    site_name: str
    domain: str
    backends: Sequence[pulumi.Input[str]]
    settings: LoadBalancerConfig
    tls: TlsMaterial | None = None
    # The HTTPS port clients see (a sandbox publishes 443 elsewhere): where HTTP redirects to.
    public_https_port: int = 443
    # Install our sandboxing drop-in for nginx.service (StackConfig.harden_nginx decides).
    harden: bool = False
    # lb.tls acme: the certificate's settings (the LB fills in its connection and webroot), and what it
    # waits for besides the LB's port-80 server (the DNS records HTTP-01 needs; with two LBs, the other's
    # port-80 server and the shared address being held).
    acme: AcmeCertificateArgs | None = None
    acme_after: Sequence[pulumi.Input[pulumi.Resource]] = ()
    # Two LBs, one certificate: the first issues it and writes each HTTP-01 answer to ``acme_peers`` too; the
    # other (``acme_issuer`` False) serves the answers on port 80 and gets the certificate as ``tls``.
    acme_issuer: bool = True
    acme_peers: Sequence[Host] = ()
    # What the site's publish waits for (another LB's publish: two LBs take a change one after the other).
    after: Sequence[pulumi.Resource] = ()
    # More names the site answers to (``wayshub:sites[N].aliases``).
    aliases: Sequence[str] = ()
    # Other sites serve paths of this domain (``wayshub:sites[N].path``): its servers include their locations.
    has_paths: bool = False


def tls_paths(site_name: str) -> dict[str, str]:
    return {
        "certificate_path": f"/etc/nginx/tls/{site_name}.crt",
        "key_path": f"/etc/nginx/tls/{site_name}.key",
    }


def redirect_port(public_https_port: int) -> str:
    """What follows the host in an HTTP-to-HTTPS redirect: nothing for 443, else ``:<port>``."""
    return "" if public_https_port == 443 else f":{public_https_port}"


# HTTP/2 streams one connection may run at once (nginx's default), and requests (HTTP/2: streams) one client
# connection may make before nginx closes it (nginx's default since 1.19.10): both written out, so the config
# says what bounds a connection (docs/limits.md).
HTTP2_STREAMS = 128
KEEPALIVE_REQUESTS = 1000


def client_limits(site_name: str, settings: LoadBalancerConfig) -> dict[str, object]:
    """What the templates need of ``lb.limits``: the per-client zones (named after the site, so two sites on
    one nginx never share a counter), the limits and the timeouts for slow clients."""
    limits = settings.limits
    return {
        "zone": site_name.replace("-", "_"),
        "connections": limits.connections_per_client,
        "rate": limits.requests_per_second,
        "burst": limits.burst,
        "status": limits.status,
        "trusted_proxies": limits.trusted_proxies,
        "real_ip_header": limits.real_ip_header,
        "header_timeout": limits.header_timeout,
        "body_timeout": limits.body_timeout,
        "send_timeout": limits.send_timeout,
        "keepalive_timeout": limits.keepalive_timeout,
        "keepalive_requests": KEEPALIVE_REQUESTS,
        "http2_streams": HTTP2_STREAMS,
    }


def render_site(
    site_name: str,
    domain: str,
    backends: list[str],
    settings: LoadBalancerConfig,
    tls: dict[str, str] | None = None,
    public_https_port: int = 443,
    acme_front: bool = False,
    backend_includes: bool = False,
    aliases: Sequence[str] = (),
    path_files: str | None = None,
) -> str:
    """The site for any mode (VMs, containers), one template; ``acme_front``: plain HTTP is ``acme_front_text``;
    ``aliases``: more names (``server_name``) the site answers to."""
    s = settings
    return render(
        "nginx-site.conf.j2",
        aliases=[check_alias(alias) for alias in aliases],  # checked again where they meet nginx
        path_include=path_files,  # the location files of the sites that serve a path of this domain
        tls=tls,
        acme_front=acme_front,
        backend_includes=backend_includes,  # backends are files of one server line (nginx-upstream-server.j2)
        https_port=s.https_port,
        https_redirect_port=redirect_port(public_https_port),
        hsts=s.hsts,
        client=client_limits(site_name, s),
        client_max_body_size=s.client_max_body_size,
        site_name=site_name.replace("-", "_"),
        domain=domain,
        listen_port=s.listen_port,
        backends=checked_site(domain, backends, includes=backend_includes),  # checked again where they meet nginx
        keepalive=s.keepalive,
        max_fails=s.max_fails,
        fail_timeout=s.fail_timeout,
        proxy_connect_timeout=s.connect_timeout,
        proxy_read_timeout=s.read_timeout,
        next_upstream_tries=s.next_upstream_tries,
    )


def site_text(args: NginxLoadBalancerArgs, backends: list[str]) -> str:
    tls = tls_paths(args.site_name) if args.tls or args.acme else None
    acme = args.acme is not None
    return render_site(
        args.site_name,
        args.domain,
        backends,
        args.settings,
        tls,
        args.public_https_port,
        acme,
        aliases=args.aliases,
        path_files=path_include(args.site_name) if args.has_paths else None,
    )


def site_path(site_name: str) -> str:
    return f"/etc/nginx/conf.d/{site_name}.conf"


PATHS_DIR = "/etc/nginx/wayshub/paths"  # one folder per site whose domain other sites serve paths of


def path_include(host_site_name: str) -> str:
    """What the server of the site named ``host_site_name`` includes: the location files of its paths' sites."""
    return f"{PATHS_DIR}/{host_site_name}/*.conf"


def path_location_file(host_site_name: str, site_name: str) -> str:
    """The location file of the site ``site_name``, which serves a path of ``host_site_name``'s domain."""
    return f"{PATHS_DIR}/{host_site_name}/{site_name}.conf"


def path_site_texts(
    site_name: str, host_site_name: str, domain: str, path: str, backends: list[str], settings: LoadBalancerConfig
) -> tuple[str, str]:
    """A path site's two files: its upstream and counters (conf.d, http level) and its locations (included in
    the server of the site whose domain it shares)."""
    s = settings
    context = {
        "site_name": site_name.replace("-", "_"),
        "domain": domain,
        "path": check_path(path),  # checked again where it meets nginx
        "listen_port": s.listen_port,
        "location_file": path_location_file(host_site_name, site_name),
        "upstream_file": site_path(site_name),
        "client": client_limits(site_name, s),
        "backends": checked_site(domain, backends),
        "keepalive": s.keepalive,
        "max_fails": s.max_fails,
        "fail_timeout": s.fail_timeout,
        "proxy_connect_timeout": s.connect_timeout,
        "proxy_read_timeout": s.read_timeout,
        "next_upstream_tries": s.next_upstream_tries,
    }
    return render("nginx-path-upstream.conf.j2", **context), render("nginx-path-location.j2", **context)


def acme_front_name(site_name: str) -> str:
    """The port-80 file's name: ``<site>-acme`` sorts before ``<site>``, so while a site switches to ACME (its
    old file still has a port-80 server for the domain) nginx picks this one."""
    return f"{site_name}-acme"


ACME_ROOT = "/var/lib/wayshub/acme"  # one webroot per site below it


def acme_webroot(site_name: str) -> str:
    return f"{ACME_ROOT}/{site_name}"


def acme_front_text(site_name: str, domain: str, settings: LoadBalancerConfig, public_https_port: int) -> str:
    return render(
        "nginx-acme-front.conf.j2",
        site_name=site_name.replace("-", "_"),
        domain=domain,
        listen_port=settings.listen_port,
        https_redirect_port=redirect_port(public_https_port),
        acme_webroot=acme_webroot(site_name),
        client=client_limits(site_name, settings),
    )


def install_command() -> str:
    """Install nginx (and curl, ss for the health check) if missing, start it, print its version."""
    return host_script(HOST_SCRIPTS / "nginx-install.sh", {"NGINX_PACKAGE": NGINX_PACKAGE})


NGINX_CONF = "/etc/nginx/nginx.conf"
CAPACITY_STATE_DIR = "/var/lib/wayshub/nginx-capacity"


def capacity_inputs(site_name: str, settings: LoadBalancerConfig, action: str, reload: str) -> dict[str, str]:
    """host/nginx-capacity.sh's inputs: ``action`` apply or restore; ``reload`` systemd (a server) or signal
    (the containers mode's nginx container)."""
    return {
        "ACTION": action,
        "SITE": site_name,
        "WORKER_CONNECTIONS": str(settings.limits.worker_connections),
        "NGINX_CONF": NGINX_CONF,
        "STATE_DIR": CAPACITY_STATE_DIR,
        "RELOAD": reload,
    }


def capacity_command(site_name: str, settings: LoadBalancerConfig, action: str) -> str:
    """Size nginx.conf's worker_connections and worker_rlimit_nofile on an LB server (``apply``), or put back
    what was there (``restore``): host/nginx-capacity.sh."""
    return host_script(CAPACITY_SCRIPT, capacity_inputs(site_name, settings, action, "systemd"))


def sandbox_dropin(site_name: str) -> str:
    return f"{SANDBOX_DROPIN_DIR}/{site_name}-sandbox.conf"


def sandbox_command(site_name: str, text: str) -> str:
    """Install the sandboxing drop-in ``text`` (empty: remove it); nginx restarts for it only while it
    serves no site (host/nginx-sandbox.sh)."""
    inputs = {
        "DROPIN": sandbox_dropin(site_name),
        "DROPIN_TEXT": text.rstrip("\n"),
        "JOURNAL_LINES": "20",
        "NGINX_DIR": "/etc/nginx",
    }
    return host_script(SANDBOX_SCRIPT, inputs)


def _tls_digest(tls: TlsMaterial) -> pulumi.Output[str]:
    """A secret hash of the certificate and key (changes when either does)."""
    both = pulumi.Output.all(tls.certificate, tls.private_key)
    return pulumi.Output.secret(both.apply(lambda pair: hashlib.sha256("\0".join(pair).encode()).hexdigest()))


def publish_command(site_name: str) -> str:
    """Stdin → live site, validated by ``nginx -t`` before any reload; the old file back on failure."""
    # The temp files sit outside conf.d: nginx never includes them.
    inputs = {"LIVE": site_path(site_name), "STAGING": f"/etc/nginx/{site_name}.conf"}
    return host_script(HOST_SCRIPTS / "nginx-publish.sh", inputs)


def publish_file_command(live: str) -> str:
    """Stdin → the nginx file ``live`` outside conf.d (a path site's locations), its folder made first; as
    ``publish_command``: ``nginx -t`` before any reload, the old file back on failure."""
    folder = str(Path(live).parent)
    # The temp files start with a dot: the folder's include (`*.conf`) never reads them.
    inputs = {"LIVE": live, "STAGING": f"{folder}/.{Path(live).stem}"}
    made = sudo_script([cmd("install", "-d", "-m", "0755", "--", folder)])
    return f"{made} && {host_script(HOST_SCRIPTS / 'nginx-publish.sh', inputs)}"


def unpublish_file_command(live: str) -> str:
    """Remove ``live`` (idempotent) and reload, then its folder and ours above it when nothing else is left."""
    gone = host_script(HOST_SCRIPTS / "nginx-unpublish.sh", {"LIVE": live})
    folders = [str(Path(live).parent), PATHS_DIR, str(Path(PATHS_DIR).parent)]
    return f"{gone} && {sudo_script([cmd('rmdir', '--ignore-fail-on-non-empty', '--', *folders)])}"


def unpublish_command(site_name: str) -> str:
    """Remove only our site (idempotent) and reload; other sites are left as they are."""
    return host_script(HOST_SCRIPTS / "nginx-unpublish.sh", {"LIVE": site_path(site_name)})


def install_file_command(target: str, mode: str) -> str:
    """Stdin → ``target`` (mode ``mode``, group root), atomically, its folder made if missing."""
    return host_script(HOST_SCRIPTS / "install-file.sh", {"TARGET": target, "MODE": mode})


class NginxLoadBalancer(pulumi.ComponentResource):
    """``address`` is where the site listens on the LB's private network."""

    def __init__(self, name: str, args: NginxLoadBalancerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wayshub:load_balancer:NginxLoadBalancer", name, None, opts)
        conn = args.host.connection
        self.nginx = remote.Command(
            f"{name}-nginx",
            pulumi.ResourceOptions(parent=self, depends_on=[args.host.ready]),
            connection=conn,
            create=install_command(),
        )
        # Sandboxed before our site is published: on a fresh LB its one restart serves no traffic yet.
        self.sandbox = (
            remote.Command(
                f"{name}-nginx-sandbox",
                pulumi.ResourceOptions(parent=self, depends_on=[self.nginx]),
                connection=conn,
                create=sandbox_command(args.site_name, render("nginx-sandbox.conf.j2")),
                delete=sandbox_command(args.site_name, ""),
            )
            if args.harden
            else None
        )
        # Room for many clients (lb.limits.workerConnections) before the site invites them; put back with the LB.
        self.capacity = remote.Command(
            f"{name}-nginx-capacity",
            pulumi.ResourceOptions(parent=self, depends_on=[self.nginx, *([self.sandbox] if self.sandbox else [])]),
            connection=conn,
            create=capacity_command(args.site_name, args.settings, "apply"),
            delete=capacity_command(args.site_name, args.settings, "restore"),
        )
        self.site_text = pulumi.Output.all(*args.backends).apply(lambda backends: site_text(args, list(backends)))
        self.acme_front = self._acme_front(name, args) if args.acme is not None else None
        self.certificate = self._certificate(name, args) if args.acme is not None and args.acme_issuer else None
        if self.certificate is not None:
            args = dataclasses.replace(
                args, tls=TlsMaterial(self.certificate.certificate, self.certificate.private_key)
            )
        # What refresh reads back; a drifted part re-runs the steps that make it (docs/drift.md).
        self.state = remote.HostState(
            f"{name}-state",
            pulumi.ResourceOptions(parent=self, depends_on=[args.host.ready]),
            connection=conn,
            host=args.host.name,
            checks=lb_checks(site_path(args.site_name), self.site_text, tls_paths(args.site_name), args.tls),
        )
        tls_files = self._tls_files(name, args) if args.tls else []
        self.site = remote.Command(
            f"{name}-site",
            pulumi.ResourceOptions(
                parent=self,
                depends_on=[
                    self.nginx,
                    self.capacity,
                    self.state,
                    *([self.sandbox] if self.sandbox else []),
                    *tls_files,
                    *args.after,
                ],
            ),
            connection=conn,
            create=publish_command(args.site_name),
            delete=unpublish_command(args.site_name),
            stdin=self.site_text,
            # nginx reads the certificate and key only when it loads its config: a new pair
            # re-runs the publish (nginx -t, reload), else the old key would keep serving.
            rerun_on=remote.rerun_with(
                [_tls_digest(args.tls)] if args.tls else [],
                remote.repair_tokens(self.state, [SITE, TLS_CERTIFICATE, TLS_KEY]),
            ),
        )
        self.site_name = args.site_name
        self.address = args.host.endpoint(args.settings.listen_port)
        self.register_outputs({"address": self.address, "site": self.site_text})

    def _acme_front(self, name: str, args: NginxLoadBalancerArgs) -> remote.RemoteCommandResource:
        """The port-80 server with the HTTP-01 location, before the certificate it lets the CA check."""
        front = acme_front_name(args.site_name)
        return remote.Command(
            f"{name}-acme-front",
            pulumi.ResourceOptions(parent=self, depends_on=[self.nginx, *([self.sandbox] if self.sandbox else [])]),
            connection=args.host.connection,
            create=publish_command(front),
            # Off the LB with its webroot (nothing else is in it).
            delete=unpublish_command(front)
            + " && "
            + sudo_script(
                [
                    cmd("rm", "-rf", "--", acme_webroot(args.site_name)),
                    cmd("rmdir", "--ignore-fail-on-non-empty", "--", ACME_ROOT, str(Path(ACME_ROOT).parent)),
                ]
            ),
            stdin=acme_front_text(args.site_name, args.domain, args.settings, args.public_https_port),
        )

    def _certificate(self, name: str, args: NginxLoadBalancerArgs) -> AcmeCertificate:
        assert args.acme is not None and self.acme_front is not None
        settings = dataclasses.replace(
            args.acme,
            connection=args.host.connection.builtin(),
            other_lbs=[peer.connection.builtin() for peer in args.acme_peers],
            webroot=acme_webroot(args.site_name),
        )
        return AcmeCertificate(
            f"{name}-certificate",
            settings,
            pulumi.ResourceOptions(parent=self, depends_on=[self.acme_front, *args.acme_after]),
        )

    def _tls_files(self, name: str, args: NginxLoadBalancerArgs) -> list[pulumi.Resource]:
        """Certificate (0644) and key (0600, output hidden) on the LB; each delete removes its file."""
        assert args.tls is not None
        paths = tls_paths(args.site_name)
        files = [
            (TLS_CERTIFICATE, paths["certificate_path"], "0644", args.tls.certificate, None),
            (TLS_KEY, paths["key_path"], "0600", pulumi.Output.secret(args.tls.private_key), Logging.NONE),
        ]
        return [
            remote.Command(
                f"{name}-{role}",
                pulumi.ResourceOptions(parent=self, depends_on=[self.nginx, self.state]),
                connection=args.host.connection,
                create=install_file_command(path, mode),
                delete=sudo_script([cmd("rm", "-f", path)]),
                stdin=content,
                logging=logging,
                rerun_on=remote.repair_tokens(self.state, [role]),
            )
            for role, path, mode, content, logging in files
        ]
