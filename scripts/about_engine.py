"""scripts/about's lines on the Pulumi engine: the `pulumi` the Makefile runs, its Python language host, and
the resource plugins it sees (asked with `version` and `plugin ls` only; nothing is built or downloaded).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from about_probe import REPO, Missing, run, shown

ENGINE_LINK = REPO / ".wayshub" / "bin"


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
