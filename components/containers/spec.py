"""What each container gets, as plain data: ``ContainerSpec`` for the app containers and the nginx
container (names, fixed addresses, env, healthcheck, pinned hosts, the site, upstream and resolver files),
built from ``ContainerSiteArgs`` with no Pulumi resource and no Docker. ``site.py`` declares them with
pulumi-docker; tests/docker_cli.py renders the same specs as ``docker create`` flags.

Two slots per app server (``a``, ``b``): each a container name (``wayshub-<stack>-app1-a``) and a fixed
address of its own. One slot serves; a new release starts in the other, and nginx is switched to it once
it is healthy (``site.py``). The site's upstream includes one file per app server, holding the server line
of the slot serving now."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace

import pulumi

from components.config import HealthConfig
from components.config.containers import container_slot_room
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
# One file per app server with its upstream server line; outside conf.d (whose *.conf nginx includes at the
# http level): only the site's upstream block includes them.
UPSTREAM_DIR = "/etc/nginx/wayshub-upstreams"
SLOTS = ("a", "b")
KEY_LENGTH = 12

# A probe's own timeout, and Docker's for the whole check (node's start included).
PROBE_TIMEOUT_MS = 4000
CHECK_TIMEOUT = "5s"
# Docker repeats an app container's check for its whole life: never more often than this.
MIN_CHECK_INTERVAL_SECONDS = 2.0


def health_js(health: HealthConfig, port: int) -> str:
    """``app.health`` as a node one-liner (the image needs no curl): GET ``path`` on the app's port; healthy
    when the status is in ``expectStatus`` and the body holds ``bodyContains`` (``{release}`` is
    ``WAYSHUB_RELEASE``). It prints what it saw, which the switch's failure line quotes. Values enter as JSON
    literals."""
    low, high = health.status_range
    body = health.body_contains
    return (
        f"const p={json.dumps(health.path)},lo={low},hi={high},b={json.dumps(body)};"
        "const w=b===null?null:b.split('{release}').join(process.env.WAYSHUB_RELEASE||'');"
        f"require('http').get({{host:'127.0.0.1',port:{port},path:p,timeout:{PROBE_TIMEOUT_MS}}},r=>{{"
        "let d='';r.setEncoding('utf8');r.on('data',c=>{if(d.length<65536)d+=c});"
        "r.on('end',()=>{const s=r.statusCode,ok=s>=lo&&s<=hi,has=w===null||d.includes(w);"
        "console.log(p+' '+s+(ok?'':' (expected '+lo+'-'+hi+')')+(has?'':' (no '+JSON.stringify(w)+' in the body)'));"
        "process.exit(ok&&has?0:1)})})"
        ".on('error',e=>{console.log(p+': '+e.message);process.exit(1)})"
        f".on('timeout',()=>{{console.log(p+': no answer in {PROBE_TIMEOUT_MS // 1000}s');process.exit(1)}})"
    )


def go_duration(seconds: float) -> str:
    """``seconds`` (to the millisecond) as Go's ``time.Duration.String()`` writes it (``500ms``, ``2s``, ``1.5s``,
    ``1m0s``): the provider reads a container's healthcheck back in that form, so any other spelling of the
    same duration would show as a change at every `up`."""
    ms = round(seconds * 1000)
    if ms < 1000:
        return f"{ms}ms"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    whole, frac = divmod(rest, 1000)
    text = f"{whole}.{frac:03d}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{hours}h{minutes}m{text}"
    return f"{minutes}m{text}" if minutes else text


@dataclass(frozen=True)
class Healthcheck:
    """Docker's healthcheck; ``test`` is exec form (``CMD``, argv…) or ``CMD-SHELL``, command."""

    test: tuple[str, ...]
    interval: str = "3s"
    timeout: str = "5s"
    start_period: str = "30s"
    retries: int = 3


def app_healthcheck(health: HealthConfig, port: int) -> Healthcheck:
    """Docker's check of an app container, from ``app.health``: failures within ``timeoutSeconds`` of the start
    do not count (the switch's gate waits that long for "healthy")."""
    return Healthcheck(
        test=("CMD", "node", "-e", health_js(health, port)),
        interval=go_duration(max(health.interval_seconds, MIN_CHECK_INTERVAL_SECONDS)),
        timeout=CHECK_TIMEOUT,
        start_period=go_duration(health.timeout_seconds),
    )


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
    # ``init``: Docker's init as PID 1 (forwards signals, reaps zombies).
    init: bool = False
    published: tuple[PublishedPort, ...] = ()
    # Name → address lines in the container's /etc/hosts (``--add-host``).
    pinned_hosts: tuple[tuple[str, str], ...] = ()
    uploads: tuple[Upload, ...] = ()
    read_only: bool = False
    tmpfs: Mapping[str, str] = field(default_factory=dict)
    cap_drop: tuple[str, ...] = ()
    cap_add: tuple[str, ...] = ()
    security_opts: tuple[str, ...] = ("no-new-privileges:true",)
    restart: str = RESTART_POLICY
    stop_timeout: int = 10
    stop_signal: str = ""  # empty: the image's
    command: tuple[str, ...] = ()  # empty: the image's CMD
    # The container whose network namespace this one joins (``container:<it>``; then no hostname, address,
    # published port or pinned host of its own).
    network_of: str = ""


def other_slot(slot: str) -> str:
    return SLOTS[1 - SLOTS.index(slot)]


def slot_address(args: ContainerSiteArgs, index: int, slot: str) -> str:
    """App server ``index``'s fixed address in ``slot``: a is ``.11``, ``.12``, …; b the same, one half later."""
    return host_address(args.subnet, 1 + index + SLOTS.index(slot) * container_slot_room(args.subnet))


def app_container_name(args: ContainerSiteArgs, server: str, slot: str) -> str:
    return f"{container_name(args.stack, server)}-{slot}"


def upstream_server(args: ContainerSiteArgs, server: str, slot: str) -> str:
    return f"{app_container_name(args, server, slot)}:{args.app_port}"


def upstream_path(args: ContainerSiteArgs, server: str) -> str:
    return f"{UPSTREAM_DIR}/{server}.conf"


def upstream_text(args: ContainerSiteArgs, server: str, slot: str) -> str:
    """The server line of ``server``'s upstream file: its container in ``slot``, as the site template writes it."""
    return render(
        "nginx-upstream-server.j2",
        backend=upstream_server(args, server, slot),
        max_fails=args.lb.max_fails,
        fail_timeout=args.lb.fail_timeout,
    )


def first_slots(args: ContainerSiteArgs) -> dict[str, str]:
    return dict.fromkeys(args.app_servers, SLOTS[0])


def backends(args: ContainerSiteArgs, slots: Mapping[str, str] | None = None) -> list[str]:
    """The upstream servers, ``<container name>:<port>`` of each app server's serving slot, in config order."""
    chosen = slots or first_slots(args)
    return [upstream_server(args, server, chosen[server]) for server in args.app_servers]


def site_name(args: ContainerSiteArgs) -> str:
    # Underscores: the name this mode has always given its site file; another name would leave the old
    # file in a running LB container.
    return stack_label(args.stack).replace("-", "_")


def site_conf(args: ContainerSiteArgs) -> str:
    """The nginx site, rendered by the VM path's template; its upstream includes each app server's file."""
    files = [upstream_path(args, server) for server in args.app_servers]
    return render_site(site_name(args), args.domain, files, args.lb, backend_includes=True)


def resolver_conf(resolver: str = DOCKER_DNS, valid: str = "5s") -> str:
    return render("nginx-resolver.conf.j2", resolver=resolver, valid=valid)


def site_path(args: ContainerSiteArgs) -> str:
    return f"{CONF_D}/{site_name(args)}.conf"


def lb_url(args: ContainerSiteArgs) -> str:
    port = "" if args.http_port == 80 else f":{args.http_port}"
    return f"http://{args.domain}{port}/"


def app_env(args: ContainerSiteArgs, release: str) -> dict[str, pulumi.Input[str]]:
    """The app's environment: the extra variables first, then what the site needs (which wins): the port in
    each ``portEnv`` variable, as on VMs."""
    return {
        **args.env,
        "HOST": "0.0.0.0",  # noqa: S104 - inside the container; only nginx on the network reaches it
        "NODE_ENV": "production",
        **dict.fromkeys(args.app.port_names, str(args.app_port)),
        "WAYSHUB_RELEASE": release,
    }


def app_spec(args: ContainerSiteArgs, index: int, release: str, slot: str = SLOTS[0]) -> ContainerSpec:
    """App server ``index`` (0-based, config order) in ``slot``: non-root (the image's user), read-only root,
    no capabilities."""
    server = args.app_servers[index]
    return ContainerSpec(
        name=app_container_name(args, server, slot),
        hostname=server,
        role="app",
        ipv4_address=slot_address(args, index, slot),
        env=app_env(args, release),
        healthcheck=app_healthcheck(args.app.health, args.app_port),
        labels={"wayshub.stack": args.stack, "wayshub.role": "app", "wayshub.slot": slot, "wayshub.release": release},
        command=(args.image.command or ()) if args.image else (),
        init=True,
        read_only=True,
        tmpfs={"/tmp": "rw,noexec,nosuid,size=16m"},
        cap_drop=("ALL",),
    )


def release_key(spec: ContainerSpec, image: str, secret_digest: str = "") -> str:
    """What an app container runs, as a digest: its image, env (a digest of the secrets) and settings, not its
    slot. A new key starts a new container in the other slot; the same key keeps the serving one. Env values
    given as Outputs (not plain text) are not part of it: a change of theirs replaces the container in place."""
    plain = {k: v if isinstance(v, str) else "<output>" for k, v in spec.env.items()}
    neutral = replace(spec, name="", ipv4_address="", env={}, labels={**spec.labels, "wayshub.slot": ""})
    facts = {"spec": asdict(neutral), "env": plain, "image": image, "secrets": secret_digest}
    return hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest()[:KEY_LENGTH]


def lb_spec(args: ContainerSiteArgs, slots: Mapping[str, str] | None = None) -> ContainerSpec:
    """The nginx container: the site, resolver and upstream files (each app server in ``slots``, default a), both
    slots' names pinned to their addresses, the port on loopback."""
    chosen = slots or first_slots(args)
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
            (app_container_name(args, server, slot), slot_address(args, i, slot))
            for i, server in enumerate(args.app_servers)
            for slot in SLOTS
        ),
        uploads=(
            Upload(RESOLVER_FILE, resolver_conf()),
            *(Upload(upstream_path(args, s), upstream_text(args, s, chosen[s])) for s in args.app_servers),
            Upload(site_path(args), site_conf(args)),
        ),
    )
