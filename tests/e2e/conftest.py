"""Shared e2e fixtures: the Docker engine and sandbox image, and ONE deployed site per test session."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from tests.e2e.pulumi_cli import REPO, PulumiCli, copy_program, engine_env
from tests.e2e.site import COMMANDS, SITE_STACK, Site, docker_names, write_stack_config

USER_HOSTS_LINES = "127.0.0.1\tlocalhost\n# a comment the user wrote\n10.9.8.7\tsomething.internal\n"


@pytest.fixture(scope="session")
def sandbox_image() -> str:
    subprocess.run([str(REPO / "scripts" / "ensure-docker")], check=True)
    return subprocess.run(
        [str(REPO / "scripts" / "sandbox-image")], capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory, sandbox_image: str) -> Iterator[Site]:
    """The real program deployed once (2 app servers + LB as sandbox VMs); tests share it."""
    root = tmp_path_factory.mktemp("site")
    project = root / "project"
    copy_program(project)
    hosts_file = root / "hosts"
    hosts_file.write_text(USER_HOSTS_LINES)
    cli = PulumiCli(project, engine_env(root / "state", root / "home"))
    cli.init_stack(SITE_STACK)
    site = Site(cli=cli, project=project, hosts_file=hosts_file, image=sandbox_image)
    write_stack_config(site, app_servers=["app1", "app2"])
    try:
        if COMMANDS == "pulumi-command":  # the real provider checks every input of a fresh stack in a preview
            fresh = {step.op for step in site.cli.preview_steps()}
            assert fresh == {"create"}, f"a fresh stack's preview must only create: {fresh}"
        site.first_up, site.first_output = site.cli.up_with_summary()
        site.first_dependencies = site.dependencies()
        yield site
    finally:
        cli.destroy(check=False)
        for leftover in docker_names(f"label=wayshub.stack={SITE_STACK}"):
            subprocess.run(["docker", "rm", "--force", leftover], check=False)
        subprocess.run(["docker", "network", "rm", f"wayshub-{SITE_STACK}"], capture_output=True, check=False)
