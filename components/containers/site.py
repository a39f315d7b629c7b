"""``ContainerSite``: the same load-balanced site as Docker containers, declared with pulumi-docker.

One ``docker.Network`` with a fixed subnet; the app image built with ``docker.Image`` from a staged copy
of ``app/`` and ``images/app/Dockerfile``; per app server one ``docker.Container`` in its serving slot;
an nginx container (``images/nginx/Dockerfile``) whose site file is rendered by the SAME template as the VM
path (``templates/nginx-site.conf.j2``). The LB's port is published on a loopback address only.

How nginx finds the app containers. Open-source nginx before 1.27.3 (Debian bookworm ships 1.22) resolves
upstream server names ONCE, when it loads its config; measured with nginx 1.22: a container re-created with
another address is never used again until nginx reloads, and nginx does not even start while a backend
container is stopped (Docker's DNS has no record for it). So addresses are made stable instead of followed:
every container has a fixed address (LB ``.10``; each app server two, its slots a and b: spec.py), the
nginx container's ``/etc/hosts`` pins every slot's name to its address (``hosts``, i.e. ``--add-host``), and
``restart: unless-stopped`` brings a crashed app back (same name, same address).

Rolling a release (rollout.py picks the slots). The site's upstream includes one file per app server naming
the container of its serving slot. A new release (image, env, secrets, settings: its key) starts in the
other slot; that server's switch step (commands.py, ``host/switch.sh``) waits for its healthcheck, rewrites
the server's upstream file, ``nginx -t``, reloads gracefully; the next server's new container starts only
after that. The old slot's containers are no longer declared, so the engine removes them at the end of a
successful ``up`` (stopped with ``destroy_grace_seconds``: the app drains). A release failing its health
check fails its server's switch: nginx keeps the serving containers and nothing later runs.

nginx config changes reach the running LB (``host/site.sh``: ``nginx -t``, reload): the container's
``uploads`` (its files when it is created) are ignored after creation, and the site and switch steps re-run
when the LB container is re-created (a new nginx image, the only change that replaces it). Everything a
container gets is described once by a ``ContainerSpec`` (``spec.py``); ``tests/docker_cli.py`` renders the
same spec as ``docker create`` flags. The arguments are checked by the config's rules (``args.py``).

The LB's active health check (``lb.healthCheck``) is a container of its own in nginx's network namespace
(``health_check.py``).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import replace

import pulumi
import pulumi_docker as docker

from components.containers.app_image import plan_app_image, stage_app_image
from components.containers.args import ContainerSiteArgs
from components.containers.build_context import BuildContext, nginx_context
from components.containers.commands import Switch, capacity_command, site_command, switch_command
from components.containers.health_check import lb_health_spec
from components.containers.images import prune_images
from components.containers.rollout import (
    app_resource_name,
    kept_images,
    previous_release,
    read_checkpoint,
    served_slot,
    switch_name,
    target_slot,
)
from components.containers.spec import (
    ContainerSpec,
    Healthcheck,
    app_spec,
    lb_spec,
    lb_url,
    release_key,
    site_conf,
    upstream_server,
)
from components.shell.command import local
from components.shell.command.local import LocalCommandResource


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
        # The app image's recipe (start, build, Node: the app contract), then its build context, before any
        # resource: a bad setting or app folder stops here with one line.
        plan = args.image or plan_app_image(args.app, args.app_source)
        args = replace(args, image=plan)
        staged = stage_app_image(plan, args.build_dir, args.app_base, args.prefetch_npm)
        app_context = staged.context
        super().__init__("wayshub:containers:ContainerSite", name, None, opts)
        # Read before any resource: which container serves each server, and the recent releases' images.
        state = read_checkpoint(name, args.app_servers)
        # The release id is the image's: a digest of all it is built from (sources, Dockerfile, base, Node, build).
        built = app_context.digest
        self.release = args.release_pin or built
        pinned_image = state.release_images.get(self.release) if self.release != built else None
        if self.release != built and pinned_image is None:
            known = ", ".join(state.release_images) or "none"
            raise ValueError(
                f"wayshub:app.releasePin: release {self.release} has no image in this stack's recent releases ({known})"
            )
        labels = [docker.NetworkLabelArgs(label="wayshub.stack", value=args.stack)]
        self.network = docker.Network(
            f"{name}-network",
            name=args.network,
            driver="bridge",
            ipam_configs=[docker.NetworkIpamConfigArgs(subnet=args.subnet)],
            labels=labels,
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )

        self.app_image = self._image(f"{name}-app-image", args, args.app_image, app_context, staged.build_args)
        pulumi.log.info(plan.describe(), resource=self.app_image)
        # The image the app containers run: the one built from app/ now, or a pinned release's (no build).
        self.app_image_tag = pinned_image or f"{args.app_image}:{app_context.digest}"
        image_name: pulumi.Input[str] = pinned_image or self.app_image.image_name
        self.nginx_image = self._image(
            f"{name}-nginx-image", args, args.nginx_image, nginx_context(args.nginx_base), {"BASE": args.nginx_base}
        )

        serving = state.serving
        self.keys = {
            server: release_key(app_spec(args, i, self.release), self.app_image_tag, args.secret_digest)
            for i, server in enumerate(args.app_servers)
        }
        self.slots = {s: target_slot(serving.get(s), self.keys[s]) for s in args.app_servers}
        # Its files as first created; later changes reach it through the site and switch steps (no replace).
        self.nginx = self._container(
            f"{name}-{args.lb_server}", lb_spec(args, self.slots), self.nginx_image.image_name, args, [],
            ignore_changes=["uploads"],
        )  # fmt: skip
        self.apps: list[docker.Container] = []
        self.switches: list[LocalCommandResource] = []
        self.previous_releases: list[str] = []
        for index, server in enumerate(args.app_servers):
            slot, now = self.slots[server], serving.get(server)
            spec = app_spec(args, index, self.release, slot)
            # One server at a time: a serving server's new container starts after the previous switch.
            after = self.switches[-1:] if now is not None else []
            app = self._container(app_resource_name(name, server, slot), spec, image_name, args, after)
            self.apps.append(app)
            previous = previous_release(now, slot, self.release)
            self.previous_releases.append(previous)
            switch = Switch(server, spec.name, slot, self.keys[server], self.release, previous)
            self.switches.append(
                local.Command(
                    switch_name(name, server),
                    pulumi.ResourceOptions(parent=self, depends_on=[app, self.nginx, *self.switches[-1:]]),
                    create=switch_command(args, switch),
                    rerun_on=[self.nginx.id, app.id],
                )
            )
        # Room for many clients (lb.limits.workerConnections), set again in each new nginx container.
        self.capacity = local.Command(
            f"{name}-nginx-capacity",
            pulumi.ResourceOptions(parent=self, depends_on=[self.nginx]),
            create=capacity_command(args),
            rerun_on=[self.nginx.id],
        )
        self.site_text = site_conf(args)
        self.site = local.Command(
            f"{name}-site",
            pulumi.ResourceOptions(parent=self, depends_on=[self.nginx, self.capacity, *self.switches]),
            create=site_command(args),
            rerun_on=[self.nginx.id],
        )
        # The LB's health checker, in nginx's network namespace; after the site and every switch (health_check.py).
        checker = lb_health_spec(args, self.slots)
        self.lb_health: docker.Container | None = None
        if checker is not None:
            health, image = f"{name}-{args.lb_server}-health", self.nginx_image.image_name
            self.lb_health = self._container(health, checker, image, args, [self.site], joins=self.nginx)

        # What each switch step says nginx serves (not the plan): a failed `up` leaves the outputs as they were.
        self.backends = [
            switch.stdout.apply(functools.partial(self._served, args, server))
            for server, switch in zip(args.app_servers, self.switches, strict=True)
        ]
        self.releases = [self.release for _ in args.app_servers]
        self.release_images = kept_images({self.release: self.app_image_tag}, state.release_images, args.releases_kept)
        # Once every server switched: the stack's images that no container runs and no rollback needs go (images.py).
        self.prune = prune_images(
            name, args, [*self.release_images.values(), f"{args.app_image}:{app_context.digest}"],
            pulumi.ResourceOptions(parent=self, depends_on=[self.site]),
        )  # fmt: skip
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

    def _served(self, args: ContainerSiteArgs, server: str, stdout: str | None) -> str:
        return upstream_server(args, server, served_slot(stdout or "") or self.slots[server])

    def _image(
        self, name: str, args: ContainerSiteArgs, repository: str, context: BuildContext, build_args: dict[str, str]
    ) -> docker.Image:
        """A local image (never pushed), tagged with the digest of what it is built from."""
        return docker.Image(
            name,
            image_name=f"{repository}:{context.digest}",
            build=docker.DockerBuildArgs(
                context=str(context.path),
                dockerfile=str(context.dockerfile),
                args=build_args or None,
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
        joins: docker.Container | None = None,
        ignore_changes: Sequence[str] = (),
    ) -> docker.Container:
        """``joins``: the container ``spec.network_of`` names, whose network namespace this one shares (by its id:
        a new one makes this one anew); else the site's network at ``spec.ipv4_address``."""
        app = spec.role == "app"
        network = docker.ContainerNetworksAdvancedArgs(
            name=self.network.name, ipv4_address=spec.ipv4_address, aliases=[spec.hostname]
        )
        return docker.Container(
            name,
            name=spec.name,
            hostname=spec.hostname or None,
            image=image,
            command=list(spec.command) or None,
            envs=_envs(spec.env, args.secret_env if app else None) if spec.env else None,
            init=spec.init or None,
            network_mode=None if joins is None else joins.id.apply(lambda id_: f"container:{id_}"),
            networks_advanced=[network] if joins is None else None,
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
            capabilities=docker.ContainerCapabilitiesArgs(drops=list(spec.cap_drop), adds=list(spec.cap_add) or None)
            if spec.cap_drop
            else None,
            security_opts=list(spec.security_opts),
            labels=[docker.ContainerLabelArgs(label=k, value=v) for k, v in sorted(spec.labels.items())],
            stop_timeout=spec.stop_timeout,
            stop_signal=spec.stop_signal or None,
            # The provider stops a container it removes with this grace (its default, 0, kills at once): the app
            # drains on SIGTERM, nginx (SIGQUIT) finishes its requests.
            destroy_grace_seconds=spec.stop_timeout,
            must_run=True,
            # nginx: wait for its healthcheck, so an nginx that rejects its config fails the `up` here; the LB's
            # health checker: that it sits in nginx's network namespace. App containers: their switch step waits
            # instead, and says why one is not healthy (commands.py).
            wait=not app,
            wait_timeout=args.wait_timeout_seconds,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[self.network, *depends_on],
                delete_before_replace=True,
                ignore_changes=list(ignore_changes) or None,
            ),
        )
