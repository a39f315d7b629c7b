"""examples/typescript-program deploys the sandbox site through the SDK `pulumi package add` generates from the
component package (package/, docs/package.md), and destroys it.

As a user does it, in a copy of the example: the Node toolchain and the nodejs language host
(scripts/ensure-language-nodejs), `pulumi package add <repo>/package` (the SDK, then npm install from the
registry), a stack with its settings and an app secret in the program's config, `pulumi up`. Then both app
servers answer through the LB, the stack's outputs are the Site's, the secret reached the app but not the
state in plain text, a bad setting is one line at preview, and `pulumi destroy` leaves no container.
PYTHONPATH is left unset: the package's plugin and the example's dynamic-provider plugin find the repo alone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi import automation as auto

from tests.e2e import slots
from tests.e2e.pulumi_cli import REPO, PulumiCli, engine_env
from tests.e2e.site import COMMANDS, DOMAIN, docker_names, get, missing_plugin, vm_sh

pytestmark = pytest.mark.e2e

STACK = slots.TS_STACK
HTTP_PORT = slots.TS_HTTP_PORT
NETWORK = f"wayshub-{STACK}"
EXAMPLE = REPO / "examples" / "typescript-program"
SECRET = "ts-secret-value-7f3a"  # an app secret set in the TypeScript program's stack config
# What scripts/ensure-language-nodejs says when this machine cannot set Node up (the skip reasons); any other
# failure of it fails the test.
CANNOT_SET_UP = ("npm is needed once", "no Go toolchain", "npm pack")
# The plugins the package's plugin lists as required (every pulumi_* package of its Python): installed into
# the test's PULUMI_HOME from PATH (scripts/ensure-plugins), as a user without a network would.
REQUIRED_PLUGINS = {"command": "pulumi_command", "docker": "pulumi_docker"}


@dataclass(frozen=True)
class PathCli(PulumiCli):
    """The engine as the environment's PATH has it. The harness's Automation API runs the engine by its path,
    which puts the engine's folder first on PATH, before the nodejs folder whose pulumi-language-python (the
    shim in front of the engine's, scripts/ensure-language-nodejs) must come first for the package's plugin."""

    @cached_property
    def workspace(self) -> auto.LocalWorkspace:
        return auto.LocalWorkspace(
            work_dir=str(self.workdir),
            pulumi_home=self.env.get("PULUMI_HOME"),
            env_vars=self.env,
            pulumi_command=auto.PulumiCommand(skip_version_check=True),
        )


@dataclass(frozen=True)
class Deployed:
    cli: PulumiCli
    added: str  # what `pulumi package add` printed
    first_up: dict[str, int]
    seconds: dict[str, float]


def nodejs_bin(env: dict[str, str]) -> str:
    """The folder scripts/ensure-language-nodejs sets up (node, npm, the nodejs language host), else a skip."""
    ran = subprocess.run(
        [str(REPO / "scripts" / "ensure-language-nodejs")], env=env, capture_output=True, text=True, check=False
    )
    if ran.returncode != 0:
        last = (ran.stderr.strip().splitlines() or ["(no output)"])[-1]
        if any(reason in last for reason in CANNOT_SET_UP):
            pytest.skip(f"no Node toolchain for the TypeScript program: {last}")
        raise AssertionError(f"scripts/ensure-language-nodejs failed:\n{ran.stderr[-3000:]}")
    return ran.stdout.strip()


def install_required_plugins(env: dict[str, str]) -> None:
    for plugin, module in REQUIRED_PLUGINS.items():
        binary = shutil.which(f"pulumi-resource-{plugin}", path=env["PATH"])
        if binary is None:
            pytest.skip(
                f"the package's plugin requires pulumi-{plugin} {version(module)} and no pulumi-resource-{plugin} "
                "is on PATH to install (scripts/ensure-plugins builds it; `make e2e` puts it on PATH)"
            )
        subprocess.run(
            ["pulumi", "plugin", "install", "resource", plugin, version(module), "--file", binary],
            env=env,
            capture_output=True,
            check=True,
        )


def example_copy(root: Path) -> Path:
    """The example as a user's checkout has it, but outside the repo: its paths to the repo made absolute and
    no `packages:` entry yet (`pulumi package add` writes it)."""
    program = root / "program"
    shutil.copytree(EXAMPLE, program, ignore=shutil.ignore_patterns("node_modules", "sdks", "bin"))
    project = yaml.safe_load((program / "Pulumi.yaml").read_text())
    assert project["packages"] == {"wayshub": "../../package"}, "the example names the package beside it"
    assert project["plugins"]["providers"] == [{"name": "pulumi-python", "path": "../../plugins"}]
    del project["packages"]
    project["plugins"]["providers"][0]["path"] = str(REPO / "plugins")
    (program / "Pulumi.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    return program


def timed(seconds: dict[str, float], what: str, started: float) -> None:
    seconds[what] = round(time.monotonic() - started, 1)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory, sandbox_image: str) -> Iterator[Deployed]:
    root = tmp_path_factory.mktemp("typescript")
    env = {k: v for k, v in engine_env(root / "state", root / "home").items() if k != "PYTHONPATH"}
    if why := missing_plugin(env["PATH"]):
        pytest.skip(why)
    seconds: dict[str, float] = {}
    started = time.monotonic()
    env["PATH"] = f"{nodejs_bin(env)}{os.pathsep}{env['PATH']}"
    if not shutil.which("pulumi-language-nodejs", path=env["PATH"]):  # a pulumi without its hosts beside it
        pytest.skip(
            "no pulumi-language-nodejs: the pulumi on PATH ships none and scripts/ensure-pulumi did not build it"
        )
    install_required_plugins(env)
    timed(seconds, "toolchain", started)
    program = example_copy(root)
    app_project = root / "project"  # the settings' paths start here: the sample app, its releases' build/
    shutil.copytree(REPO / "app", app_project / "app", ignore=shutil.ignore_patterns("node_modules"))

    started = time.monotonic()
    added = subprocess.run(
        ["pulumi", "--non-interactive", "package", "add", str(REPO / "package")],
        cwd=program,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert added.returncode == 0, f"pulumi package add failed:\n{added.stdout[-3000:]}\n{added.stderr[-3000:]}"
    timed(seconds, "package add", started)

    cli = PathCli(program, env)
    cli.init_stack(STACK)
    settings: dict[str, str] = {
        "project": str(app_project),
        "domain": DOMAIN,
        "sandbox.image": sandbox_image,
        "sandbox.network": NETWORK,
        "sandbox.subnet": f"{slots.TS_SUBNET_PREFIX}.0/24",
        "sandbox.sshPortBase": str(slots.TS_SSH_PORT_BASE),
        "sandbox.httpPort": str(HTTP_PORT),
        "sandbox.httpsPort": str(HTTP_PORT + 1),
    }
    for key, value in settings.items():
        cli.set_config(key, value, path="." in key)
    cli.set_config("wayshub:commands", COMMANDS)
    cli.set_config("wayshub:appSecrets.API_TOKEN", SECRET, secret=True, path=True)  # and a releaseKey
    try:
        started = time.monotonic()
        first_up = cli.up().changes
        timed(seconds, "up", started)
        yield Deployed(cli=cli, added=added.stdout, first_up=first_up, seconds=seconds)
    finally:
        cli.destroy(check=False)
        for leftover in docker_names(f"label=wayshub.stack={STACK}"):
            subprocess.run(["docker", "rm", "--force", leftover], check=False)
        subprocess.run(["docker", "network", "rm", NETWORK], capture_output=True, check=False)


def test_package_add_generates_the_sdk_and_names_the_package(deployed: Deployed) -> None:
    program = deployed.cli.workdir
    assert "Successfully generated an SDK for the wayshub package" in deployed.added, deployed.added
    assert (program / "sdks" / "wayshub" / "site.ts").is_file()
    project = yaml.safe_load((program / "Pulumi.yaml").read_text())
    assert project["packages"] == {"wayshub": str(REPO / "package")}


def test_the_up_deploys_the_site_and_both_backends_answer(deployed: Deployed) -> None:
    assert deployed.first_up.get("create", 0) > 30, deployed.first_up
    seen: dict[str, str] = {}
    for _ in range(40):
        answer = get("/", port=HTTP_PORT, domain=DOMAIN)
        assert answer.status == 200, answer
        seen[answer.backend] = answer.release
        if len(seen) == 2:
            break
    assert sorted(seen) == ["app1", "app2"], f"backends that answered through the LB: {seen}"
    outputs: dict[str, Any] = deployed.cli.outputs()
    assert outputs["url"] == f"http://{DOMAIN}:{HTTP_PORT}/"
    assert outputs["curl"].endswith(f"--resolve {DOMAIN}:{HTTP_PORT}:127.0.0.1 {outputs['url']}")
    assert len(outputs["backends"]) == 2 and all(b.endswith(":3000") for b in outputs["backends"])
    assert set(seen.values()) == {outputs["release"]}, "every backend serves the release the Site reports"
    assert outputs["lbAddress"].startswith(f"{slots.TS_SUBNET_PREFIX}.")
    print(f"typescript program: timings {deployed.seconds}")  # -s shows where the time goes


def test_the_app_secret_from_the_programs_config_reaches_the_app_and_not_the_state(deployed: Deployed) -> None:
    for server in ("app1", "app2"):
        env_file = vm_sh(f"wayshub-{STACK}-{server}", "cat /opt/wayshub/current/env").stdout
        assert f"API_TOKEN={SECRET}" in env_file.splitlines(), server
    assert SECRET not in deployed.cli.run("stack", "export").stdout


def test_a_bad_setting_is_one_line_at_preview(deployed: Deployed) -> None:
    cli = deployed.cli
    cli.set_config("domain", "bad_domain..test")
    try:
        ran = cli.preview(check=False)
    finally:
        cli.set_config("domain", DOMAIN)
    assert ran.returncode != 0
    errors = [line.strip() for line in ran.output.splitlines() if "error:" in line]
    assert errors, ran.output[-3000:]
    assert errors[-1] == (
        "error: wayshub:index:Site resource 'site' has a problem: wayshub:domain: 'bad_domain..test' is not a "
        "domain name such as 'wayshub.local'"
    ), ran.output[-3000:]
    assert "Traceback" not in ran.output and 'File "' not in ran.output


def test_destroy_leaves_no_container(deployed: Deployed) -> None:
    cli = deployed.cli
    again = cli.preview()
    assert set(again.changes) == {"same"}, f"a preview after the up changes: {again.changes}"
    destroyed = cli.destroy().changes
    assert destroyed.get("delete", 0) == sum(deployed.first_up.values()), destroyed
    assert docker_names(f"label=wayshub.stack={STACK}") == []
    assert cli.resources() == []
