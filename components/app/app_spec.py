"""What the user's app needs, read ONCE from its folder and the app settings, before any resource.

The app knows nothing about us: it has a package.json, maybe a lockfile, maybe a build script, a start
script or a ``main``, and maybe a Node version (``.nvmrc`` or ``engines.node``). From those and the
stack's ``app`` settings this module decides how the release is installed and built, the command line
that starts it, and which Node it wants. Every problem is a :class:`ConfigError` naming the setting.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import semantic_version

from components.config import NAMESPACE, NODE_VERSION, AppConfig, ConfigError
from components.config.base import control_problem

# Lockfiles of package managers other than npm: refused with one line naming the file.
FOREIGN_LOCKFILES = {"yarn.lock": "yarn", "pnpm-lock.yaml": "pnpm", "bun.lockb": "bun", "bun.lock": "bun"}
NPM_LOCKFILES = ("package-lock.json", "npm-shrinkwrap.json")
# `npm start` / `npm run X` / `npm run-script X` (optionally `--`): resolved to the script's text at build time.
_NPM_RUN = re.compile(r"npm\s+(?:start|(?:run|run-script)\s+(?P<script>[A-Za-z0-9:_.-]+))\s*")
# A command line that needs a shell (operators, expansions) is left to /bin/sh instead of exec'd.
_SHELL_SYNTAX = re.compile(r"[;&|<>()$`\\\"'*?\[\]{}~#\n]")
# Commands that need npm/yarn/pnpm on the servers: the release ships Node only.
_PACKAGE_MANAGERS = ("npm", "npx", "yarn", "pnpm", "corepack")


@dataclass(frozen=True)
class AppSpec:
    source: Path
    install: tuple[str, ...]  # the npm command that installs dependencies
    build_script: str | None  # an npm script run before dev dependencies are pruned
    start: str  # the command line run in the release's app folder
    start_from: str  # where ``start`` came from, for previews and errors
    node_request: str | None  # a version or range, as written
    node_from: str | None  # where ``node_request`` came from
    task: str | None = None  # app.releaseTask's command line, run in the release's app folder
    task_from: str | None = None  # where ``task`` came from
    # app.processes: (name, command line, where it came from), in the settings' order.
    processes: tuple[tuple[str, str, str], ...] = ()
    # app.schedules: (name, command line, where it came from), the same way.
    schedules: tuple[tuple[str, str, str], ...] = ()
    # app.processes[].healthCommand: (process name, command line, where it came from), for those that have one.
    process_checks: tuple[tuple[str, str, str], ...] = ()

    @property
    def exec_start(self) -> bool:
        return can_exec(self.start)

    @property
    def recipe(self) -> str:
        """How the release is made and run, in one line (part of the release id, shown in previews)."""
        build = f" && npm run {self.build_script}" if self.build_script else ""
        prune = " && npm prune --omit=dev" if self.build_script else ""
        return f"{shlex.join(self.install)}{build}{prune}; start: {self.start} ({self.start_from})"


def can_exec(command: str) -> bool:
    """True when ``command`` is one simple command a shell can ``exec`` (then signals reach the app)."""
    return not _SHELL_SYNTAX.search(command)


def _error(setting: str, message: str) -> ConfigError:
    return ConfigError(f"{NAMESPACE}:app.{setting}: {message}")


def read_package(source: Path) -> dict[str, Any]:
    path = source / "package.json"
    if not path.is_file():
        raise _error("source", f"{source} has no package.json")
    try:
        package = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise _error("source", f"{path} is not valid JSON ({err})") from None
    if not isinstance(package, dict):
        raise _error("source", f"{path} is not a JSON object")
    return package


def install_command(source: Path) -> tuple[str, ...]:
    """``npm ci`` with a lockfile, ``npm install`` without; other package managers' lockfiles are refused."""
    if any((source / name).is_file() for name in NPM_LOCKFILES):
        return ("npm", "ci")
    for name, manager in FOREIGN_LOCKFILES.items():
        if (source / name).is_file():
            raise _error(
                "source",
                f"{source / name} is a {manager} lockfile: only npm is supported "
                "(commit a package-lock.json, e.g. from `npm install --package-lock-only`)",
            )
    return ("npm", "install")


def _scripts(package: dict[str, Any]) -> dict[str, str]:
    scripts = package.get("scripts") or {}
    return {k: v for k, v in scripts.items() if isinstance(v, str)} if isinstance(scripts, dict) else {}


def _script_name(command: str) -> str | None:
    match = _NPM_RUN.fullmatch(command.strip())
    if not match:
        return None
    return match.group("script") or "start"


def _missing_script(setting: str, name: str, scripts: dict[str, str]) -> ConfigError:
    known = ", ".join(sorted(scripts)) or "none"
    return _error(setting, f"package.json has no {name!r} script (it has: {known})")


def resolve_start(config: AppConfig, package: dict[str, Any], source: Path) -> tuple[str, str]:
    """The command line that starts the app, and where it came from. npm scripts are resolved here
    (npm itself is not on the servers, and a process under npm gets signals late)."""
    scripts = _scripts(package)
    if config.start is not None:
        command, origin, setting = config.start.strip(), "app.start", "start"
    elif "start" in scripts:
        command, origin, setting = "npm start", "package.json scripts.start", "start"
    else:
        main = package.get("main") if isinstance(package.get("main"), str) else None
        if main is not None and (problem := control_problem(main)):
            raise _error("start", f"package.json main {problem}")
        candidates = [main] if main else ["server.js", "index.js"]
        found = next((c for c in candidates if (source / c).is_file()), None)
        if found is None:
            raise _error(
                "start",
                "is not set and package.json has no start script and no main file "
                f"({' or '.join(candidates)} not found in {source}); set app.start, e.g. 'node dist/server.js'",
            )
        return shlex.join(["node", found]), f"package.json main ({found})"
    return resolve_command(command, origin, setting, scripts)


def resolve_command(command: str, origin: str, setting: str, scripts: dict[str, str]) -> tuple[str, str]:
    """``command`` (from ``origin``, the setting ``app.<setting>``) with npm scripts resolved to their text:
    the servers get Node only, no npm. Refused: a control character, a package manager."""
    seen: list[str] = []
    while (name := _script_name(command)) is not None:
        if name not in scripts:
            raise _missing_script(setting, name, scripts)
        if name in seen or len(seen) > 5:
            raise _error(setting, f"npm script {name!r} runs itself")
        seen.append(name)
        command = scripts[name].strip()
        origin = f"package.json scripts.{name}"
    if problem := control_problem(command):  # it becomes a script's command line
        raise _error(setting, f"{origin} {problem}")
    first = command.split()[0] if command.split() else ""
    if first in _PACKAGE_MANAGERS:
        raise _error(
            setting,
            f"{command!r} ({origin}) needs {first} on the servers, which get Node only; "
            f"set app.{setting} to the command it runs, e.g. 'node {'migrate' if setting == 'releaseTask' else 'server'}.js'",
        )
    return command, origin


def resolve_task(config: AppConfig, package: dict[str, Any]) -> tuple[str | None, str | None]:
    """``app.releaseTask`` with npm scripts resolved (``npm run migrate`` runs package.json's ``migrate``)."""
    if config.release_task is None:
        return None, None
    return resolve_command(config.release_task.strip(), "app.releaseTask", "releaseTask", _scripts(package))


def resolve_build(config: AppConfig, package: dict[str, Any]) -> str | None:
    if config.build is None:
        return None
    scripts = _scripts(package)
    name = _script_name(config.build) or config.build.strip()
    if name not in scripts:
        raise _missing_script("build", name, scripts)
    return name


def _check_range(text: str, where: str, setting: str) -> str:
    try:
        semantic_version.NpmSpec(text)
    except ValueError:
        raise _error(setting, f"{where} {text!r} is not a Node version or range (e.g. 22, 22.11.0, >=20)") from None
    return text


def node_request(config: AppConfig, package: dict[str, Any], source: Path) -> tuple[str | None, str | None]:
    """The Node version the app asks for: ``nodeVersion``, else ``.nvmrc``, else ``engines.node``."""
    if config.node_version is not None:
        return config.node_version.removeprefix("v"), "app.nodeVersion"
    nvmrc = source / ".nvmrc"
    if nvmrc.is_file():
        text = nvmrc.read_text(errors="replace").strip()
        if not NODE_VERSION.fullmatch(text):
            raise _error(
                "nodeVersion", f"{nvmrc} says {text!r}, not a Node version such as 22 or 22.11.0 (aliases are not)"
            )
        return text.removeprefix("v"), ".nvmrc"
    engines = package.get("engines")
    wanted = engines.get("node") if isinstance(engines, dict) else None
    if wanted is not None:
        if isinstance(wanted, str) and (problem := control_problem(wanted.strip())):
            raise _error("nodeVersion", f"package.json engines.node {problem}")
        if not isinstance(wanted, str) or not wanted.strip():
            raise _error("nodeVersion", f"package.json engines.node {wanted!r} is not a version range")
        return _check_range(wanted.strip(), "package.json engines.node", "nodeVersion"), "package.json engines.node"
    return None, None


def resolve_commands(
    named: Sequence[tuple[str, str | None, str]], package: dict[str, Any]
) -> tuple[tuple[str, str, str], ...]:
    """Each (name, command, setting) of a list setting (``processes[0].command``…), the ones given, with npm
    scripts resolved (as ``start``'s), as (name, command line, where it came from)."""
    scripts = _scripts(package)
    resolved = []
    for name, given, where in named:
        if given is not None:
            command, origin = resolve_command(given.strip(), f"app.{where}", where, scripts)
            resolved.append((name, command, origin))
    return tuple(resolved)


def read_app(config: AppConfig, source: Path) -> AppSpec:
    """Everything about the app that the release build and the servers need; raises ConfigError."""
    if not source.is_dir():
        raise _error("source", f"{source} is not a folder")
    package = read_package(source)
    start, start_from = resolve_start(config, package, source)
    task, task_from = resolve_task(config, package)
    request, request_from = node_request(config, package, source)
    return AppSpec(
        source=source,
        install=install_command(source),
        build_script=resolve_build(config, package),
        start=start,
        start_from=start_from,
        node_request=request,
        node_from=request_from,
        task=task,
        task_from=task_from,
        processes=resolve_commands(
            [(p.name, p.command, f"processes[{i}].command") for i, p in enumerate(config.processes)], package
        ),
        schedules=resolve_commands(
            [(j.name, j.command, f"schedules[{i}].command") for i, j in enumerate(config.schedules)], package
        ),
        process_checks=resolve_commands(
            [(p.name, p.health_command, f"processes[{i}].healthCommand") for i, p in enumerate(config.processes)],
            package,
        ),
    )
