"""Containers mode runs any Node app by the same contract as VM mode (issue 40), through the real engine and the
real pulumi-docker plugin. One stack, two apps of other shapes than the sample:

- ``tests/fixtures/apps/contract``: started by ``app.start`` (``node src/main.js``), its port in ``APP_PORT``
  (``portEnv``) on another port, health at ``/healthz`` with the release in the body, a build step
  (``npm run build`` writes dist/build.json), and a Node version other than the base image's (``nodeVersion``);
- ``tests/fixtures/apps/cra-shaped``: shaped like a create-react-app site as its README runs it: ``npm start``
  runs a dev server from node_modules/.bin that reads ``PORT`` and ``HOST``, on Node 16 (``.nvmrc``).

- ``tests/fixtures/apps/own-dockerfile``: an app with its own Dockerfile, built with it, its CMD run.

Each deploys and answers through nginx from both app servers; the failure of a release that never gets
healthy names the container, its command and its log.
"""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.e2e.containers_engine import (
    SERVERS,
    Deployed,
    find_docker_plugin,
    new_site,
    program_supports_containers,
    remove_site,
)
from tests.e2e.pulumi_cli import REPO, up_with_events
from tests.e2e.slots import CONTAINERS_STACK
from tests.e2e.test_containers_docker import DEBIAN_BASE, DOMAIN, docker, image_exists

pytestmark = pytest.mark.e2e

STACK = f"{CONTAINERS_STACK}-apps"
FIXTURES = REPO / "tests" / "fixtures" / "apps"
# Inside the app containers (their own network namespaces): not a host port.
CONTRACT_LISTENS_ON = 4100
# Node 22 is neither the Debian base's (18) nor node:20-bookworm-slim's.
CONTRACT_NODE = "22"
CONTRACT_APP = {
    "source": "contract",
    "start": "node src/main.js",
    "build": "npm run build",
    "port": CONTRACT_LISTENS_ON,
    "portEnv": "APP_PORT",
    "nodeVersion": CONTRACT_NODE,
    "health": {"path": "/healthz", "bodyContains": "ok {release}", "timeoutSeconds": 90},
}
CRA_APP = {"source": "cra-shaped", "health": {"timeoutSeconds": 120}}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    root = tmp_path_factory.mktemp("containers-apps")
    plugin = find_docker_plugin(root / "probe-state")
    if isinstance(plugin, str):
        pytest.skip(plugin)
    reason = program_supports_containers()
    if reason:
        pytest.skip(reason)
    deployed = new_site(
        root, plugin, stack=STACK, apps={name: FIXTURES / name for name in ("contract", "cra-shaped", "own-dockerfile")}
    )
    try:
        yield deployed
    finally:
        remove_site(deployed)


def container(server: str, slot: str) -> str:
    return f"wayshub-{STACK}-{server}-{slot}"


def get(site: Deployed, path: str = "/") -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", site.port, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": DOMAIN})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def serving(site: Deployed) -> dict[str, str]:
    """Server → the container serving it (the slot its switch step named)."""
    return {
        server: re.sub(r":\d+$", "", backend)
        for server, backend in zip(SERVERS, site.cli.outputs()["backends"], strict=True)
    }


def up(site: Deployed) -> str:
    ran = up_with_events(site.cli)
    assert ran.returncode == 0, ran.output[-4000:]
    return ran.output


def test_an_app_that_differs_from_the_sample_on_every_point_deploys(site: Deployed) -> None:
    site.set("wayshub:app", CONTRACT_APP)
    output = up(site)
    assert f"Node {CONTRACT_NODE}." in output and "build: npm run build" in output, "the preview line says the recipe"
    release = site.cli.outputs()["release"]
    seen: dict[str, dict[str, object]] = {}
    deadline = time.monotonic() + 60
    while set(seen) != set(SERVERS) and time.monotonic() < deadline:
        status, headers, body = get(site)
        assert status == 200, (status, body[:300])
        assert headers["x-wayshub-release"] == release, "WAYSHUB_RELEASE is the release id"
        seen[headers["x-wayshub-backend"]] = json.loads(body)
    assert set(seen) == set(SERVERS), f"answers came from {sorted(seen)}"
    for answer in seen.values():
        assert str(answer["node"]).startswith(f"v{CONTRACT_NODE}."), answer
        assert answer["port"] == CONTRACT_LISTENS_ON and answer["portVariable"] == "APP_PORT", answer
        assert str(answer["build"]["builtWith"]).startswith(f"v{CONTRACT_NODE}."), "the build ran with the app's Node"  # type: ignore[index]
    assert get(site, "/healthz")[2].decode().strip() == f"ok {release}"
    for server, name in serving(site).items():
        info = json.loads(docker("inspect", name))[0]
        assert info["Config"]["Cmd"] == ["/bin/sh", "-c", "exec node src/main.js"], info["Config"]["Cmd"]
        assert info["Config"]["Labels"]["wayshub.release"] == release
        assert info["Config"]["Image"].endswith(f":{release}"), "the image's tag is the release id"
        assert info["State"]["Health"]["Status"] == "healthy", server
        assert "/healthz" in json.dumps(info["Config"]["Healthcheck"]["Test"])
    again = up_with_events(site.cli)
    assert again.returncode == 0 and set(again.changes) == {"same"}, (again.changes, again.changed())


def test_a_create_react_app_shaped_site_deploys_with_its_node_16(site: Deployed) -> None:
    site.set("wayshub:app", CRA_APP)
    output = up(site)
    assert "Node 16." in output and "(.nvmrc)" in output, output[-3000:]
    status, _, body = get(site)
    assert status == 200 and b"cra-shaped fixture" in body, (status, body[:300])
    lb = f"wayshub-{STACK}-lb"
    for name in serving(site).values():
        # Each backend answers nginx's container itself (a static site cannot say which backend it is).
        page = docker("exec", lb, "curl", "-fsS", f"http://{name}:3000/app.js")
        assert "client script loaded" in page, name
        version = docker("exec", name, "node", "--version")
        assert version.startswith("v16."), version
        cmd = json.loads(docker("inspect", "--format", "{{json .Config.Cmd}}", name))
        assert cmd == ["/bin/sh", "-c", "exec http-server public -c-1"], "npm start resolved to its script"


def test_a_release_that_never_gets_healthy_names_its_container_command_and_log(site: Deployed) -> None:
    before = serving(site)
    site.set(
        "wayshub:app",
        {
            **CRA_APP,
            "start": "node -e \"console.log('wayshub: no server here'); setInterval(()=>{},1000)\"",
            "health": {"timeoutSeconds": 15},
        },
    )
    ran = up_with_events(site.cli)
    assert ran.returncode != 0
    line = next((text for text in ran.output.splitlines() if "failed its health check" in text), "")
    assert f"wayshub-{STACK}-app1-" in line, ran.output[-4000:]
    assert "running `/bin/sh -c node -e" in line and "not healthy within 15s" in line, line
    assert "/ : connect ECONNREFUSED" in line or ": connect ECONNREFUSED" in line, line
    assert "wayshub: no server here" in ran.output, "the container's log tail"
    status, _, body = get(site)
    assert status == 200 and b"cra-shaped fixture" in body, "the serving containers keep serving"
    assert serving(site) == before, "the outputs say what nginx serves, not what the failed up planned"
    lb = f"wayshub-{STACK}-lb"
    for server, name in before.items():
        upstream = docker("exec", lb, "cat", f"/etc/nginx/wayshub-upstreams/{server}.conf")
        assert f"server {name}:3000 " in upstream, upstream
    site.set("wayshub:app", CRA_APP)
    up(site)


def test_an_apps_own_dockerfile_builds_its_image(site: Deployed) -> None:
    if not image_exists(DEBIAN_BASE):  # the fixture's FROM
        subprocess.run([str(REPO / "scripts" / "sandbox-image")], capture_output=True, check=True)
    site.set("wayshub:app", {"source": "own-dockerfile"})
    output = up(site)
    assert "own-dockerfile/Dockerfile (the app's own Dockerfile); start: the image's CMD" in output, output[-3000:]
    seen: set[str] = set()
    deadline = time.monotonic() + 60
    while seen != set(SERVERS) and time.monotonic() < deadline:
        status, headers, body = get(site)
        assert status == 200 and body == b"built by its own Dockerfile\n", (status, body[:300])
        seen.add(headers["x-wayshub-backend"])
    assert seen == set(SERVERS)
    for name in serving(site).values():
        config = json.loads(docker("inspect", "--format", "{{json .Config}}", name))
        assert config["Cmd"] == ["node", "server.js"] and config["User"] == "10002:10002", config
