"""The app image in containers mode, by the same app contract as VM mode (docs/app.md), decided before any
resource: the command that starts the app (``app.start``, else package.json's start script, else its main
file; npm scripts resolved as on VMs), the build script (``app.build``, run in the image build before dev
dependencies are pruned), and the Node (``app.nodeVersion``, else ``.nvmrc``, else ``engines.node``: the same
exact version from the npm registry's ``node-linux-<arch>`` package as VM mode's ``binary``, its tarball in the
build context and checked by its sha256 in the build; none asked for: the base's Node).

An app folder with its own ``Dockerfile`` builds with it instead (the convention people bring from Kamal and
Dokku): its image's ``CMD`` runs unless ``app.start`` is set, and ``app.build``/``app.nodeVersion`` are refused
(the Dockerfile decides them). Every problem is a ConfigError naming the setting.
"""

from __future__ import annotations

import hashlib
import platform
from dataclasses import dataclass
from pathlib import Path

from components.app.app_spec import can_exec, read_app
from components.app.node_dist import architecture, package_tarball, registry_versions, resolve
from components.config import NAMESPACE, AppConfig, ConfigError
from components.config.base import control_problem
from components.containers.build_context import BuildContext, stage_app_context

OWN_DOCKERFILE = "Dockerfile"
# In the staged build context: the Node package's tarball (images/app/Dockerfile unpacks it).
NODE_DIR = ".wayshub-node"
NODE_TARBALL = "node.tgz"


@dataclass(frozen=True)
class NodeTarball:
    version: str
    path: Path
    sha256: str


@dataclass(frozen=True)
class AppImagePlan:
    """How the app image is built and its containers started."""

    source: Path
    own_dockerfile: bool
    # The container's command (``sh -c``); None: the image's own CMD (an app's own Dockerfile, no app.start).
    start: str | None
    start_from: str
    exec_start: bool
    build_script: str | None
    node_version: str | None  # exact, from the npm registry; None: the base image's Node
    node_from: str

    @property
    def command(self) -> tuple[str, ...] | None:
        """``/bin/sh -c`` of the start command (``exec``'d when it is one simple command, so it gets signals)."""
        if self.start is None:
            return None
        return ("/bin/sh", "-c", f"exec {self.start}" if self.exec_start else self.start)

    def describe(self) -> str:
        """One line for the preview: which Dockerfile, which Node, the build script and the start command."""
        if self.own_dockerfile:
            started = f"start: {self.start} ({self.start_from})" if self.start else "start: the image's CMD"
            return f"app image: {self.source / OWN_DOCKERFILE} (the app's own Dockerfile); {started}"
        node = f"Node {self.node_version} ({self.node_from})" if self.node_version else "the base image's Node"
        build = f"; build: npm run {self.build_script}" if self.build_script else ""
        return f"app image: images/app/Dockerfile, {node}{build}; start: {self.start} ({self.start_from})"


def _refused(setting: str, source: Path) -> ConfigError:
    return ConfigError(
        f"{NAMESPACE}:app.{setting}: does not apply when {source / OWN_DOCKERFILE} (the app's own Dockerfile) "
        "builds the image: set it there, or remove it"
    )


def plan_app_image(app: AppConfig, source: Path) -> AppImagePlan:
    """The app image's recipe from the ``app`` settings and the app's folder (no download, nothing run)."""
    if (source / OWN_DOCKERFILE).is_file():
        for setting, value in (("build", app.build), ("nodeVersion", app.node_version)):
            if value is not None:
                raise _refused(setting, source)
        start = app.start.strip() if app.start else None
        if start is not None and (problem := control_problem(start)):
            raise ConfigError(f"{NAMESPACE}:app.start: {problem}")
        return AppImagePlan(source, True, start, "app.start", start is not None and can_exec(start), None, None, "")
    spec = read_app(app, source)
    version = resolve(spec.node_request, spec.node_from or "", registry_versions()) if spec.node_request else None
    return AppImagePlan(
        source=source,
        own_dockerfile=False,
        start=spec.start,
        start_from=spec.start_from,
        exec_start=spec.exec_start,
        build_script=spec.build_script,
        node_version=version,
        node_from=spec.node_from or "",
    )


def node_tarball(plan: AppImagePlan) -> NodeTarball | None:
    """The Node package for the image (downloaded once, npm's integrity check passed), for this machine's
    architecture (the Docker engine builds for it); None when the base's Node is used."""
    if plan.node_version is None:
        return None
    path = package_tarball(plan.node_version, architecture(platform.machine()))
    return NodeTarball(plan.node_version, path, hashlib.sha256(path.read_bytes()).hexdigest())


@dataclass(frozen=True)
class StagedImage:
    """The app image's build context and build args (the tag is the context's digest: the release id)."""

    context: BuildContext
    build_args: dict[str, str]


def stage_app_image(plan: AppImagePlan, build_dir: Path, base: str, prefetch_npm: bool) -> StagedImage:
    """The staged context: the app's own Dockerfile as it is, or images/app/Dockerfile with the Node package
    and the build args its recipe needs."""
    if plan.own_dockerfile:
        context = stage_app_context(plan.source, build_dir, base, dockerfile=plan.source / OWN_DOCKERFILE)
        return StagedImage(context, {})
    node = node_tarball(plan)
    build_args = {
        "BASE": base,
        **({"NODE_SHA256": node.sha256} if node else {}),
        **({"BUILD_SCRIPT": plan.build_script} if plan.build_script else {}),
    }
    extra = {f"{NODE_DIR}/{NODE_TARBALL}": node.path} if node else {}
    context = stage_app_context(plan.source, build_dir, base, prefetch_npm, extra=extra, build_args=build_args)
    return StagedImage(context, build_args)
