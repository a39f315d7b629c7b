"""scripts/ensure-pulumi and the Makefile's use of it, in a shell whose PATH has neither Go nor a pulumi (a
new terminal after `make up` on a laptop): a cached engine is found without Go, and without one a make target
stops at the script's one line, before its own commands.

The script runs from a copy of the project's files it reads (itself, the two go.sum files), so its cache and
its `.wayshub/bin` link live under tmp_path. The engine in the cache is a stand-in `pulumi` that answers
`version` (building the real one takes minutes and needs Go, which is the point here)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLAIN_PATH = "/usr/bin:/bin"  # make, bash, coreutils; no Go (/usr/local/go/bin), no engine
NO_TOOLCHAIN = (
    "ensure-pulumi: error: no pulumi on PATH and no Go toolchain to build one: "
    "install pulumi (https://www.pulumi.com/docs/install/) or Go 1.26+"
)

pytestmark = pytest.mark.skipif(
    any(shutil.which(tool, path=PLAIN_PATH) for tool in ("go", "pulumi", "actionlint")),
    reason=f"{PLAIN_PATH} holds go, pulumi or actionlint here: no PATH without them to test with",
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    for name in ("scripts/ensure-pulumi", "tools/pulumi-cli/go.sum", "tools/pulumi-language-python/go.sum"):
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, repo / name)
    return repo


def ensure(project: Path, path: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": path, "HOME": str(project.parent), "WAYSHUB_CACHE": str(project.parent / "cache")}
    return subprocess.run(
        [str(project / "scripts/ensure-pulumi")], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def cached_engine(project: Path) -> Path:
    """The engine folder the script looks for, found by letting it start a build with a `go` that fails at
    once (the build folder it makes sits next to the cache entry), then filled with a complete engine."""
    fake_go = project.parent / "fake-go"
    fake_go.mkdir()
    (fake_go / "go").write_text("#!/bin/sh\nexit 1\n")
    (fake_go / "go").chmod(0o755)
    assert ensure(project, f"{fake_go}:{PLAIN_PATH}").returncode == 1
    (partial,) = (project.parent / "cache" / "engine").glob("*/bin.partial")
    engine = partial.with_name("bin")
    engine.mkdir()
    (engine / "pulumi").write_text('#!/bin/sh\n[ "$1" = version ] && echo v3.274.1\n')
    (engine / "pulumi-language-python").write_text("#!/bin/sh\n")
    for tool in ("pulumi", "pulumi-language-python"):
        (engine / tool).chmod(0o755)
    (engine / ".complete").touch()
    return engine


def test_a_cached_engine_is_found_without_go(project: Path) -> None:
    engine = cached_engine(project)
    result = ensure(project, PLAIN_PATH)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{project}/.wayshub/bin\n"
    assert (project / ".wayshub" / "bin").resolve() == engine.resolve()
    assert "engine cached at" in result.stderr and "error" not in result.stderr


def test_no_engine_and_no_go_is_one_line(project: Path) -> None:
    result = ensure(project, PLAIN_PATH)
    assert (result.returncode, result.stdout, result.stderr) == (1, "", NO_TOOLCHAIN + "\n")


def test_the_cache_key_ignores_comments_and_the_rest_of_the_script(project: Path) -> None:
    engine = cached_engine(project)
    script = project / "scripts" / "ensure-pulumi"
    script.write_text(script.read_text().replace("# Builds the CLI", "# A changed comment. Builds the CLI", 1))
    assert ensure(project, PLAIN_PATH).returncode == 0
    build_step = '-o "$tmp/pulumi" github.com'
    script.write_text(script.read_text().replace(build_step, build_step.replace("-o", "-v -o"), 1))
    assert ensure(project, PLAIN_PATH).stderr == NO_TOOLCHAIN + "\n", "a changed build step must not use " + str(engine)


@pytest.mark.parametrize("target", ["status", "logs", "exec CMD=uptime", "ssh HOST=app1", "up"])
def test_a_make_target_stops_at_the_engine_line(project: Path, target: str) -> None:
    """The Makefile's first failed prerequisite is the only thing a target prints: no Python, no traceback."""
    shutil.copy2(ROOT / "Makefile", project / "Makefile")
    for name in ("requirements.txt", "requirements-dev.txt"):  # older than the venv: make leaves it be
        shutil.copy2(ROOT / name, project / name)
        os.utime(project / name, (0, 0))
    venv = Path(sys.prefix)  # the venv running these tests
    if not (venv / ".installed").exists():
        pytest.skip(f"no venv made by `make venv` at {venv}")
    env = {"PATH": PLAIN_PATH, "HOME": str(project.parent), "WAYSHUB_CACHE": str(project.parent / "cache")}
    result = subprocess.run(
        ["make", "--no-print-directory", *target.split(), f"VENV={venv}"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    lines = result.stderr.splitlines()
    assert lines[0] == NO_TOOLCHAIN, result.stderr
    assert len(lines) == 2 and re.fullmatch(
        r"Makefile:\d+: \*\*\* no Pulumi engine: see the line above\.  Stop\.", lines[1]
    )


def test_make_lint_without_actionlint_or_go_is_one_line(project: Path) -> None:
    shutil.copy2(ROOT / "Makefile", project / "Makefile")
    for name in ("requirements.txt", "requirements-dev.txt"):
        shutil.copy2(ROOT / name, project / name)
        os.utime(project / name, (0, 0))
    (project / "venv").mkdir()
    (project / "venv" / ".installed").touch()  # a venv as `make venv` leaves it, without actionlint
    result = subprocess.run(
        ["make", "--no-print-directory", "lint"],
        cwd=project,
        env={"PATH": PLAIN_PATH, "HOME": str(project.parent)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert result.stderr.splitlines()[0] == (
        "make lint: no actionlint on PATH and no Go toolchain to build one: "
        "install actionlint v1.7.12 (https://github.com/rhysd/actionlint) or Go 1.26+"
    ), result.stderr
