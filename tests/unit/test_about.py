"""scripts/about (`make about`): every line is printed and the exit status is 0 whatever is missing (no
docker on PATH, a Docker engine that is down, a clone with nothing set up, a user who cannot run root's
venv and engine), and it builds nothing."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "about"
# As the executable does: scripts/ is a folder of tools, not a package.
sys.path.insert(0, str(REPO / "scripts"))
from about import LABELS  # noqa: E402

NOBODY = 65534
DOCKER_DOWN = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"


def tools(folder: Path, *names: str) -> Path:
    """``folder`` holding links to the named tools this machine has (and nothing else)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        found = shutil.which(name)
        if found:
            (folder / name).symlink_to(found)
    return folder


def about(path: Path | str, script: Path = SCRIPT, argv0: Sequence[str] = ()) -> dict[str, str]:
    """Run the script with only ``path`` on PATH; its lines by label (continuation lines joined)."""
    env = {"PATH": str(path), "HOME": os.environ.get("HOME", "/"), "WAYSHUB_ABOUT_TIMEOUT": "20"}
    done = subprocess.run(
        [*argv0, sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    header, *body = done.stdout.splitlines()
    assert "bug report" in header
    lines: dict[str, str] = {}
    label = ""
    for line in body:
        match = re.match(r"^([a-z][a-z ]*): +(.*)$", line)
        if match and not line.startswith(" "):
            label = match.group(1)
            assert label not in lines, f"{label} printed twice:\n{done.stdout}"
            lines[label] = match.group(2)
        else:
            assert label and line.startswith(" "), f"a line of no label: {line!r}\n{done.stdout}"
            lines[label] += " " + line.strip()
    assert list(lines) == list(LABELS), done.stdout
    assert all(text.strip() for text in lines.values()), done.stdout
    assert not any(text.startswith("unknown (") and "Error" in text for text in lines.values()), done.stdout
    return lines


def test_without_docker_on_path_every_line_is_printed_and_docker_is_not_installed(tmp_path: Path) -> None:
    lines = about(tools(tmp_path / "bin", "git", "pulumi"))
    assert lines["docker"] == "not installed"
    assert lines["sandbox image"].endswith(": unknown (docker not installed)")
    assert re.match(r"^[0-9a-f]{12} \(branch ", lines["commit"]) or "git" in lines["commit"]


def test_a_docker_engine_that_is_down_is_not_running(tmp_path: Path) -> None:
    folder = tools(tmp_path / "bin", "git")
    docker = folder / "docker"
    # The real CLI prints the client's part, then fails, when no engine answers.
    docker.write_text(f"#!/bin/sh\ncase \"$*\" in *Client*) echo 99.1.0 ;; esac\necho '{DOCKER_DOWN}' >&2\nexit 1\n")
    docker.chmod(0o755)
    lines = about(folder)
    assert lines["docker"] == "client 99.1.0, server not running"
    assert lines["sandbox image"].endswith(": unknown (docker not running)")


def test_a_clone_with_nothing_set_up_still_prints_every_line(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    (clone / "scripts").mkdir(parents=True)
    for name in ("about", "about.py", "about_engine.py", "about_probe.py", "sandbox-image"):
        shutil.copy2(REPO / "scripts" / name, clone / "scripts" / name)
    shutil.copy2(REPO / "requirements.txt", clone)
    lines = about(tmp_path / "empty-path", script=clone / "scripts" / "about")
    assert lines["commit"] == "unknown (git: not installed)"
    assert lines["python"].startswith("venv: venv not installed")
    assert lines["pulumi engine"].startswith("not installed")
    assert lines["language host"].startswith("not installed")
    assert lines["python sdk"].startswith("venv not installed")
    assert lines["plugins"].endswith("plugin cache: not installed (`make engine` finds or builds it)")
    assert lines["docker"] == "not installed"
    assert lines["sandbox image"] == "wayshub/sandbox-vm:bookworm: unknown (docker not installed)"


def test_a_user_who_cannot_run_roots_venv_or_engine_gets_every_line() -> None:
    if os.geteuid() != 0:
        pytest.skip("not root: this user is the normal user already (the other tests run as it)")
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot become an unprivileged user")
    if not all(os.access(p, os.X_OK) for p in [*SCRIPT.parents]):
        pytest.skip("the checkout is not reachable by other users")
    python = Path(sys.executable).resolve()
    argv0 = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    done = subprocess.run([*argv0, str(python), "-c", "pass"], capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"{python} cannot be run by nobody")
    about("/usr/local/bin:/usr/bin:/bin", argv0=argv0)


def test_make_about_only_asks_and_builds_nothing(tmp_path: Path) -> None:
    """Stand-ins for docker and pulumi log every call: only version and inspect questions, no build, pull,
    run or plugin install; and the Makefile target has no prerequisite (venv, engine, docker all build)."""
    folder = tools(tmp_path / "bin", "git")
    calls = tmp_path / "calls"
    for name, answer in {
        "docker": 'case "$*" in *Client*) echo 99.1.0 ;; *Server*) echo 99.2.0 ;; image\\ inspect*) '
        "echo sha256:0123456789abcdef 2030-01-02T03:04:05.6Z recipe0123456789 ;; esac",
        "pulumi": 'case "$1" in version) echo v9.9.9 ;; plugin) echo "NAME KIND VERSION SIZE INSTALLED LAST USED";'
        " echo 'docker resource 4.5.0 1 MB 1 day ago 1 day ago' ;; esac",
    }.items():
        stand_in = folder / name
        stand_in.write_text(f'#!/bin/sh\necho "{name} $*" >> {calls}\n{answer}\n')
        stand_in.chmod(0o755)
    lines = about(folder)
    assert lines["pulumi engine"].startswith("v9.9.9 (")
    assert lines["docker"] == "client 99.1.0, server 99.2.0"
    assert lines["sandbox image"] == (
        "wayshub/sandbox-vm:bookworm: 0123456789ab (built 2030-01-02T03:04:05Z, recipe recipe012345)"
    )
    assert lines["plugins"].endswith("plugin cache (`pulumi plugin ls`): docker resource 4.5.0")
    asked = {" ".join(call.split()[:3]) for call in calls.read_text().splitlines()}
    assert asked == {"docker version --format", "docker image inspect", "pulumi version", "pulumi plugin ls"}

    makefile = (REPO / "Makefile").read_text()
    rule = re.search(r"^about:([^#\n]*)## .+\n((?:\t.*\n)+)", makefile, re.M)
    assert rule, "Makefile: no `about: ## ...` target"
    assert not rule.group(1).strip(), "`make about` must not depend on venv/engine/docker targets (they build)"
    assert rule.group(2) == "\t@scripts/about\n"
