"""examples/python-program: a program of one's own (its own name, settings and resource) that installs wayshub
as a package and declares a Site beside its own resource (docs/package.md).

The project is built into a wheel and installed into the example's own virtualenv (the wheel's components,
templates and scripts, not this checkout's: nothing puts the checkout on the program's path; the wheel's
dependencies come from the project venv through a .pth file, as pip would have installed the same pins). The
program deploys two sandbox app servers and the LB; its own smoke test gets the page through the LB; both
backends answer; a second preview changes nothing; destroy leaves no container.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.e2e import slots
from tests.e2e.pulumi_cli import REPO, PulumiCli, engine_env
from tests.e2e.site import docker_names, get

pytestmark = pytest.mark.e2e

EXAMPLE = REPO / "examples" / "python-program"
STACK = slots.PYTHON_PROGRAM_STACK
DOMAIN = "shop.test"


@dataclass(frozen=True)
class Program:
    cli: PulumiCli
    project: Path
    python: Path


# What the wheel is built from (pyproject.toml); a copy, as setuptools writes its build/ and egg-info beside it.
SOURCES = ("pyproject.toml", "README.md", "requirements.txt", "components", "wayshub", "templates", "images")


def build_wheel(into: Path) -> Path:
    """The project's wheel, as `pip install <this folder>` builds it (setuptools fetched by pip, cached)."""
    tree = into / "source"
    tree.mkdir(parents=True)
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, tree / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(REPO / name, tree / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    subprocess.run([*pip, "wheel", "-q", "--no-deps", "-w", str(into), str(tree)], check=True, capture_output=True)
    return next(into.glob("wayshub_infra-*.whl"))


def example_venv(project: Path, wheel: Path) -> Path:
    """The example's venv with the wheel installed; its dependencies are the project venv's packages."""
    subprocess.run([sys.executable, "-m", "venv", str(project / "venv")], check=True)
    python = project / "venv" / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--disable-pip-version-check", str(wheel)], check=True
    )
    site_packages = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (site_packages / "wayshub-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory, sandbox_image: str) -> Iterator[Program]:
    root = tmp_path_factory.mktemp("python-program")
    project = root / "shop"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("venv", "build", "__pycache__"))
    shutil.copytree(REPO / "app", root / "app", ignore=shutil.ignore_patterns("node_modules"))
    python = example_venv(project, build_wheel(root / "wheel"))
    env = engine_env(root / "state", root / "home")
    # The wheel's code, not the checkout's; the example's venv first on PATH, as the language host the engine
    # build has runs `python3` from PATH (docs/architecture.md; an official CLI reads Pulumi.yaml's virtualenv).
    env = {**env, "PYTHONPATH": "", "PATH": f"{python.parent}:{env['PATH']}"}
    config = {
        "shop-platform:domain": DOMAIN,
        "shop-platform:appSource": "../app",
        "shop-platform:sandbox": {
            "image": sandbox_image,
            "network": f"wayshub-{STACK}",
            "subnet": f"{slots.PYTHON_PROGRAM_SUBNET_PREFIX}.0/24",
            "sshPortBase": slots.PYTHON_PROGRAM_SSH_PORT_BASE,
            "httpPort": slots.PYTHON_PROGRAM_HTTP_PORT,
            "httpsPort": slots.PYTHON_PROGRAM_HTTP_PORT + 1,
        },
    }
    (project / f"Pulumi.{STACK}.yaml").write_text(yaml.safe_dump({"config": config}, sort_keys=True))
    cli = PulumiCli(project, env)
    cli.init_stack(STACK)
    try:
        cli.up()
        yield Program(cli, project, python)
    finally:
        cli.destroy(check=False)
        for leftover in docker_names(f"label=wayshub.stack={STACK}"):
            subprocess.run(["docker", "rm", "--force", leftover], check=False)
        subprocess.run(["docker", "network", "rm", f"wayshub-{STACK}"], capture_output=True, check=False)


def test_the_package_comes_from_the_wheel_not_the_checkout(program: Program) -> None:
    where = subprocess.run(
        [str(program.python), "-c", "import components, wayshub; print(components.__file__, wayshub.__version__)"],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
        cwd=program.project,
    ).stdout.split()
    assert Path(where[0]).is_relative_to(program.project / "venv"), where
    assert where[1] == tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"], where


def test_the_program_deploys_the_site_beside_its_own_resource_and_both_backends_answer(program: Program) -> None:
    outputs = program.cli.outputs()
    assert outputs["url"] == f"http://{DOMAIN}:{slots.PYTHON_PROGRAM_HTTP_PORT}/"
    assert "<html" in outputs["smoke_test"].lower(), outputs["smoke_test"][:300]  # its own resource, after the site
    assert len(outputs["backends"]) == 2
    seen = {get(port=slots.PYTHON_PROGRAM_HTTP_PORT, domain=DOMAIN).backend for _ in range(12)}
    assert seen == {"app1", "app2"}, seen
    types = {r["type"] for r in program.cli.resources()}
    assert {"wayshub:index:Site", "command:local:Command"} <= types


def test_a_second_preview_changes_nothing(program: Program) -> None:
    changes = [(s.op, s.name) for s in program.cli.preview_steps() if s.op != "same"]
    assert changes == [], changes
