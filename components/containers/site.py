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
``ContainerSpec`` (``spec.py``); ``tests/docker_cli.py`` renders the same spec as ``docker create`` flags,
which the e2e test runs against the real Docker engine (the pulumi-docker provider plugin cannot be built
here). The arguments are checked by the config's rules (``args.py``); the images' build contexts are
staged by ``build_context.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_docker as docker

from components.app.release import build_id
from components.containers.args import ContainerSiteArgs
from components.containers.build_context import BuildContext, nginx_context, stage_app_context
from components.containers.spec import ContainerSpec, Healthcheck, app_spec, backends, lb_spec, lb_url, site_conf


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
