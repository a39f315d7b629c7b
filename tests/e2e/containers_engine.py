"""The containers-mode engine e2e's harness: the docker plugin the engine would load (or why there is none:
the skip reason), and one deployed ``containers`` stack whose config a test changes and re-applies."""

from __future__ import annotations

import io
import json
import os
import secrets
import shutil
import subprocess
import tarfile
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

from tests.e2e import slots
from tests.e2e.pulumi_cli import REPO, PulumiCli, copy_program, engine_env, stack_file_text
from tests.e2e.test_containers_docker import DOMAIN, choose_base, docker, free_port

STACK = f"{slots.CONTAINERS_STACK}-engine"
SERVERS = ["app1", "app2"]
NETWORK = f"wayshub-{STACK}-net"  # network_of(STACK)


def repositories(stack: str) -> tuple[str, str]:
    """The stack's own image repositories (app, nginx): no one else's."""
    return f"wayshub-{stack}/app", f"wayshub-{stack}/nginx"


def stale_image(stack: str) -> str:
    """Put there before the first `up`: its prune step removes it."""
    return f"{repositories(stack)[0]}:000000000000"


APP_IMAGE, NGINX_IMAGE = repositories(STACK)
STALE_IMAGE = stale_image(STACK)
SUBNET = f"{slots.CONTAINERS_SUBNET_PREFIX}.0/24"
PLUGIN = "docker"
SITE = "containers"  # ContainerSite's resource name (components/site/containers.py)


def _pulumi_homes() -> list[Path]:
    """Where plugins may be installed: $PULUMI_HOME, the Makefile's .wayshub/pulumi-home, ~/.pulumi."""
    candidates = [os.environ.get("PULUMI_HOME"), str(REPO / ".wayshub" / "pulumi-home"), str(Path.home() / ".pulumi")]
    homes: list[Path] = []
    for candidate in candidates:
        if candidate and Path(candidate).is_dir() and Path(candidate) not in homes:
            homes.append(Path(candidate))
    return homes


@dataclass(frozen=True)
class Plugin:
    home: Path | None
    description: str


def find_docker_plugin(state_dir: Path) -> Plugin | str:
    """The docker resource plugin the engine would load, or why there is none (the skip reason)."""
    homes = _pulumi_homes()
    searched: list[str] = []
    for home in homes or [state_dir / "empty-home"]:
        try:
            env = engine_env(state_dir, home)
        except subprocess.CalledProcessError as err:
            return f"no Pulumi engine (scripts/ensure-pulumi failed: {(err.stderr or '').strip()[-300:]})"
        ambient = shutil.which(f"pulumi-resource-{PLUGIN}", path=env["PATH"])
        if ambient:
            return Plugin(None, f"ambient {ambient}")
        listed = subprocess.run(
            ["pulumi", "plugin", "ls", "--json"], env=env, capture_output=True, text=True, timeout=120, check=False
        )
        if listed.returncode != 0:
            return f"`pulumi plugin ls --json` failed: {listed.stderr.strip()[-300:]}"
        plugins: list[dict[str, Any]] = json.loads(listed.stdout or "[]") or []
        found = [p for p in plugins if p.get("name") == PLUGIN and p.get("kind") == "resource"]
        if found:
            return Plugin(home, f"resource {PLUGIN} {found[0].get('version')} in {home}")
        searched.append(str(home))
    return (
        f"no pulumi-docker resource plugin for the engine (searched `pulumi plugin ls --json` in "
        f"{', '.join(searched)}, and PATH for pulumi-resource-{PLUGIN}): install it with "
        f"`pulumi plugin install resource {PLUGIN} {version('pulumi_docker')}`, or build it from ../shared/vendor"
    )


def program_supports_containers() -> str | None:
    """None when the program accepts ``hosts.provider: containers``, else why not (a skip reason)."""
    from components import config as stack_config

    if "containers" not in stack_config.KEYS:
        return "components/config/ has no `containers` section yet: the program cannot deploy containers mode"
    if "ContainerSite" not in (REPO / "components" / "site" / "containers.py").read_text():
        return "components/site/containers.py does not declare ContainerSite yet"
    return None


@dataclass
class Deployed:
    """The stack, its port and config (``apply`` writes the config file; the test then runs ``up``)."""

    cli: PulumiCli
    port: int
    project: Path
    config: dict[str, Any] = field(default_factory=dict)
    stack: str = STACK
    # Every container on the daemon before the first `up` (build_leftovers looks only at newer ones).
    containers_before: frozenset[str] = frozenset()

    def write_config(self) -> None:
        stack_file = self.project / "stacks" / f"Pulumi.{self.stack}.yaml"
        stack_file.write_text(stack_file_text(self.config))

    def set(self, key: str, value: Any) -> None:
        self.config[key] = value
        self.write_config()

    def container_id(self, name: str) -> str:
        return docker("inspect", "--format", "{{.Id}}", name)

    def running(self) -> list[str]:
        """Our containers that run now, by name."""
        return sorted(docker("ps", "--format", "{{.Names}}", "--filter", f"label=wayshub.stack={self.stack}").split())


def container(server: str, slot: str = "") -> str:
    return f"wayshub-{STACK}-{server}" + (f"-{slot}" if slot else "")


def network_of(stack: str) -> str:
    return f"wayshub-{stack}-net"


def leftovers(stack: str = STACK) -> list[str]:
    return docker(
        "ps", "--all", "--format", "{{.Names}}", "--filter", f"label=wayshub.stack={stack}", check=False
    ).split()


def new_site(root: Path, plugin: Plugin, stack: str = STACK, apps: dict[str, Path] | None = None) -> Deployed:
    """A `containers` stack of 2 app servers, initialised and not deployed, in ``root`` (project, state, home);
    ``apps``: more app folders copied into the project (its folder name → source), for ``app.source``."""
    subprocess.run([str(REPO / "scripts" / "ensure-docker")], check=True, capture_output=True)
    project = root / "project"
    copy_program(project)
    for folder, source in (apps or {}).items():
        shutil.copytree(source, project / folder, ignore=shutil.ignore_patterns("node_modules"))
    # This run's own app: its releases are built here, not found in the cache of another slot's identical build.
    (project / "app" / "E2E_RUN").write_text(f"{secrets.token_hex(8)}\n")
    hosts_file = root / "hosts"
    hosts_file.write_text("127.0.0.1\tlocalhost\n")
    cli = PulumiCli(project, engine_env(root / "state", plugin.home or root / "home"))
    port = free_port()
    app_base, nginx_base = choose_base("node:20-bookworm-slim"), choose_base("nginx:1.27")
    site = Deployed(cli, port, project, stack=stack)
    site.config = {
        "wayshub:domain": DOMAIN,
        "wayshub:hosts": {
            "provider": "containers",
            "appServers": [{"name": server} for server in SERVERS],
            "lbServer": {"name": "lb"},
        },
        "wayshub:containers": {
            "appImage": repositories(stack)[0],
            "nginxImage": repositories(stack)[1],
            "appBase": app_base,
            "nginxBase": nginx_base,
            "network": network_of(stack),
            "subnet": SUBNET,
            "httpPort": port,
            "bindAddress": "127.0.0.1",
            # The build cannot reach an npm registry where the base is the Debian one.
            "prefetchNpm": app_base != "node:20-bookworm-slim",
        },
        "wayshub:hostsFile": {"path": str(hosts_file), "address": "127.0.0.1"},
    }
    (project / "stacks").mkdir()
    site.write_config()
    remove_images(stack)  # an earlier run's, so only this run's builds are counted
    docker("import", "-", stale_image(stack), input=stale_image_tar(stack))  # as if an earlier release's (below)
    site.containers_before = frozenset(all_containers())
    cli.init_stack(stack)
    return site


def remove_site(site: Deployed) -> None:
    """Destroy, then whatever is left of ours (by label), the network and the stack."""
    site.cli.destroy(check=False)
    names = leftovers(site.stack)
    if names:
        docker("rm", "--force", *names, check=False)
    docker("network", "rm", network_of(site.stack), check=False)
    site.cli.remove_stack(force=True, check=False)
    remove_images(site.stack)


def stale_image_tar(stack: str = STACK) -> bytes:
    """A tiny image of its own (no other tag, no container made from it), for ``docker import``: a tag of a
    shared image, such as a base, whose id some container uses, is left by the prune step."""
    data = f"{stale_image(stack)} {secrets.token_hex(8)}\n".encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        member = tarfile.TarInfo("stale")
        member.size = len(data)
        tar.addfile(member, io.BytesIO(data))
    return buffer.getvalue()


def all_containers() -> list[str]:
    return docker("ps", "--all", "--quiet", "--no-trunc").split()


def repository_images(stack: str = STACK) -> dict[str, str]:
    """The stack's images: ``repository:tag`` → image id, in both repositories."""
    lines = [docker("image", "ls", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}", repo) for repo in
             repositories(stack)]  # fmt: skip
    return dict(line.split() for text in lines for line in text.splitlines() if line.strip())


def remove_images(stack: str = STACK) -> None:
    """This slot's images (its repositories are named after its stack: no one else's)."""
    refs = list(repository_images(stack))
    if refs:
        docker("image", "rm", *refs, check=False)


def build_leftovers(before: frozenset[str]) -> list[str]:
    """Containers the stack's image builds left: made since ``before`` from one of its images or their
    ancestors (the legacy builder makes each step's container from the bare id of the previous step's image,
    and keeps it: pulumi-docker does not ask it to remove them), and of no stack (no ``wayshub.stack`` label).
    Another session's containers are not counted: they are older, or of a stack, or made from other images."""
    ancestry: set[str] = set()
    for image in repository_images().values():
        first = True
        while image and image not in ancestry:
            text = docker("image", "inspect", "--format", '{{.Parent}}|{{join .RepoTags " "}}', image, check=False)
            parent, _, tags = text.partition("|")
            if not first and any(not tag.startswith((f"{APP_IMAGE}:", f"{NGINX_IMAGE}:")) for tag in tags.split()):
                break  # a base image: its other containers are not our builds'
            ancestry.add(image)
            image, first = parent.strip(), False
    found: list[str] = []
    for name in sorted(set(all_containers()) - before):
        info = docker("inspect", "--format", '{{.Image}}|{{index .Config.Labels "wayshub.stack"}}|{{.Name}}', name,
                      check=False).split("|")  # fmt: skip
        if len(info) == 3 and info[1] in ("", "<no value>") and info[0] in ancestry:
            found.append(f"{info[2].lstrip('/')} ({info[0][:19]})")
    return found
