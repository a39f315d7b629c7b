"""The Site component (components/site/component.py, issue #38) on stacks deployed before it existed.

A sandbox site and a containers site are deployed by the code just before the Site (its own tree, from git);
then the current code, which declares every resource under one ``wayshub:index:Site``, takes each over. Its
preview must show nothing to do but the Site itself (a component: it runs nothing): no resource made anew,
replaced, updated or removed. After its `up`, a preview shows no change at all, every resource of ours hangs
under the Site, and the stack's outputs are what they were.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.layout import SITE_TYPE
from tests.e2e import slots
from tests.e2e.containers_engine import find_docker_plugin, new_site, remove_site
from tests.e2e.old_code import code_before, export_tree, use_program
from tests.e2e.pulumi_cli import REPO, PulumiCli, engine_env
from tests.e2e.site import DOMAIN, SAMPLE_APP, docker_names

pytestmark = pytest.mark.e2e

STACK = slots.PACKAGE_STACK
CONTAINERS_STACK = f"{slots.CONTAINERS_STACK}-pkg"


@pytest.fixture(scope="module")
def old_code(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tree of the code just before the Site: on main, the two differ by the Site alone."""
    tree = tmp_path_factory.mktemp("before-the-site") / "code"
    export_tree(code_before("components/site/component.py"), tree)
    return tree


@dataclass(frozen=True)
class Taken:
    """A stack the old code deployed and the current code then took over."""

    name: str
    takeover: list[tuple[str, str]]  # the current code's first preview: (op, URN) of each step
    outputs_before: dict[str, Any]
    new: PulumiCli


# What the program is made of: the current code replaces the old in the same folder, since the code's own
# path reaches some inputs (the nginx image's build context is the tree's images/nginx).
PROGRAM = ("__main__.py", "Pulumi.yaml", "components", "images", "templates", "plugins")


def take_over(project: Path, env: dict[str, str], stack: str, old_code: Path) -> tuple[PulumiCli, Taken]:
    """``up`` by the old code, then the current code's preview, from the same folder."""
    code = old_code.parent / f"code-{stack}"
    shutil.copytree(old_code, code)
    use_program(project, code)
    old = PulumiCli(project, {**env, "PYTHONPATH": str(code)})
    old.select_stack(stack)
    old.up()
    outputs_before = old.outputs()
    for part in PROGRAM:
        shutil.rmtree(code / part) if (code / part).is_dir() else (code / part).unlink()
        if (REPO / part).is_dir():
            shutil.copytree(REPO / part, code / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(REPO / part, code / part)
    use_program(project, code)
    new = PulumiCli(project, {**env, "PYTHONPATH": str(code)})
    new.select_stack(stack)
    takeover = [(s.op, s.urn) for s in new.preview_steps()]
    return new, Taken(stack, takeover, outputs_before, new)


def check_taken_over(taken: Taken) -> None:
    """Nothing but the Site created; a no-change preview after its up; every resource under it; same outputs."""
    not_same = [(op, urn) for op, urn in taken.takeover if op != "same"]
    assert [(op, urn.split("::")[2]) for op, urn in not_same] == [("create", SITE_TYPE)], not_same
    taken.new.up()
    again = [(s.op, s.name) for s in taken.new.preview_steps() if s.op != "same"]
    assert again == [], f"a preview after the Site's up still changes: {again}"
    resources = taken.new.resources()
    site_urns = [r["urn"] for r in resources if r["type"] == SITE_TYPE]
    assert len(site_urns) == 1, site_urns
    stack_urn = next(r["urn"] for r in resources if r["type"] == "pulumi:pulumi:Stack")
    outside = [r["urn"] for r in resources if r.get("parent") == stack_urn and r["type"] != SITE_TYPE]
    assert outside == [], f"resources left at the stack's top, outside the Site: {outside}"
    ours = [r for r in resources if r["type"].startswith(("wayshub:", "pulumi-python:dynamic", "command:", "docker:"))]
    assert len(ours) > 10, len(ours)
    assert all(SITE_TYPE in r["urn"].split("::")[2].split("$") for r in ours if r["type"] != SITE_TYPE)
    assert taken.new.outputs() == taken.outputs_before, "the stack's outputs changed"


# --- A sandbox site: one app server and the LB.


def sandbox_config(image: str, hosts_file: Path) -> dict[str, Any]:
    return {
        "wayshub:domain": DOMAIN,
        "wayshub:app": SAMPLE_APP,
        "wayshub:hosts": {
            "provider": "sandbox",
            "user": "deploy",
            "appServers": [{"name": "app1"}],
            "lbServer": {"name": "lb"},
        },
        "wayshub:sandbox": {
            "image": image,
            "network": f"wayshub-{STACK}",
            "subnet": f"{slots.PACKAGE_SUBNET_PREFIX}.0/24",
            "sshPortBase": slots.PACKAGE_SSH_PORT_BASE,
            "httpPort": slots.PACKAGE_HTTP_PORT,
            "httpsPort": slots.PACKAGE_HTTP_PORT + 1,
        },
        "wayshub:hostsFile": {"path": str(hosts_file), "address": "127.0.0.1"},
    }


@pytest.fixture(scope="module")
def sandbox_site(tmp_path_factory: pytest.TempPathFactory, sandbox_image: str, old_code: Path) -> Iterator[Taken]:
    root = tmp_path_factory.mktemp("site-component")
    project = root / "project"
    project.mkdir()
    shutil.copytree(REPO / "app", project / "app", ignore=shutil.ignore_patterns("node_modules"))
    hosts_file = root / "hosts"
    hosts_file.write_text("127.0.0.1\tlocalhost\n")
    (project / "stacks").mkdir()
    config = sandbox_config(sandbox_image, hosts_file)
    (project / "stacks" / f"Pulumi.{STACK}.yaml").write_text(yaml.safe_dump({"config": config}, sort_keys=True))
    env = engine_env(root / "state", root / "home")
    use_program(project, old_code)
    PulumiCli(project, {**env, "PYTHONPATH": str(old_code)}).init_stack(STACK)
    new: PulumiCli | None = None
    try:
        new, taken = take_over(project, env, STACK, old_code)
        yield taken
    finally:
        use_program(project, REPO)
        (new or PulumiCli(project, {**env, "PYTHONPATH": str(REPO)})).destroy(check=False)
        for leftover in docker_names(f"label=wayshub.stack={STACK}"):
            subprocess.run(["docker", "rm", "--force", leftover], check=False)
        subprocess.run(["docker", "network", "rm", f"wayshub-{STACK}"], capture_output=True, check=False)


def test_a_sandbox_stack_deployed_before_the_site_moves_under_it_with_nothing_to_change(sandbox_site: Taken) -> None:
    check_taken_over(sandbox_site)


# --- A containers site (pulumi-docker): two app containers and nginx.


@pytest.fixture(scope="module")
def containers_site(tmp_path_factory: pytest.TempPathFactory, old_code: Path) -> Iterator[Taken]:
    root = tmp_path_factory.mktemp("site-component-containers")
    plugin = find_docker_plugin(root / "probe-state")
    if isinstance(plugin, str):
        pytest.skip(plugin)
    site = new_site(root, plugin, stack=CONTAINERS_STACK)
    try:
        _, taken = take_over(site.project, site.cli.env, CONTAINERS_STACK, old_code)
        yield taken
    finally:
        use_program(site.project, REPO)
        remove_site(site)


def test_a_containers_stack_deployed_before_the_site_moves_under_it_with_nothing_to_change(
    containers_site: Taken,
) -> None:
    check_taken_over(containers_site)
