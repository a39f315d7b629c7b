"""What each container gets, as plain data: ``ContainerSpec`` for the app containers and the nginx
container (names, fixed addresses, env, healthcheck, pinned hosts, the site and resolver files), built from
``ContainerSiteArgs`` with no Pulumi resource and no Docker. ``site.py`` declares them with pulumi-docker;
tests/docker_cli.py renders the same specs as ``docker create`` flags."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi

from components.config.hosts import host_address
from components.containers.args import ContainerSiteArgs
from components.layout import container_name, stack_label
from components.load_balancer.nginx import render_site
from components.render import render

# Docker's embedded DNS server, inside every container on a user-defined network.
DOCKER_DNS = "127.0.0.11"
RESTART_POLICY = "unless-stopped"
CONF_D = "/etc/nginx/conf.d"
RESOLVER_FILE = f"{CONF_D}/00-resolver.conf"

# /health must answer 200. The same check is the image's HEALTHCHECK (images/app/Dockerfile; a unit test
# keeps them equal), so `docker run` of the bare image and the Pulumi container agree on "healthy".
APP_HEALTH_JS = (
    "require('http').get({host:'127.0.0.1',port:process.env.PORT||3000,path:'/health',timeout:2500},"
    "r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1)).on('timeout',()=>process.exit(1))"
)


@dataclass(frozen=True)
class Healthcheck:
    """Docker's healthcheck; ``test`` is exec form (``CMD``, argv…) or ``CMD-SHELL``, command."""

    test: tuple[str, ...]
    interval: str = "5s"
    timeout: str = "3s"
    start_period: str = "20s"
    retries: int = 3


APP_HEALTHCHECK = Healthcheck(test=("CMD", "node", "-e", APP_HEALTH_JS))


@dataclass(frozen=True)
class Upload:
    """A file put into the container after it is created and before it starts."""

    path: str
    content: str


@dataclass(frozen=True)
class PublishedPort:
    bind_address: str
    host_port: int
    container_port: int


@dataclass(frozen=True)
class ContainerSpec:
    """Everything one container gets, for ``docker.Container`` and for ``docker create`` alike."""

    name: str
    hostname: str
    role: str
    ipv4_address: str
    env: Mapping[str, pulumi.Input[str]]
    healthcheck: Healthcheck
    labels: Mapping[str, str]
    published: tuple[PublishedPort, ...] = ()
    # Name → address lines in the container's /etc/hosts (``--add-host``).
    pinned_hosts: tuple[tuple[str, str], ...] = ()
    uploads: tuple[Upload, ...] = ()
    read_only: bool = False
    tmpfs: Mapping[str, str] = field(default_factory=dict)
    cap_drop: tuple[str, ...] = ()
    security_opts: tuple[str, ...] = ("no-new-privileges:true",)
    restart: str = RESTART_POLICY
    stop_timeout: int = 10


def backends(args: ContainerSiteArgs) -> list[str]:
    """The upstream servers, ``<container name>:<port>``, in config order."""
    return [f"{container_name(args.stack, server)}:{args.app_port}" for server in args.app_servers]


def site_name(args: ContainerSiteArgs) -> str:
    # Underscores: the name this mode has always given its site file; another name would leave the old
    # file in a running LB container.
    return stack_label(args.stack).replace("-", "_")


def site_conf(args: ContainerSiteArgs) -> str:
    """The nginx site, rendered exactly as the VM path renders it."""
    return render_site(site_name(args), args.domain, backends(args), args.lb)


def resolver_conf(resolver: str = DOCKER_DNS, valid: str = "5s") -> str:
    return render("nginx-resolver.conf.j2", resolver=resolver, valid=valid)


def site_path(args: ContainerSiteArgs) -> str:
    return f"{CONF_D}/{site_name(args)}.conf"


def lb_url(args: ContainerSiteArgs) -> str:
    port = "" if args.http_port == 80 else f":{args.http_port}"
    return f"http://{args.domain}{port}/"


def app_env(args: ContainerSiteArgs, release: str) -> dict[str, pulumi.Input[str]]:
    """The app's environment: the extra variables first, then what the site needs (which wins)."""
    return {
        **args.env,
        "HOST": "0.0.0.0",  # noqa: S104 - inside the container; only nginx on the network reaches it
        "NODE_ENV": "production",
        "PORT": str(args.app_port),
        "WAYSHUB_RELEASE": release,
    }


def app_spec(args: ContainerSiteArgs, index: int, release: str) -> ContainerSpec:
    """App server ``index`` (0-based, config order): non-root (the image's user), read-only root, no capabilities."""
    server = args.app_servers[index]
    return ContainerSpec(
        name=container_name(args.stack, server),
        hostname=server,
        role="app",
        ipv4_address=host_address(args.subnet, 1 + index),
        env=app_env(args, release),
        healthcheck=APP_HEALTHCHECK,
        labels={"wayshub.stack": args.stack, "wayshub.role": "app"},
        read_only=True,
        tmpfs={"/tmp": "rw,noexec,nosuid,size=16m"},
        cap_drop=("ALL",),
    )


def lb_spec(args: ContainerSiteArgs) -> ContainerSpec:
    """The nginx container: the site and the resolver file, the upstream names pinned, the port on loopback."""
    listen = args.lb.listen_port
    probe = f"http://127.0.0.1:{listen}/lb-health"
    return ContainerSpec(
        name=container_name(args.stack, args.lb_server),
        hostname=args.lb_server,
        role="lb",
        ipv4_address=host_address(args.subnet, 0),
        env={},
        healthcheck=Healthcheck(
            test=(
                "CMD",
                "curl",
                "--fail",
                "--silent",
                "--show-error",
                "-o",
                "/dev/null",
                "-H",
                f"Host: {args.domain}",
                probe,
            ),
            start_period="10s",
        ),
        labels={"wayshub.stack": args.stack, "wayshub.role": "lb"},
        published=(PublishedPort(args.bind_address, args.http_port, listen),),
        pinned_hosts=tuple(
            (container_name(args.stack, server), host_address(args.subnet, 1 + i))
            for i, server in enumerate(args.app_servers)
        ),
        uploads=(Upload(RESOLVER_FILE, resolver_conf()), Upload(site_path(args), site_conf(args))),
    )
