"""The images' build contexts: a clean, staged copy of the app (no node_modules, no tests) with its
Dockerfile, the nginx image's folder, and the digest of what decides each image (its tag)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from components.app.app_spec import NPM_LOCKFILES
from components.app.release import source_files
from components.assets import TOP, asset_dir

REPO = TOP
IMAGES_DIR = asset_dir("images")
APP_DOCKERFILE = IMAGES_DIR / "app" / "Dockerfile"
NGINX_CONTEXT = IMAGES_DIR / "nginx"

NPM_CACHE_DIR = ".npm-cache"
# Never part of an app image: local installs, VCS data, the app's own tests (as for VM releases).
APP_CONTEXT_EXCLUDED = frozenset({"node_modules", ".git", "test", NPM_CACHE_DIR})
DIGEST_LENGTH = 12


@dataclass(frozen=True)
class BuildContext:
    """A folder to build from, and a digest of everything that decides the image (the image's tag)."""

    path: Path
    dockerfile: Path
    digest: str


def digest_of(files: Mapping[str, bytes], *extra: str) -> str:
    """sha256 over (name, bytes) pairs in name order and extra strings (e.g. the base image)."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    for text in extra:
        digest.update(b"\1" + text.encode())
    return digest.hexdigest()[:DIGEST_LENGTH]


def _fill_npm_cache(context: Path) -> None:
    """``npm ci`` here (this machine's npm and registry access) into the context's npm cache: every dependency,
    dev ones too (a build script may need them)."""
    with tempfile.TemporaryDirectory(prefix="wayshub-npm-") as tmp:
        for name in ("package.json", *NPM_LOCKFILES):
            if (context / name).is_file():
                shutil.copy2(context / name, Path(tmp) / name)
        npm = subprocess.run(
            ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund",
             "--cache", str(context / NPM_CACHE_DIR)],
            cwd=tmp, capture_output=True, text=True, check=False,
        )  # fmt: skip
    if npm.returncode != 0:
        raise RuntimeError(f"npm ci (filling the build's npm cache) failed:\n{npm.stderr[-3000:]}")
    shutil.rmtree(context / NPM_CACHE_DIR / "_logs", ignore_errors=True)


def stage_app_context(
    source: Path,
    out_dir: Path,
    base: str,
    prefetch_npm: bool = False,
    dockerfile: Path = APP_DOCKERFILE,
    extra: Mapping[str, Path] | None = None,
    build_args: Mapping[str, str] | None = None,
) -> BuildContext:
    """A clean build context for the app image: its sources (no node_modules, no tests), the Dockerfile and
    ``extra`` files (context path → file: the Node package), its digest covering the build args too.

    Staged once per digest under ``out_dir`` (the folder is renamed into place when complete), so a
    second ``pulumi up`` finds the same folder, with the same bytes, and the image is not rebuilt.
    """
    if not (source / "package.json").is_file() and dockerfile == APP_DOCKERFILE:
        raise FileNotFoundError(f"{source}: the app needs a package.json")
    if prefetch_npm and not any((source / name).is_file() for name in NPM_LOCKFILES):
        raise FileNotFoundError(f"{source}: containers.prefetchNpm needs a package-lock.json (npm ci)")
    files = {p.relative_to(source).as_posix(): p.read_bytes() for p in source_files(source, APP_CONTEXT_EXCLUDED)}
    files.update({name: path.read_bytes() for name, path in (extra or {}).items()})
    args = [f"{k}={v}" for k, v in sorted((build_args or {}).items())]
    digest = digest_of({**files, "\0Dockerfile": dockerfile.read_bytes()}, f"base={base}", *args)
    path = out_dir / (f"app-{digest}-npm" if prefetch_npm else f"app-{digest}")
    if not path.is_dir():
        out_dir.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=out_dir))
        try:
            for name, data in files.items():
                (partial / name).parent.mkdir(parents=True, exist_ok=True)
                (partial / name).write_bytes(data)
            shutil.copyfile(dockerfile, partial / "Dockerfile")
            if prefetch_npm:
                _fill_npm_cache(partial)
            partial.chmod(0o755)
            partial.rename(path)
        except OSError:
            shutil.rmtree(partial, ignore_errors=True)
            if not path.is_dir():  # not another run staging the same digest at the same time
                raise
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
    return BuildContext(path=path, dockerfile=path / "Dockerfile", digest=digest)


def nginx_context(base: str, context: Path = NGINX_CONTEXT) -> BuildContext:
    dockerfile = context / "Dockerfile"
    return BuildContext(
        path=context, dockerfile=dockerfile, digest=digest_of({"Dockerfile": dockerfile.read_bytes()}, f"base={base}")
    )
