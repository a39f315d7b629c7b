"""``ContainerSite``: the same load-balanced site as Docker containers, declared with pulumi-docker.

One ``docker.Network`` with a fixed subnet; the app image built with ``docker.Image`` from a staged copy
of ``app/`` and ``images/app/Dockerfile``; one ``docker.Container`` per app server; an nginx container
(``images/nginx/Dockerfile``) whose site file is rendered by the SAME template as the VM path
(``templates/nginx-site.conf.j2``) and put into ``/etc/nginx/conf.d/`` with the container's ``uploads``.
The LB's port is published on a loopback address only.

How nginx finds the app containers. The site's upstream names each container (``wayshub-<stack>-app1:3000``)
and a second file sets Docker's resolver (``00-resolver.conf``: ``resolver 127.0.0.11 valid=5s``). But
open-source nginx before 1.27.3 (Debian bookworm ships 1.22) resolves upstream server names ONCE, when it
loads its config; the resolver is not used for them. Measured with nginx 1.22: a container re-created with
another address is never used again until nginx reloads, and nginx does not even start while a backend
container is stopped (``host not found in upstream``: Docker's DNS has no record for a stopped container).
So addresses are made stable instead of followed:

- every container gets a fixed address on the network (LB ``.10``, app servers ``.11``, ``.12``, … in
  config order, as sandbox VMs), so a restarted or re-created container comes back where nginx expects it;
- the nginx container's ``/etc/hosts`` pins each upstream name to that address (``hosts``, i.e.
  ``--add-host``), so nginx resolves the names without Docker's DNS and starts even when a backend is down;
- ``restart: unless-stopped`` brings a crashed app back (same name, same address); nginx's passive health
  checks (``max_fails``/``fail_timeout``) and ``proxy_next_upstream`` carry the requests meanwhile.

Names and addresses that must not clash (container names, the published port, the network name) make
their resources ``delete_before_replace``. Everything a container gets is described once by a
``ContainerSpec``; ``docker_create_argv`` renders the same spec as ``docker create`` flags, which the e2e
test runs against the real Docker engine (the pulumi-docker provider plugin cannot be built here).
"""

from __future__ import annotations

import hashlib
import io
import ipaddress
import shlex
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_docker as docker

from components.app.release import build_id, source_files
from components.config import LoadBalancerConfig
from components.load_balancer.nginx import render_site
from components.render import render

REPO = Path(__file__).resolve().parents[2]
IMAGES_DIR = REPO / "images"
APP_DOCKERFILE = IMAGES_DIR / "app" / "Dockerfile"
NGINX_CONTEXT = IMAGES_DIR / "nginx"

# Fixed addresses: the LB at .10, app servers from .11 on (the sandbox VMs' layout).
LB_HOST_INDEX = 10
# Docker's embedded DNS server, inside every container on a user-defined network.
DOCKER_DNS = "127.0.0.11"
RESTART_POLICY = "unless-stopped"
CONF_D = "/etc/nginx/conf.d"
RESOLVER_FILE = f"{CONF_D}/00-resolver.conf"
# Never part of an app image: local installs, VCS data, the app's own tests (as for VM releases).
APP_CONTEXT_EXCLUDED = frozenset({"node_modules", ".git", "test", ".npm-cache"})
NPM_CACHE_DIR = ".npm-cache"
DIGEST_LENGTH = 12

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


@dataclass(frozen=True)
class ContainerSiteArgs:
    """Plain, typed settings (the ``wayshub:containers`` section and friends, already validated)."""

    stack: str
    domain: str
    app_servers: Sequence[str]
    app_source: Path
    lb_server: str = "lb"
    lb: LoadBalancerConfig = field(default_factory=LoadBalancerConfig)
    app_port: int = 3000
    env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    # Secret values (wayshub:appSecrets): the containers' whole env is then a secret in the state.
    secret_env: pulumi.Input[Mapping[str, str]] | None = None
    app_image: str = "wayshub/app"
    nginx_image: str = "wayshub/nginx"
    app_base: str = "node:20-bookworm-slim"
    nginx_base: str = "nginx:1.27"
    network: str = "wayshub-containers"
    subnet: str = "172.30.78.0/24"
    http_port: int = 8090
    bind_address: str = "127.0.0.1"
    # Where the app's build context is staged (a clean copy: no node_modules, no tests).
    build_dir: Path = REPO / "build" / "images"
    # Fill an npm cache in the staged context with this machine's npm, so the image build runs
    # `npm ci --offline` and needs no registry (for builders that cannot reach one).
    prefetch_npm: bool = False
    # The pulumi-docker builder: BuilderV1 (the legacy builder: no buildx needed) or BuilderBuildKit.
    builder_version: str = "BuilderV1"
    wait_timeout_seconds: int = 90

    def __post_init__(self) -> None:
        if not self.app_servers:
            raise ValueError("containers: at least one app server is needed")
        names = [*self.app_servers, self.lb_server]
        if len(set(names)) != len(names):
            raise ValueError(f"containers: server names must be unique, got {names}")
        if not ipaddress.ip_address(self.bind_address).is_loopback:
            raise ValueError(f"containers: bindAddress {self.bind_address} must be a loopback address")
        net = ipaddress.ip_network(self.subnet, strict=True)
        if not net.is_private or net.version != 4:
            raise ValueError(f"containers: subnet {self.subnet} must be a private IPv4 network")
        if LB_HOST_INDEX + len(self.app_servers) >= net.num_addresses - 1:
            raise ValueError(f"containers: subnet {self.subnet} has no room for {len(self.app_servers)} app servers")
        if self.lb.tls != "off":
            raise ValueError("containers: the site is served over plain HTTP on loopback; set wayshub:lb.tls to off")
        if self.builder_version not in ("BuilderV1", "BuilderBuildKit"):
            raise ValueError(f"containers: builder {self.builder_version!r} is not BuilderV1 or BuilderBuildKit")


# --- pure functions: names, addresses, files (no Pulumi, no Docker) ---------------------------------------


def container_name(stack: str, server: str) -> str:
    return f"wayshub-{stack}-{server}"


def address(subnet: str, index: int) -> str:
    """``index`` 0 is the LB (``.10``), 1… the app servers (``.11``…)."""
    return str(ipaddress.ip_network(subnet)[LB_HOST_INDEX + index])


def backends(args: ContainerSiteArgs) -> list[str]:
    """The upstream servers, ``<container name>:<port>``, in config order."""
    return [f"{container_name(args.stack, server)}:{args.app_port}" for server in args.app_servers]


def site_name(args: ContainerSiteArgs) -> str:
    return f"wayshub_{args.stack}".replace("-", "_")


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
        ipv4_address=address(args.subnet, 1 + index),
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
        ipv4_address=address(args.subnet, 0),
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
            (container_name(args.stack, server), address(args.subnet, 1 + i))
            for i, server in enumerate(args.app_servers)
        ),
        uploads=(Upload(RESOLVER_FILE, resolver_conf()), Upload(site_path(args), site_conf(args))),
    )


def docker_create_argv(spec: ContainerSpec, network: str, image: str, healthcheck: bool = True) -> list[str]:
    """``docker create`` for ``spec`` (then ``docker cp`` the uploads, then ``docker start``).

    What pulumi-docker does for the same spec; used by the e2e test on the real engine. With
    ``healthcheck=False`` the image's own HEALTHCHECK applies (the test checks it equals the spec's).
    """
    argv = [
        "docker", "create",
        "--name", spec.name,
        "--hostname", spec.hostname,
        "--network", network,
        "--ip", spec.ipv4_address,
        "--restart", spec.restart,
        "--stop-timeout", str(spec.stop_timeout),
    ]  # fmt: skip
    for key, value in sorted(spec.labels.items()):
        argv += ["--label", f"{key}={value}"]
    for variable, setting in sorted(spec.env.items()):
        if not isinstance(setting, str):
            raise TypeError(f"{spec.name}: env {variable} is not plain text; the docker CLI path takes plain values")
        argv += ["--env", f"{variable}={setting}"]
    for port in spec.published:
        argv += ["--publish", f"{port.bind_address}:{port.host_port}:{port.container_port}"]
    for host, ip in spec.pinned_hosts:
        argv += ["--add-host", f"{host}:{ip}"]
    if spec.read_only:
        argv.append("--read-only")
    for path, options in sorted(spec.tmpfs.items()):
        argv += ["--tmpfs", f"{path}:{options}"]
    for cap in spec.cap_drop:
        argv += ["--cap-drop", cap]
    for opt in spec.security_opts:
        argv += ["--security-opt", opt]
    if healthcheck:
        kind, *command = spec.healthcheck.test
        argv += [
            "--health-cmd", command[0] if kind == "CMD-SHELL" else shlex.join(command),
            "--health-interval", spec.healthcheck.interval,
            "--health-timeout", spec.healthcheck.timeout,
            "--health-start-period", spec.healthcheck.start_period,
            "--health-retries", str(spec.healthcheck.retries),
        ]  # fmt: skip
    argv.append(image)
    return argv


def uploads_tar(uploads: Sequence[Upload]) -> bytes:
    """The uploads as a tar stream for ``docker cp - <container>:/``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for upload in uploads:
            data = upload.content.encode()
            info = tarfile.TarInfo(upload.path.lstrip("/"))
            info.size, info.mode = len(data), 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


# --- build contexts ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BuildContext:
    """A folder to build from, and a digest of everything that decides the image (the image's tag)."""

    path: Path
    dockerfile: Path
    digest: str


def digest_of(files: Mapping[str, bytes], *extra: str) -> str:
    """sha256 over (name, bytes) pairs in name order and extra strings (e.g. the base image)."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    for text in extra:
        digest.update(b"\1" + text.encode())
    return digest.hexdigest()[:DIGEST_LENGTH]


def _fill_npm_cache(context: Path) -> None:
    """``npm ci`` here (this machine's npm and registry access) into the context's npm cache."""
    with tempfile.TemporaryDirectory(prefix="wayshub-npm-") as tmp:
        for name in ("package.json", "package-lock.json"):
            shutil.copy2(context / name, Path(tmp) / name)
        npm = subprocess.run(
            ["npm", "ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund",
             "--cache", str(context / NPM_CACHE_DIR)],
            cwd=tmp, capture_output=True, text=True, check=False,
        )  # fmt: skip
    if npm.returncode != 0:
        raise RuntimeError(f"npm ci (filling the build's npm cache) failed:\n{npm.stderr[-3000:]}")
    shutil.rmtree(context / NPM_CACHE_DIR / "_logs", ignore_errors=True)


def stage_app_context(
    source: Path, out_dir: Path, base: str, prefetch_npm: bool = False, dockerfile: Path = APP_DOCKERFILE
) -> BuildContext:
    """A clean build context for the app image: its sources (no node_modules, no tests) and the Dockerfile.

    Staged once per digest under ``out_dir`` (the folder is renamed into place when complete), so a
    second ``pulumi up`` finds the same folder, with the same bytes, and the image is not rebuilt.
    """
    if not (source / "package.json").is_file() or not (source / "package-lock.json").is_file():
        raise FileNotFoundError(f"{source}: the app needs package.json and package-lock.json (npm ci)")
    files = {p.relative_to(source).as_posix(): p.read_bytes() for p in source_files(source, APP_CONTEXT_EXCLUDED)}
    digest = digest_of({**files, "\0Dockerfile": dockerfile.read_bytes()}, f"base={base}")
    path = out_dir / (f"app-{digest}-npm" if prefetch_npm else f"app-{digest}")
    if not path.is_dir():
        out_dir.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=out_dir))
        try:
            for name, data in files.items():
                (partial / name).parent.mkdir(parents=True, exist_ok=True)
                (partial / name).write_bytes(data)
            shutil.copyfile(dockerfile, partial / "Dockerfile")
            if prefetch_npm:
                _fill_npm_cache(partial)
            partial.chmod(0o755)
            partial.rename(path)
        except OSError:
            shutil.rmtree(partial, ignore_errors=True)
            if not path.is_dir():  # not another run staging the same digest at the same time
                raise
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
    return BuildContext(path=path, dockerfile=path / "Dockerfile", digest=digest)


def nginx_context(base: str, context: Path = NGINX_CONTEXT) -> BuildContext:
    dockerfile = context / "Dockerfile"
    return BuildContext(
        path=context, dockerfile=dockerfile, digest=digest_of({"Dockerfile": dockerfile.read_bytes()}, f"base={base}")
    )


# --- the component ----------------------------------------------------------------------------------------


def _healthcheck_args(check: Healthcheck) -> docker.ContainerHealthcheckArgs:
    return docker.ContainerHealthcheckArgs(
        tests=list(check.test),
        interval=check.interval,
        timeout=check.timeout,
        start_period=check.start_period,
        retries=check.retries,
    )


def _envs(
    env: Mapping[str, pulumi.Input[str]], secret_env: pulumi.Input[Mapping[str, str]] | None = None
) -> pulumi.Output[list[str]]:
    """``KEY=value`` lines, sorted; secret as a whole when ``secret_env`` is given or any value is secret.

    ``env`` wins over ``secret_env`` for a name in both (the site's own PORT, HOST, … cannot be overridden).
    """
    keys = sorted(env)
    plain = pulumi.Output.all(*[env[k] for k in keys]).apply(lambda values: dict(zip(keys, values, strict=True)))
    merged = (
        plain
        if secret_env is None
        else pulumi.Output.all(plain, pulumi.Output.secret(secret_env)).apply(lambda v: {**v[1], **v[0]})
    )
    return merged.apply(lambda values: [f"{k}={values[k]}" for k in sorted(values)])


class ContainerSite(pulumi.ComponentResource):
    """The site as containers. Outputs: ``backends`` (``name:port``), ``lb_url``, ``network_name``."""

    def __init__(self, name: str, args: ContainerSiteArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wayshub:containers:ContainerSite", name, None, opts)
        labels = [docker.NetworkLabelArgs(label="wayshub.stack", value=args.stack)]
        self.network = docker.Network(
            f"{name}-network",
            name=args.network,
            driver="bridge",
            ipam_configs=[docker.NetworkIpamConfigArgs(subnet=args.subnet)],
            labels=labels,
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )

        self.release = build_id(args.app_source)
        app_context = stage_app_context(args.app_source, args.build_dir, args.app_base, args.prefetch_npm)
        self.app_image = self._image(f"{name}-app-image", args, args.app_image, app_context, args.app_base)
        self.nginx_image = self._image(
            f"{name}-nginx-image", args, args.nginx_image, nginx_context(args.nginx_base), args.nginx_base
        )

        self.apps = [
            self._container(
                f"{name}-{server}", app_spec(args, index, self.release), self.app_image.image_name, args, depends_on=[]
            )
            for index, server in enumerate(args.app_servers)
        ]
        self.site_text = site_conf(args)
        self.nginx = self._container(
            f"{name}-{args.lb_server}", lb_spec(args), self.nginx_image.image_name, args, depends_on=list(self.apps)
        )

        self.backends = backends(args)
        self.lb_url = lb_url(args)
        self.network_name = self.network.name
        self.register_outputs(
            {
                "backends": self.backends,
                "lb_url": self.lb_url,
                "network_name": self.network_name,
                "release": self.release,
                "site": self.site_text,
            }
        )

    def _image(
        self, name: str, args: ContainerSiteArgs, repository: str, context: BuildContext, base: str
    ) -> docker.Image:
        """A local image (never pushed), tagged with the digest of what it is built from."""
        return docker.Image(
            name,
            image_name=f"{repository}:{context.digest}",
            build=docker.DockerBuildArgs(
                context=str(context.path),
                dockerfile=str(context.dockerfile),
                args={"BASE": base},
                builder_version=docker.BuilderVersion(args.builder_version),
            ),
            skip_push=True,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _container(
        self,
        name: str,
        spec: ContainerSpec,
        image: pulumi.Input[str],
        args: ContainerSiteArgs,
        depends_on: Sequence[pulumi.Resource],
    ) -> docker.Container:
        return docker.Container(
            name,
            name=spec.name,
            hostname=spec.hostname,
            image=image,
            envs=_envs(spec.env, args.secret_env if spec.role == "app" else None) if spec.env else None,
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(
                    name=self.network.name, ipv4_address=spec.ipv4_address, aliases=[spec.hostname]
                )
            ],
            ports=[
                docker.ContainerPortArgs(internal=p.container_port, external=p.host_port, ip=p.bind_address)
                for p in spec.published
            ],
            hosts=[docker.ContainerHostArgs(host=host, ip=ip) for host, ip in spec.pinned_hosts],
            uploads=[docker.ContainerUploadArgs(file=u.path, content=u.content) for u in spec.uploads],
            healthcheck=_healthcheck_args(spec.healthcheck),
            restart=spec.restart,
            read_only=spec.read_only,
            tmpfs=dict(spec.tmpfs) or None,
            capabilities=docker.ContainerCapabilitiesArgs(drops=list(spec.cap_drop)) if spec.cap_drop else None,
            security_opts=list(spec.security_opts),
            labels=[docker.ContainerLabelArgs(label=k, value=v) for k, v in sorted(spec.labels.items())],
            stop_timeout=spec.stop_timeout,
            must_run=True,
            # Wait for the healthcheck: an app that never answers /health, or an nginx that rejects its
            # config, fails the `up` here instead of leaving a restarting container behind.
            wait=True,
            wait_timeout=args.wait_timeout_seconds,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(depends_on), delete_before_replace=True),
        )
