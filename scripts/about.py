"""`make about`: one screen of what a bug report needs, read from this machine without changing it.

The commit, the OS and kernel, the user, Python, the Pulumi engine the Makefile uses (a `pulumi` on PATH,
else the one scripts/ensure-pulumi built into .wayshub/bin), its Python language host, the Python SDK and
the other packages requirements.txt pins (as the venv has them), the resource plugins the engine sees,
Docker, and the sandbox VM image.

It builds, installs, starts and downloads nothing (no `make engine`, no `scripts/sandbox-image`), works as
root or as a normal user, and never fails: a missing piece is a line saying so ("not installed",
"not running", "not built"), and the exit status is 0. A command that does not answer within
``WAYSHUB_ABOUT_TIMEOUT`` seconds (default 15; a hung Docker engine, say) is reported as such.

The engine's three lines come from scripts/about_engine.py; how a command is asked, and a missing piece
said, is scripts/about_probe.py.
"""

from __future__ import annotations

import functools
import grp
import json
import os
import platform
import pwd
import re
import sys
from collections.abc import Callable
from pathlib import Path

from about_engine import engine_line, language_host_line, plugins_line
from about_probe import REPO, Missing, run, shown

VENV_PYTHON = REPO / "venv" / "bin" / "python"
DEFAULT_IMAGE = "wayshub/sandbox-vm:bookworm"
WIDTH = 100


def commit() -> str:
    git = ["git", "-c", f"safe.directory={REPO}", "-C", str(REPO)]
    try:
        head = run([*git, "rev-parse", "HEAD"])
    except Missing as why:
        raise Missing(f"unknown (git: {why})") from None
    branch = run([*git, "rev-parse", "--abbrev-ref", "HEAD"])
    dirty = len(run([*git, "status", "--porcelain"]).splitlines())
    local = f", {dirty} uncommitted change{'s' if dirty != 1 else ''}" if dirty else ""
    return f"{head[:12]} (branch {branch}{local})"


def os_line() -> str:
    name = platform.system()
    try:
        release = Path("/etc/os-release").read_text(encoding="utf-8")
        match = re.search(r'^PRETTY_NAME="?([^"\n]*)"?', release, re.M)
        name = match.group(1) if match else name
    except OSError:
        if platform.system() == "Darwin":
            name = f"macOS {platform.mac_ver()[0]}"
    uname = platform.uname()
    return f"{name}; kernel {uname.system} {uname.release} {uname.machine}"


def user() -> str:
    uid = os.getuid()
    if uid == 0:
        return "root (uid 0)"
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = f"uid {uid} (no passwd entry)"
    try:
        in_docker = "yes" if grp.getgrnam("docker").gr_gid in os.getgroups() else "no"
    except KeyError:
        in_docker = "no docker group on this machine"
    return f"{name} (uid {uid}; in the docker group: {in_docker})"


@functools.cache
def venv_info() -> dict[str, object]:
    """The venv's Python version and the installed version of each package requirements.txt pins."""
    if not os.path.lexists(VENV_PYTHON):
        raise Missing("venv not installed (`make venv` makes it)")
    if not os.access(VENV_PYTHON, os.X_OK):
        raise Missing(f"{shown(VENV_PYTHON)} cannot be run by this user")
    probe = (
        "import importlib.metadata as m, json, sys\n"
        "def v(n):\n"
        "    try: return m.version(n)\n"
        "    except m.PackageNotFoundError: return None\n"
        "print(json.dumps({'python': sys.version.split()[0], 'packages': {n: v(n) for n in sys.argv[1:]}}))\n"
    )
    info: dict[str, object] = json.loads(run([str(VENV_PYTHON), "-c", probe, *pins()]))
    return info


def pins() -> dict[str, str]:
    """requirements.txt's pins: package → version."""
    try:
        text = (REPO / "requirements.txt").read_text(encoding="utf-8")
    except OSError:
        return {}
    return dict(re.findall(r"^([A-Za-z0-9._-]+)==([^\s#]+)", text, re.M))


def python_line() -> str:
    here = f"{platform.python_version()} ({sys.executable})"
    try:
        venv = f"venv {venv_info()['python']} ({shown(VENV_PYTHON)})"
    except Missing as why:
        venv = f"venv: {why}"
    return f"{venv}; this script: {here}"


def packages(sdk: bool) -> str:
    """The Python SDK (``pulumi``), or every other package requirements.txt pins, as the venv has them."""
    installed = venv_info()["packages"]
    assert isinstance(installed, dict)
    parts = []
    for name, pin in pins().items():
        version = installed.get(name)
        if (name == "pulumi") == sdk:
            mismatch = "" if version == pin else f" (requirements.txt pins {pin})"
            parts.append(f"{name} {version or 'not installed'}{mismatch}")
    return ", ".join(parts) or "none pinned"


@functools.cache
def docker_server() -> str:
    """The Docker engine's version; :class:`Missing` saying why none answers."""
    try:
        return run(["docker", "version", "--format", "{{.Server.Version}}"])
    except Missing as why:
        said = str(why).lower()
        if said == "not installed":
            raise
        if "permission denied" in said:
            raise Missing("not reachable: permission denied (this user is not in the docker group?)") from None
        if "cannot connect to the docker daemon" in said or "is the docker daemon running" in said:
            raise Missing("not running") from None
        raise Missing(f"not reachable: {why}") from None


def docker_line() -> str:
    # `docker version` exits 1 when no engine answers, after printing the client's part.
    client = run(["docker", "version", "--format", "{{.Client.Version}}"], partial=True)
    try:
        server = docker_server()
    except Missing as why:
        server = str(why)
    return f"client {client}, server {server}"


def sandbox_line() -> str:
    """The image scripts/sandbox-image makes (its IMAGE default), looked up without running it: it builds."""
    try:
        script = (REPO / "scripts" / "sandbox-image").read_text(encoding="utf-8")
    except OSError:
        script = ""
    match = re.search(r"^IMAGE=\$\{WAYSHUB_SANDBOX_IMAGE:-([^}]+)\}", script, re.M)
    name = os.environ.get("WAYSHUB_SANDBOX_IMAGE") or (match.group(1) if match else DEFAULT_IMAGE)
    try:
        docker_server()
    except Missing as why:
        return f"{name}: unknown (docker {why})"
    fmt = '{{.Id}} {{.Created}} {{index .Config.Labels "wayshub.recipe"}}'
    try:
        image_id, created, *recipe = run(["docker", "image", "inspect", "--format", fmt, name]).split()
    except Missing as why:
        if "no such image" in str(why).lower():
            return f"{name}: not built (`make sandbox-image` builds it)"
        return f"{name}: unknown ({why})"
    made = f", recipe {recipe[0][:12]}" if recipe and recipe[0] != "<no" else ""
    return f"{name}: {image_id.removeprefix('sha256:')[:12]} (built {created[:19]}Z{made})"


LINES: dict[str, Callable[[], str]] = {
    "commit": commit,
    "os": os_line,
    "user": user,
    "python": python_line,
    "pulumi engine": engine_line,
    "language host": language_host_line,
    "python sdk": lambda: packages(sdk=True),
    "packages": lambda: packages(sdk=False),
    "plugins": plugins_line,
    "docker": docker_line,
    "sandbox image": sandbox_line,
}
# Every label is printed, in this order, whatever is missing.
LABELS = tuple(LINES)
PAD = max(map(len, LABELS)) + 2


def wrapped(label: str, text: str) -> str:
    """``label: text``, continued under the text past :data:`WIDTH` (at a ", " or "; ")."""
    lines, line = [], ""
    for part in re.split(r"(?<=[,;]) ", text):
        if line and PAD + len(line) + 1 + len(part) > WIDTH:
            lines.append(line)
            line = part
        else:
            line = f"{line} {part}" if line else part
    lines.append(line)
    return f"{label + ':':<{PAD}}" + ("\n" + " " * PAD).join(lines)


def main() -> int:
    print("wayshub-infra, as this machine runs it (paste into a bug report):")
    for label, line in LINES.items():
        try:
            text = line()
        except Missing as why:
            text = str(why)
        except Exception as err:  # one piece's surprise must not hide the other lines
            text = f"unknown ({type(err).__name__}: {err})"
        print(wrapped(label, text), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
