"""Reading the user's app: start command, build, install, Node version, release ids, env file text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from components.app.app_run import AppRun
from components.app.app_spec import read_app
from components.app.env_file import env_file_text
from components.app.node_dist import resolve
from components.app.node_install import NodeChoice
from components.app.plan import choose_node, plan_release
from components.app.release import Build
from components.config import AppConfig, ConfigError

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "apps"
VERSIONS = ["18.19.0", "20.9.0", "20.18.1", "20.19.0-rc.1", "22.10.0", "22.11.0", "24.1.0"]


def app_folder(tmp_path: Path, package: dict[str, Any], files: dict[str, str] | None = None) -> Path:
    (tmp_path / "package.json").write_text(json.dumps(package))
    for name, text in (files or {}).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def app(**settings: Any) -> AppConfig:
    return AppConfig.model_validate(settings)


# --- the fixture apps, each a different shape -----------------------------------------------------


def test_plain_app_npm_start_is_resolved_to_its_script_and_installed_without_a_lockfile() -> None:
    spec = read_app(app(portEnv="APP_PORT"), FIXTURES / "plain")
    assert (spec.start, spec.start_from, spec.exec_start) == ("node src/main.js", "package.json scripts.start", True)
    assert spec.install == ("npm", "install")
    assert (spec.build_script, spec.node_request) == (None, None)


def test_built_app_runs_its_build_script_and_npm_ci_with_its_lockfile() -> None:
    spec = read_app(app(build="npm run build", start="node dist/server.js"), FIXTURES / "built")
    assert (spec.install, spec.build_script, spec.start) == (("npm", "ci"), "build", "node dist/server.js")
    assert spec.recipe == "npm ci && npm run build && npm prune --omit=dev; start: node dist/server.js (app.start)"


def test_esm_app_starts_its_main_and_asks_for_the_nvmrc_node() -> None:
    spec = read_app(app(), FIXTURES / "esm")
    assert (spec.start, spec.start_from) == ("node index.mjs", "package.json main (index.mjs)")
    assert (spec.node_request, spec.node_from) == ("20", ".nvmrc")


def test_sample_app_defaults() -> None:
    spec = read_app(app(), REPO / "app")
    assert (spec.start, spec.install, spec.node_request) == ("node server.js", ("npm", "ci"), "22")


# --- start command ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "scripts", "expected"),
    [
        ("npm run start", {"start": "node a.js"}, "node a.js"),
        ("npm run-script serve", {"serve": "node b.js --port=1"}, "node b.js --port=1"),
        ("npm start", {"start": "npm run serve", "serve": "node c.js"}, "node c.js"),
        ("node dist/x.js", {}, "node dist/x.js"),
        (None, {"start": "  node d.js "}, "node d.js"),
    ],
)
def test_start_commands_resolve_npm_scripts_at_build_time(
    tmp_path: Path, start: str | None, scripts: dict[str, str], expected: str
) -> None:
    source = app_folder(tmp_path, {"scripts": scripts})
    settings = app(start=start) if start else app()
    assert read_app(settings, source).start == expected


def test_a_start_command_that_needs_a_shell_is_not_execed(tmp_path: Path) -> None:
    source = app_folder(tmp_path, {"scripts": {"start": "node migrate.js && node server.js"}})
    assert read_app(app(), source).exec_start is False


def test_no_start_script_falls_back_to_server_js_then_index_js(tmp_path: Path) -> None:
    assert read_app(app(), app_folder(tmp_path, {}, {"index.js": ""})).start == "node index.js"
    assert read_app(app(), app_folder(tmp_path, {}, {"server.js": ""})).start == "node server.js"


BAD_APPS = [
    ({}, {}, {}, "wayshub:app.start: is not set and package.json has no start script and no main file"),
    ({"start": "npm run serve"}, {"scripts": {"start": "x"}}, {}, "wayshub:app.start: package.json has no 'serve'"),
    ({}, {"scripts": {"start": "npm run start"}}, {}, "wayshub:app.start: npm script 'start' runs itself"),
    ({}, {"scripts": {"start": "npx serve"}}, {}, "wayshub:app.start: 'npx serve' (package.json scripts.start) needs"),
    (
        {"build": "npm run compile"},
        {"scripts": {"build": "tsc"}},
        {"server.js": ""},
        "wayshub:app.build: package.json has no",
    ),
    (
        {"build": "compile"},
        {},
        {"server.js": ""},
        "wayshub:app.build: package.json has no 'compile' script (it has: none)",
    ),
    ({}, {}, {"server.js": "", ".nvmrc": "lts/iron"}, "wayshub:app.nodeVersion: "),
    (
        {},
        {"engines": {"node": "latest please"}},
        {"server.js": ""},
        "wayshub:app.nodeVersion: package.json engines.node",
    ),
    ({}, {"engines": {"node": 20}}, {"server.js": ""}, "wayshub:app.nodeVersion: package.json engines.node 20 is not"),
    ({}, {}, {"server.js": "", "yarn.lock": ""}, "wayshub:app.source: "),
    ({}, {}, {"server.js": "", "pnpm-lock.yaml": ""}, "wayshub:app.source: "),
]


@pytest.mark.parametrize(("settings", "package", "files", "message"), BAD_APPS)
def test_bad_apps_fail_with_one_line_naming_the_setting(
    tmp_path: Path, settings: dict[str, Any], package: dict[str, Any], files: dict[str, str], message: str
) -> None:
    source = app_folder(tmp_path, package, files)
    with pytest.raises(ConfigError) as caught:
        read_app(app(**settings), source)
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith(message), caught.value


def test_a_foreign_lockfile_is_named(tmp_path: Path) -> None:
    source = app_folder(tmp_path, {}, {"server.js": "", "yarn.lock": ""})
    with pytest.raises(ConfigError, match=r"yarn.lock is a yarn lockfile: only npm is supported"):
        read_app(app(), source)


def test_package_json_that_is_not_json_is_named(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text("{nope")
    with pytest.raises(ConfigError, match=r"^wayshub:app.source: .*package.json is not valid JSON"):
        read_app(app(), tmp_path)


# --- Node ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "expected"),
    [("22", "22.11.0"), ("22.10", "22.10.0"), ("20.18.1", "20.18.1"), (">=18 <21", "20.18.1"), ("^18", "18.19.0")],
)
def test_a_version_request_resolves_to_the_newest_release_that_satisfies_it(request_: str, expected: str) -> None:
    assert resolve(request_, "test", VERSIONS) == expected


def test_a_version_the_registry_lacks_names_nearby_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve("20.99.1", ".nvmrc", VERSIONS)
    assert str(caught.value) == (
        "wayshub:app.nodeVersion: the npm registry has no Node 20.99.1 (.nvmrc); nearby: 20.9.0, 20.18.1"
    )


def test_binary_is_the_default_when_a_version_is_known_else_apt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("components.app.plan.registry_versions", lambda: VERSIONS)
    esm = read_app(app(), FIXTURES / "esm")
    assert choose_node(app(), esm) == NodeChoice("binary", "20.18.1", ".nvmrc")
    plain = read_app(app(), FIXTURES / "plain")
    assert choose_node(app(), plain) == NodeChoice("apt", None, "")
    assert choose_node(app(nodeInstall="apt", nodeVersion="20"), esm) == NodeChoice("apt", "20", "app.nodeVersion")
    with pytest.raises(ConfigError, match=r"^wayshub:app.nodeInstall: 'binary' needs a Node version"):
        choose_node(app(nodeInstall="binary"), plain)


# --- the release id and the env file ---------------------------------------------------------------


KEY = "0123456789abcdef" * 4  # a stack's wayshub:releaseKey


def run_of(**changes: Any) -> AppRun:
    spec = read_app(app(), FIXTURES / "plain")
    return AppRun(**{"app_name": "wayshub", "spec": spec, "node": NodeChoice("apt"), **changes})


def test_the_release_id_changes_with_anything_the_release_runs_but_never_shows_a_secret() -> None:
    build = Build("b" * 12, Path("x"))
    base = plan_release(run_of(), build, {}, KEY).id
    assert plan_release(run_of(), build, {}, KEY).id == base, "the same inputs make the same release"
    changed = {
        "code": plan_release(run_of(), Build("c" * 12, Path("x")), {}, KEY).id,
        "env": plan_release(run_of(env={"A": "1"}), build, {}, KEY).id,
        "port": plan_release(run_of(port=4000), build, {}, KEY).id,
        "port variable": plan_release(run_of(port_names=("APP_PORT",)), build, {}, KEY).id,
        "node": plan_release(run_of(node=NodeChoice("binary", "22.11.0")), build, {}, KEY).id,
        "secret": plan_release(run_of(), build, {"TOKEN": "s3cret"}, KEY).id,
        "secret value": plan_release(run_of(), build, {"TOKEN": "other"}, KEY).id,
    }
    assert len({base, *changed.values()}) == len(changed) + 1, changed


def test_env_file_has_the_port_variables_and_quotes_what_systemd_would_change() -> None:
    run = run_of(port_names=("PORT", "APP_PORT"), env={"GREETING": 'say "hi" $HOME', "PLAIN": "a-b_c/d:1"})
    assert env_file_text(run, {"TOKEN": "t\\k"}) == (
        "APP_PORT=3000\n"
        'GREETING="say \\"hi\\" \\$HOME"\n'
        "NODE_ENV=production\n"
        "PLAIN=a-b_c/d:1\n"
        "PORT=3000\n"
        'TOKEN="t\\\\k"\n'
    )


# --- the release task (app.releaseTask) -------------------------------------------------------------


def test_a_release_task_npm_script_is_resolved_and_is_part_of_the_release(tmp_path: Path) -> None:
    source = app_folder(tmp_path, {"scripts": {"start": "node s.js", "migrate": "node db/migrate.js up"}})
    spec = read_app(app(releaseTask="npm run migrate"), source)
    assert (spec.task, spec.task_from) == ("node db/migrate.js up", "package.json scripts.migrate")
    run = AppRun(app_name="shop", spec=spec, node=NodeChoice("apt"))
    task = run.task_text()
    assert task is not None and task.endswith("\nexec node db/migrate.js up\n") and "release task of shop" in task
    build = Build("b" * 12, tmp_path / "b.tar.gz")
    without = AppRun(app_name="shop", spec=read_app(app(), source), node=NodeChoice("apt"))
    assert without.task_text() is None
    # A task makes its own release (the folder carries it); without one, the id is what it always was.
    assert plan_release(run, build, {}, None).id != plan_release(without, build, {}, None).id
    assert plan_release(without, build, {}, None).id == plan_release(without, build, {}, None).id


@pytest.mark.parametrize(
    ("task", "error"),
    [
        ("npm run nope", "wayshub:app.releaseTask: package.json has no 'nope' script (it has: migrate, start)"),
        ("npx knex migrate:latest", "needs npx on the servers, which get Node only; set app.releaseTask"),
        ("npm run migrate", None),
    ],
)
def test_a_release_task_that_needs_npm_on_the_servers_is_refused_in_one_line(
    tmp_path: Path, task: str, error: str | None
) -> None:
    source = app_folder(tmp_path, {"scripts": {"start": "node s.js", "migrate": "node m.js"}})
    if error is None:
        assert read_app(app(releaseTask=task), source).task == "node m.js"
        return
    with pytest.raises(ConfigError) as raised:
        read_app(app(releaseTask=task), source)
    assert error in str(raised.value) and "\n" not in str(raised.value)
