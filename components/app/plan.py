"""From the stack's ``app`` settings to what every app server runs, decided before any resource.

Read the app's folder (start command, build, lockfile, Node version), choose how hosts get Node
(resolving the version against the npm registry), build the code once (on ``up`` only), and plan the
release id.
Every problem is a ConfigError naming the setting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from components.app.app_run import AppRun
from components.app.app_spec import AppSpec, read_app
from components.app.env_file import env_file_text
from components.app.node_dist import registry_versions, resolve
from components.app.node_install import NodeChoice
from components.app.release import Build, Release, build_code, pinned_release, planned_build, release_id
from components.config import NAMESPACE, AppConfig, ConfigError, SiteView


def choose_node(config: AppConfig, spec: AppSpec) -> NodeChoice:
    """``binary`` (an exact version from the registry) when a version is known, else the distro's."""
    method = config.node_install or ("binary" if spec.node_request else "apt")
    if method == "binary":
        if spec.node_request is None:
            raise ConfigError(
                f"{NAMESPACE}:app.nodeInstall: 'binary' needs a Node version: set app.nodeVersion, "
                "or give the app a .nvmrc or package.json engines.node"
            )
        version = resolve(spec.node_request, spec.node_from or "", registry_versions())
        return NodeChoice("binary", version, spec.node_from or "")
    # apt, nodesource, nvm: a major version (checked on the host), from the settings only.
    major = config.node_version.removeprefix("v").split(".")[0] if config.node_version else None
    return NodeChoice(method, major, "app.nodeVersion" if major else "")


def app_run(config: AppConfig, project_dir: Path) -> AppRun:
    spec = read_app(config, project_dir / config.source)
    return AppRun(
        app_name=config.name,
        spec=spec,
        node=choose_node(config, spec),
        port=config.port,
        port_names=config.port_names,
        env=config.env_text_values,
        health=config.health,
        processes=config.processes,
        schedules=config.schedules,
    )


def plan_release(run: AppRun, build: Build, secrets: Mapping[str, str], key: str | None) -> Release:
    """The release every host switches to: its id covers code, Node, command, env, unit and secrets."""
    parts = [
        build.id,
        run.node.describe(),
        run.start_text(),
        run.unit_text(),
        env_file_text(run, {}),
        str(sorted(secrets)),
    ]
    if (task := run.task_text()) is not None:  # only then: a stack without a task keeps its release ids
        parts.append(task)
    if run.processes:  # the same: only a stack with processes has them in its ids
        parts.append(run.processes_text())
    if run.schedules:  # and with schedules: their scripts
        parts.append(run.schedules_text())
    return Release(release_id(parts, secrets, key), build)


def release_for(
    run: AppRun,
    config: AppConfig,
    build_dir: Path,
    secrets: Mapping[str, str],
    key: str | None,
    *,
    preview: bool,
) -> Release:
    """The pinned release, or the one built from the app's folder now.

    In a ``preview`` nothing is built (no npm, no install or build scripts of the app, even with no
    cached build): the release id comes from the source alone and equals the one ``up`` builds.
    """
    if config.release_pin:
        return pinned_release(config.release_pin)
    build = planned_build if preview else build_code
    return plan_release(run, build(run.spec, build_dir, config.name), secrets, key)


@dataclass(frozen=True)
class SiteApp:
    """One site's app as the program deploys it: the site, how its app runs, and the release its hosts run."""

    site: SiteView
    run: AppRun
    release: Release


def plan_site_app(
    site: SiteView, project_dir: Path, secrets: Mapping[str, str], key: str | None, *, preview: bool
) -> SiteApp:
    """``app_run`` and ``release_for`` of one site's app (builds under ``build/releases``, named by app); a
    problem names the site's setting (``wayshub:sites[1].app.start``)."""
    try:
        run = app_run(site.app, project_dir)
        release = release_for(run, site.app, project_dir / "build" / "releases", secrets, key, preview=preview)
    except ConfigError as err:
        own = f"{NAMESPACE}:app."
        text = str(err)
        raise ConfigError(
            f"{NAMESPACE}:{site.where}app.{text.removeprefix(own)}" if text.startswith(own) else text
        ) from None
    return SiteApp(site, run, release)
