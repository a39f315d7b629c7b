"""Containers mode on the real Docker engine, driven with the docker CLI.

The pulumi-docker provider plugin cannot be built here, so this test runs what ``ContainerSite`` declares
without it: the images are built from the repo's Dockerfiles (``images/app``, ``images/nginx``), and every
container is created from the component's own ``ContainerSpec`` (``app_spec``/``lb_spec``) rendered as
``docker create`` flags, the uploads copied in before start, as the provider does. Then: both backends
answer through nginx, one stopped backend costs no failed request, nginx passes ``nginx -t``, the app runs
as a non-root user and its HEALTHCHECK reports healthy, a crashed app comes back at its address, nginx
starts while a backend is down — and, to show why addresses are pinned, an nginx WITHOUT the pins keeps
a re-created backend's old address and cannot start while a backend is stopped.

Traffic goes only to 127.0.0.1 and to the containers made here, on network ``wayshub-ctest-net``
(172.31.(240+n).0/24 in e2e slot n: tests/e2e/slots.py). Containers and the network are
removed at the end, also on failure; images stay, labelled with a recipe hash, so a warm run builds nothing.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from components.config import AppConfig
from components.containers.app_image import plan_app_image, stage_app_image
from components.containers.args import ContainerSiteArgs
from components.containers.build_context import BuildContext, digest_of, nginx_context
from components.containers.spec import (
    ContainerSpec,
    app_spec,
    lb_spec,
    resolver_conf,
    site_conf,
    site_path,
    upstream_path,
    upstream_text,
)
from tests.docker_cli import docker_create_argv, uploads_tar
from tests.e2e import slots
from tests.e2e.pulumi_cli import REPO

pytestmark = pytest.mark.e2e

STACK = slots.CONTAINERS_STACK
PREFIX = f"wayshub-{STACK}"  # every container and the network: wayshub-ctest-…
NETWORK = f"{PREFIX}-net"
SUBNET = f"{slots.CONTAINERS_SUBNET_PREFIX}.0/24"
DOMAIN = "wayshub.test"
APP_SERVERS = ("app1", "app2")
DEBIAN_BASE = "wayshub/debian-base:bookworm"
RECIPE_LABEL = "wayshub.recipe"
# Bump when the way this test builds images changes.
RECIPE_VERSION = "2"


def docker(*args: str, check: bool = True, input: bytes | None = None, timeout: float = 120) -> str:
    result = subprocess.run(["docker", *args], input=input, capture_output=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise AssertionError(
            f"docker {' '.join(args)[:300]} exited {result.returncode}:\n{result.stderr.decode()[-3000:]}"
        )
    return result.stdout.decode().strip()


def image_exists(image: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", image], capture_output=True, check=False).returncode == 0


def choose_base(laptop_base: str) -> str:
    """The Dockerfile's default base when present locally, else the Debian base made from Debian packages."""
    if image_exists(laptop_base):
        return laptop_base
    if not image_exists(DEBIAN_BASE):
        # scripts/sandbox-image makes the base with debootstrap when no registry answers.
        subprocess.run([str(REPO / "scripts" / "sandbox-image")], capture_output=True, check=True)
    return DEBIAN_BASE


@dataclass(frozen=True)
class Built:
    tag: str
    base: str
    seconds: float
    cached: bool


def ensure_image(repository: str, context: BuildContext, base: str, build_args: dict[str, str]) -> Built:
    """``docker build`` (legacy builder) unless the tag's recipe label already matches."""
    started = time.monotonic()
    tag = f"{repository}:{context.digest}"
    recipe = digest_of({}, context.digest, docker("image", "inspect", "--format", "{{.Id}}", base), RECIPE_VERSION)
    if (
        image_exists(tag)
        and docker("image", "inspect", "--format", f'{{{{index .Config.Labels "{RECIPE_LABEL}"}}}}', tag) == recipe
    ):
        return Built(tag, base, time.monotonic() - started, cached=True)
    flags = [f for name, value in sorted(build_args.items()) for f in ("--build-arg", f"{name}={value}")]
    result = subprocess.run(
        ["docker", "build", "--pull=false", "--rm", "--force-rm", *flags, "--label", f"{RECIPE_LABEL}={recipe}",
         "-f", str(context.dockerfile), "-t", tag, str(context.path)],
        env={**os.environ, "DOCKER_BUILDKIT": "0"}, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert result.returncode == 0, f"docker build of {tag} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    # Older builds of this test's repository are dead weight (their recipe changed).
    older = [t for t in docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}", repository).split() if t != tag]
    if older:
        docker("image", "rm", *older, check=False)
    return Built(tag, base, time.monotonic() - started, cached=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Answer:
    status: int
    backend: str
    release: str


@dataclass
class Site:
    args: ContainerSiteArgs
    app_context: BuildContext
    app_image: Built
    nginx_image: Built
    release: str
    build_args: dict[str, str]

    @property
    def port(self) -> int:
        return self.args.http_port

    def name(self, server: str) -> str:
        """An app server's container in slot a (the only one this module runs), or the LB's."""
        return f"{PREFIX}-{server}-a" if server in APP_SERVERS else f"{PREFIX}-{server}"

    def get(self, port: int | None = None, timeout: float = 5.0) -> Answer:
        """One GET through nginx on 127.0.0.1 with the site's Host header, on a fresh connection."""
        conn = http.client.HTTPConnection("127.0.0.1", port or self.port, timeout=timeout)
        try:
            conn.request("GET", "/", headers={"Host": DOMAIN})
            response = conn.getresponse()
            response.read()
            return Answer(
                response.status,
                response.getheader("X-Wayshub-Backend") or "",
                response.getheader("X-Wayshub-Release") or "",
            )
        finally:
            conn.close()

    def backends_seen(self, requests: int, port: int | None = None) -> list[str]:
        answers = [self.get(port) for _ in range(requests)]
        assert all(a.status == 200 for a in answers), [a.status for a in answers]
        return [a.backend for a in answers]

    def wait_until_answering(self, expected: set[str], port: int | None = None, seconds: float = 60) -> None:
        deadline, seen = time.monotonic() + seconds, set[str]()
        while time.monotonic() < deadline:
            try:
                seen = set(self.backends_seen(8, port))
            except (OSError, AssertionError):
                seen = set()
            if seen == expected:
                return
            time.sleep(0.5)
        raise AssertionError(f"expected answers from {sorted(expected)}, last saw {sorted(seen)}")

    def run(self, spec: ContainerSpec, image: str) -> None:
        """What pulumi-docker does for one container: create, upload the files, start."""
        docker(*docker_create_argv(spec, NETWORK, image)[1:])
        if spec.uploads:
            docker("cp", "-", f"{spec.name}:/", input=uploads_tar(spec.uploads))
        docker("start", spec.name)

    def run_app(self, index: int, **changes: object) -> None:
        spec = dataclasses.replace(app_spec(self.args, index, self.release), **changes)  # type: ignore[arg-type]
        self.run(spec, self.app_image.tag)

    def health(self, server: str) -> str:
        return docker("inspect", "--format", "{{if .State.Health}}{{.State.Health.Status}}{{end}}", self.name(server))

    def wait_healthy(self, server: str, seconds: float = 90) -> None:
        deadline = time.monotonic() + seconds
        while (status := self.health(server)) != "healthy":
            assert time.monotonic() < deadline, (
                f"{server} is {status!r} after {seconds}s:\n{docker('logs', self.name(server))}"
            )
            time.sleep(0.5)

    def inspect(self, server: str) -> dict[str, object]:
        return dict(json.loads(docker("inspect", self.name(server)))[0])

    def address(self, server: str) -> str:
        return docker(
            "inspect", "--format", f'{{{{(index .NetworkSettings.Networks "{NETWORK}").IPAddress}}}}', self.name(server)
        )


def remove_everything() -> None:
    """This module's containers (by label, and by exact name in case a label is missing) and its network."""
    names = docker("ps", "--all", "--format", "{{.Names}}", "--filter", f"label=wayshub.stack={STACK}", check=False)
    ours = {f"{PREFIX}-{server}-a" for server in APP_SERVERS} | {f"{PREFIX}-{server}" for server in ("lb", "lb-bare")}
    existing = set(docker("ps", "--all", "--format", "{{.Names}}", check=False).split())
    doomed = sorted(set(names.split()) | (ours & existing))
    if doomed:
        docker("rm", "--force", *doomed, check=False)
    docker("network", "rm", NETWORK, check=False)


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    subprocess.run([str(REPO / "scripts" / "ensure-docker")], check=True, capture_output=True)
    started = time.monotonic()
    app_base, nginx_base = choose_base("node:20-bookworm-slim"), choose_base("nginx:1.27")
    # The staged context carries an npm cache filled here, so `npm ci` in the build runs offline.
    plan = plan_app_image(AppConfig(), REPO / "app")
    staged = stage_app_image(plan, REPO / "build" / "images", app_base, prefetch_npm=True)
    app_context = staged.context
    app_image = ensure_image(f"{PREFIX}/app", app_context, app_base, staged.build_args)
    nginx_image = ensure_image(f"{PREFIX}/nginx", nginx_context(nginx_base), nginx_base, {"BASE": nginx_base})
    print(
        f"\nimages ({time.monotonic() - started:.1f}s): {app_image.tag} from {app_base} "
        f"({'cached' if app_image.cached else f'built in {app_image.seconds:.1f}s'}), {nginx_image.tag} from "
        f"{nginx_base} ({'cached' if nginx_image.cached else f'built in {nginx_image.seconds:.1f}s'})"
    )
    args = ContainerSiteArgs(
        stack=STACK,
        domain=DOMAIN,
        app_servers=APP_SERVERS,
        app_source=REPO / "app",
        network=NETWORK,
        subnet=SUBNET,
        http_port=free_port(),
        app_image=f"{PREFIX}/app",
        nginx_image=f"{PREFIX}/nginx",
        image=plan,
    )
    site = Site(args, app_context, app_image, nginx_image, app_context.digest, staged.build_args)
    remove_everything()
    try:
        docker(
            "network", "create", "--driver", "bridge", "--subnet", SUBNET, "--label", f"wayshub.stack={STACK}", NETWORK
        )
        for index in range(len(APP_SERVERS)):
            site.run_app(index)
        for server in APP_SERVERS:
            site.wait_healthy(server)
        # nginx after the apps (ContainerSite does not wait: its pins need no running app; here it saves a retry).
        site.run(lb_spec(args), nginx_image.tag)
        site.wait_healthy("lb", seconds=60)
        yield site
    finally:
        remove_everything()


def test_images_are_cached_by_their_recipe(site: Site) -> None:
    again = ensure_image(f"{PREFIX}/app", site.app_context, site.app_image.base, site.build_args)
    assert again.cached and again.seconds < 10, again
    labels = json.loads(docker("image", "inspect", "--format", "{{json .Config.Labels}}", site.app_image.tag))
    assert labels[RECIPE_LABEL], labels


def test_app_runs_as_a_non_root_user_and_its_healthcheck_reports_healthy(site: Site) -> None:
    for server in APP_SERVERS:
        assert docker("exec", site.name(server), "id", "-u") == "10001"
        assert site.health(server) == "healthy"
        config = site.inspect(server)
        host_config = config["HostConfig"]
        assert isinstance(host_config, dict)
        assert host_config["ReadonlyRootfs"] is True and host_config["CapDrop"] == ["ALL"]
        assert host_config["RestartPolicy"]["Name"] == "unless-stopped"
        assert site.address(server) == f"{slots.CONTAINERS_SUBNET_PREFIX}.{11 + APP_SERVERS.index(server)}"
    # The container runs the app's start command under Docker's init, as ContainerSite declares it.
    spec = app_spec(site.args, 0, site.release)
    config = site.inspect(APP_SERVERS[0])
    assert config["Config"]["Cmd"] == list(spec.command or ()), config["Config"]  # type: ignore[index]
    assert config["HostConfig"]["Init"] is True  # type: ignore[index]
    assert "node server.js" in " ".join(spec.command or ()), "the sample's start script, resolved as on VMs"
    user = docker("image", "inspect", "--format", "{{.Config.User}}", site.app_image.tag)
    assert user == "10001:10001"


def test_both_backends_answer_through_nginx(site: Site) -> None:
    site.wait_until_answering(set(APP_SERVERS))
    answer = site.get()
    assert answer.release == site.release, "WAYSHUB_RELEASE is the app's release id, as on the VM path"


def test_nginx_t_passes_and_conf_d_holds_exactly_the_rendered_files(site: Site) -> None:
    lb = site.name("lb")
    result = subprocess.run(["docker", "exec", lb, "nginx", "-t"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr
    assert docker("exec", lb, "cat", site_path(site.args)) + "\n" == site_conf(site.args)
    assert docker("exec", lb, "cat", "/etc/nginx/conf.d/00-resolver.conf") + "\n" == resolver_conf()
    assert sorted(docker("exec", lb, "ls", "/etc/nginx/conf.d").split()) == sorted(
        ["00-resolver.conf", Path(site_path(site.args)).name]
    )
    for server in APP_SERVERS:  # each app server's upstream file, outside conf.d, names its slot-a container
        text = docker("exec", lb, "cat", upstream_path(site.args, server)) + "\n"
        assert text == upstream_text(site.args, server, "a") and site.name(server) in text
    version = subprocess.run(["docker", "exec", lb, "nginx", "-v"], capture_output=True, text=True, check=False)
    print(f"\n{version.stderr.strip()}")


def test_a_stopped_backend_costs_no_failed_request(site: Site) -> None:
    docker("stop", site.name("app2"))
    try:
        started = time.monotonic()
        seen = site.backends_seen(50)  # asserts every answer is a 200
        print(f"\n50 GETs with app2 stopped: {time.monotonic() - started:.1f}s")
        assert set(seen) == {"app1"}
    finally:
        docker("start", site.name("app2"))
    # Same name, same fixed address: nginx takes it back after fail_timeout, no reload.
    site.wait_until_answering(set(APP_SERVERS))


def test_a_crashed_app_is_restarted_at_its_address_and_nginx_uses_it_again(site: Site) -> None:
    before = site.inspect("app1")
    state = before["State"]
    assert isinstance(state, dict)
    # The app exits (SIGTERM to PID 1 from inside drains and exits): the restart policy brings it back.
    docker("exec", site.name("app1"), "kill", "-TERM", "1")
    deadline = time.monotonic() + 30
    while True:
        after = site.inspect("app1")
        after_state = after["State"]
        assert isinstance(after_state, dict)
        if after_state["StartedAt"] != state["StartedAt"] and after_state["Running"]:
            break
        assert time.monotonic() < deadline, "the restart policy did not bring app1 back"
        time.sleep(0.3)
    assert after["RestartCount"] == int(str(before["RestartCount"])) + 1
    assert site.address("app1") == f"{slots.CONTAINERS_SUBNET_PREFIX}.11"
    site.wait_until_answering(set(APP_SERVERS))
    site.wait_healthy("app1")


def test_nginx_starts_and_serves_while_a_backend_is_down(site: Site) -> None:
    docker("stop", site.name("app2"))
    try:
        docker("restart", site.name("lb"))
        site.wait_until_answering({"app1"}, seconds=30)
        assert set(site.backends_seen(10)) == {"app1"}
    finally:
        docker("start", site.name("app2"))
    site.wait_until_answering(set(APP_SERVERS))


def test_without_pinned_addresses_nginx_would_not_follow_containers(site: Site) -> None:
    """Why ContainerSite pins addresses: what nginx does with upstream NAMES and Docker's DNS alone."""
    port = free_port()
    bare = dataclasses.replace(
        lb_spec(site.args),
        name=site.name("lb-bare"),
        hostname="lb-bare",
        ipv4_address=f"{slots.CONTAINERS_SUBNET_PREFIX}.9",
        published=(dataclasses.replace(lb_spec(site.args).published[0], host_port=port),),
        pinned_hosts=(),
        restart="no",
    )
    app2, moved = site.name("app2"), f"{slots.CONTAINERS_SUBNET_PREFIX}.99"
    try:
        site.run(bare, site.nginx_image.tag)
        site.wait_until_answering(set(APP_SERVERS), port=port)

        # app2 re-created at another address: Docker's DNS follows at once, nginx never does.
        docker("rm", "--force", app2)
        site.run_app(1, ipv4_address=moved)
        site.wait_healthy("app2")
        assert docker("exec", bare.name, "getent", "hosts", app2).split()[0] == moved
        time.sleep(6)  # longer than the resolver's valid=5s
        assert set(site.backends_seen(12, port)) == {"app1"}, "nginx followed the new address"
        assert set(site.backends_seen(12)) == {"app1"}  # the pinned nginx too: the pin is the address

        # A stopped backend has no DNS record, and nginx does not start without one.
        docker("stop", app2)
        docker("restart", bare.name)
        time.sleep(1)
        assert docker("inspect", "--format", "{{.State.Running}}", bare.name) == "false"
        logs = subprocess.run(["docker", "logs", bare.name], capture_output=True, text=True, check=False)
        assert f'host not found in upstream "{app2}:3000"' in logs.stdout + logs.stderr
    finally:
        docker("rm", "--force", bare.name, app2, check=False)
        site.run_app(1)
    site.wait_healthy("app2")
    site.wait_until_answering(set(APP_SERVERS))
