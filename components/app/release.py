"""Build the app release ONCE where ``pulumi up`` runs: ``npm ci --omit=dev``, packed reproducibly.

The release id is a hash of the app's source (not of the built tree), so it is known cheaply in a
preview and every server gets byte-identical code. Built tarballs are cached by id under ``build/``.
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

# Never part of a release: local installs, VCS data, the app's own tests.
EXCLUDED = frozenset({"node_modules", ".git", "test"})
RELEASE_ID_LENGTH = 12


@dataclass(frozen=True)
class Release:
    """``tarball`` is None for a pinned release: one already on the servers (rollback)."""

    id: str
    tarball: Path | None


def pinned_release(release_id: str) -> Release:
    return Release(release_id, None)


def source_files(source: Path, excluded: frozenset[str] = EXCLUDED) -> list[Path]:
    """The app's files in path order, without folders named in ``excluded``."""
    files = [
        path
        for path in source.rglob("*")
        if path.is_file() and not excluded.intersection(path.relative_to(source).parts)
    ]
    return sorted(files, key=lambda p: p.relative_to(source).as_posix())


def release_id(source: Path) -> str:
    """Hash of every source file's path and bytes."""
    digest = hashlib.sha256()
    for path in source_files(source):
        digest.update(path.relative_to(source).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
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


def build_release(source: Path, out_dir: Path, app_name: str) -> Release:
    """The release for ``source``: reused from ``out_dir`` when already built."""
    if not (source / "package.json").is_file():
        raise FileNotFoundError(f"wayshub:app.source: {source} has no package.json")
    if not (source / "package-lock.json").is_file():
        raise FileNotFoundError(f"wayshub:app.source: {source} has no package-lock.json (npm ci needs one)")
    rid = release_id(source)
    tarball = out_dir / f"{app_name}-{rid}.tar.gz"
    if tarball.is_file():
        return Release(rid, tarball)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="wayshub-release-") as tmp:
        tree = Path(tmp) / "release"
        tree.mkdir()
        for path in source_files(source):
            target = tree / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        (tree / "RELEASE").write_text(rid + "\n")
        npm = subprocess.run(
            ["npm", "ci", "--omit=dev", "--no-audit", "--no-fund"], cwd=tree, capture_output=True, text=True
        )
        if npm.returncode != 0:
            raise RuntimeError(f"npm ci --omit=dev failed for {source}:\n{npm.stderr[-3000:]}")
        _pack(tree, tarball)
    return Release(rid, tarball)
