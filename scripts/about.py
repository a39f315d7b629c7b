"""`make about`: one screen of what a bug report needs, read from this machine without changing it.

The commit, the OS and kernel, the user, Python, the Pulumi engine the Makefile uses (a `pulumi` on PATH,
else the one scripts/ensure-pulumi built into .wayshub/bin), its Python language host, the Python SDK and
the other packages requirements.txt pins (as the venv has them), the resource plugins the engine sees,
Docker, and the sandbox VM image.

It builds, installs, starts and downloads nothing (no `make engine`, no `scripts/sandbox-image`), works as
root or as a normal user, and never fails: a missing piece is a line saying so ("not installed",
"not running", "not built"), and the exit status is 0. A command that does not answer within
``WAYSHUB_ABOUT_TIMEOUT`` seconds (default 15; a hung Docker engine, say) is reported as such.
"""

from __future__ import annotations

import functools
import grp
import json
import os
import platform
import pwd
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV_PYTHON = REPO / "venv" / "bin" / "python"
ENGINE_LINK = REPO / ".wayshub" / "bin"
DEFAULT_IMAGE = "wayshub/sandbox-vm:bookworm"
TIMEOUT = float(os.environ.get("WAYSHUB_ABOUT_TIMEOUT", "15"))
WIDTH = 100


class Missing(Exception):
    """A piece that is not there (or does not answer): its message is the line's text."""


def run(argv: Sequence[str], env: dict[str, str] | None = None, partial: bool = False) -> str:
    """A command's stdout; :class:`Missing` saying why when it is not installed, hangs or fails (with
    ``partial``, a failed command's stdout still counts when it printed one)."""
    try:
        done = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=TIMEOUT, env=env, cwd=REPO, check=False
        )
    except FileNotFoundError:
        raise Missing("not installed") from None
    except PermissionError:
        raise Missing(f"{argv[0]} cannot be run by this user") from None
    except subprocess.TimeoutExpired:
        raise Missing(f"no answer from `{' '.join(argv[:2])}` in {TIMEOUT:g} s") from None
    if done.returncode != 0 and not (partial and done.stdout.strip()):
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise Missing(lines[-1] if lines else f"`{' '.join(argv[:2])}` exited {done.returncode}")
    return done.stdout.strip()


def shown(path: Path | str) -> str:
    """A path as short as it reads: relative to the repository when inside it."""
    try:
        return str(Path(path).relative_to(REPO))
    except ValueError:
        return str(path)


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


def engine() -> Path:
    """The `pulumi` the Makefile runs (scripts/ensure-pulumi: one on PATH first, else .wayshub/bin's)."""
    if os.environ.get("WAYSHUB_FORCE_ENGINE_BUILD", "0") != "1":
        path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if Path(p) != ENGINE_LINK)
        found = shutil.which("pulumi", path=path)
        if found:
            return Path(found)
    built = ENGINE_LINK / "pulumi"
    if os.access(built, os.X_OK):
        return built
    if os.path.islink(ENGINE_LINK):
        raise Missing(f"{shown(built)} (-> {os.readlink(ENGINE_LINK)}) cannot be run by this user")
    raise Missing("not installed (`make engine` finds or builds it)")


def engine_line() -> str:
    pulumi = engine()
    where = shown(pulumi) + (f" -> {pulumi.resolve().parent}" if pulumi.parent == ENGINE_LINK else "")
    return f"{run([str(pulumi), 'version'], env=pulumi_env())} ({where})"


def language_host_line() -> str:
    """The language host the engine starts: the one beside it (as the Makefile's PATH has it), else on PATH."""
    beside = engine().parent / "pulumi-language-python"
    host = str(beside) if os.access(beside, os.X_OK) else shutil.which("pulumi-language-python")
    if host is None:
        raise Missing("pulumi-language-python not installed")
    return f"pulumi-language-python {go_module_version(Path(host))} ({shown(host)}); runs the venv's python3"


def go_module_version(binary: Path) -> str:
    """The version a Go binary was built at, from its embedded build info (no Go toolchain needed)."""
    try:
        data = binary.read_bytes()
    except OSError as err:
        raise Missing(f"{shown(binary)} unreadable: {err.strerror}") from None
    main = re.search(rb"\nmod\t(\S+)\t(\S+)", data)
    sdk = re.search(rb"\n(?:mod|dep)\tgithub\.com/pulumi/pulumi/sdk/v3\t(v\S+)", data)
    if main and main.group(2).startswith(b"v"):
        return main.group(2).decode()
    return f"sdk {sdk.group(1).decode()}" if sdk else "version unknown"


def pulumi_env() -> dict[str, str]:
    """The Makefile's settings for the engine (its own Pulumi home; no update check, no downloads)."""
    env = dict(os.environ)
    env.setdefault("PULUMI_HOME", str(REPO / ".wayshub" / "pulumi-home"))
    env["PULUMI_SKIP_UPDATE_CHECK"] = "true"
    env.setdefault("PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION", "true")
    return env


def plugins_line() -> str:
    project = sorted(p.name for p in (REPO / "plugins").glob("pulumi-resource-*") if os.access(p, os.X_OK))
    ours = f"plugins/ (Pulumi.yaml): {', '.join(project) or 'none'}"
    try:
        listing = run([str(engine()), "plugin", "ls"], env=pulumi_env())
    except Missing as why:
        return f"{ours}; plugin cache: {why}"
    rows = [line.split() for line in listing.splitlines()[1:] if line.strip() and not line.startswith("TOTAL")]
    cached = ", ".join(f"{row[0]} {row[1]} {row[2]}" for row in rows if len(row) >= 3) or "none"
    return f"{ours}; plugin cache (`pulumi plugin ls`): {cached}"


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
