"""The app's code, built ONCE where ``pulumi up`` runs, and the release id every server switches to.

Build: copy the source, install (``npm ci``, or ``npm install`` without a lockfile), run the optional
build script, prune dev dependencies, pack reproducibly. The build id is a hash of the source and the
recipe (not of the built tree), so a preview knows it without building (it never runs npm: see
``planned_build``); built tarballs are cached by id.

A *release* is more than code: the command line, the environment, the Node version and the unit come
with it. Its id hashes all of them, so changing any one makes a new release folder on the servers and
``current`` switches everything at once. Secret values enter the id only through an HMAC keyed by the
stack's own random secret ``wayshub:releaseKey``: the id is public (outputs, folder names, PR comments), and
without the key nobody can test a guess of a secret against it offline (docs/security.md).
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from components.app.app_spec import AppSpec

# Never part of a release: local installs and VCS data anywhere, the app's own tests at the top.
EXCLUDED_ANYWHERE = frozenset({"node_modules", ".git"})
EXCLUDED_AT_TOP = frozenset({"test", "tests"})
RELEASE_ID_LENGTH = 12


@dataclass(frozen=True)
class Build:
    """The app's code with its production dependencies, as a tarball."""

    id: str
    tarball: Path


@dataclass(frozen=True)
class Release:
    """What one release runs. ``build`` is None for a pinned release: one already on the servers."""

    id: str
    build: Build | None


def pinned_release(release_id: str) -> Release:
    return Release(release_id, None)


def source_files(source: Path, excluded: frozenset[str] = EXCLUDED_ANYWHERE) -> list[Path]:
    """The app's files in path order, without folders named in ``excluded`` and top-level test folders."""
    files = []
    for path in source.rglob("*"):
        parts = path.relative_to(source).parts
        if path.is_file() and not excluded.intersection(parts) and parts[0] not in EXCLUDED_AT_TOP:
            files.append(path)
    return sorted(files, key=lambda p: p.relative_to(source).as_posix())


def build_id(source: Path, recipe: str = "") -> str:
    """Hash of the recipe and every source file's path and bytes."""
    digest = hashlib.sha256(recipe.encode() + b"\0")
    for path in source_files(source):
        digest.update(path.relative_to(source).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:RELEASE_ID_LENGTH]


def release_id(parts: Sequence[str], secrets: Mapping[str, str], key: str | None) -> str:
    """The id of a release made of ``parts`` (build id, Node, command, env, unit) and ``secrets``.

    The secrets enter only through HMAC-SHA256 under ``key`` (the stack's random ``wayshub:releaseKey``), so
    the id (public: folder names, outputs) changes when a secret does and reveals nothing about it to anyone
    without the key: a salt in the open (as before) let a guess be checked offline, however slow the hash.
    """
    digest = hashlib.sha256(json.dumps(list(parts)).encode())
    if secrets:
        if not key:
            raise ValueError("secrets need the release key")  # components/config/checks.py says it first
        secret_text = json.dumps(dict(secrets), sort_keys=True).encode()
        digest.update(hmac.new(key.encode(), secret_text, hashlib.sha256).digest())
    return digest.hexdigest()[:RELEASE_ID_LENGTH]


def _reset(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mtime = 0
    return info


def _pack(tree: Path, tarball: Path) -> None:
    """A tar.gz whose bytes depend only on the tree's content (sorted, no times, no owners)."""
    partial = tarball.with_suffix(".partial")
    with (
        open(partial, "wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as zipped,
        tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as archive,
    ):
        for path in sorted(tree.rglob("*"), key=lambda p: p.relative_to(tree).as_posix()):
            archive.add(path, arcname=path.relative_to(tree).as_posix(), recursive=False, filter=_reset)
    partial.replace(tarball)


def _npm(tree: Path, *argv: str) -> None:
    """Run one npm command line (``argv`` starts with ``npm``) in the build tree."""
    result = subprocess.run([*argv, "--no-audit", "--no-fund"], cwd=tree, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed in the release build:\n{result.stderr[-3000:]}")


def planned_build(app: AppSpec, out_dir: Path, app_name: str) -> Build:
    """The build ``build_code`` makes (its id and tarball path), from the source alone: nothing runs.

    A preview uses this: the app's install and build scripts are the app's code (a pull request's, in a
    preview job), so they run only on ``up``; the id, and so the release id, is the same either way.
    """
    bid = build_id(app.source, app.recipe)
    return Build(bid, out_dir / f"{app_name}-{bid}.tar.gz")


def build_code(app: AppSpec, out_dir: Path, app_name: str) -> Build:
    """The app's code built by ``app``'s recipe: reused from ``out_dir`` when already built."""
    build = planned_build(app, out_dir, app_name)
    tarball = build.tarball
    if tarball.is_file():
        return build
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="wayshub-release-") as tmp:
        tree = Path(tmp) / "release"
        tree.mkdir()
        for path in source_files(app.source):
            target = tree / path.relative_to(app.source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        if app.build_script:
            _npm(tree, *app.install)
            _npm(tree, "npm", "run", app.build_script)
            _npm(tree, "npm", "prune", "--omit=dev")
        else:
            _npm(tree, *app.install, "--omit=dev")
        _pack(tree, tarball)
    return build
