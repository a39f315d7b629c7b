"""Any Node app, not just ours: the fixture apps deployed, broken releases, and every host coherent after.

Runs on the session's deployed site (app1, app2, lb), in file order, each step under continuous load
through the LB (>= 2,000 GETs, 0 failed). The module puts the sample app back when it is done.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bench.loadgen import BackgroundLoad
from tests.e2e.pulumi_cli import REPO, UpResult, up_with_events
from tests.e2e.site import DOMAIN, HTTP_PORT, Site, get_http_headers, write_stack_config

pytestmark = pytest.mark.e2e

MIN_REQUESTS = 2000
APP_SERVERS = ["app1", "app2"]
FIXTURES = REPO / "tests" / "fixtures" / "apps"
FAST_HEALTH = {"timeoutSeconds": 8, "intervalSeconds": 0.5}
SHAPES: dict[str, dict[str, Any]] = {
    # (a) no dependencies, no lockfile, port from APP_PORT, health at /healthz, `npm start`, the distro's Node.
    # Numbers and booleans in env, as `pulumi config set --path wayshub:app.env.WORKERS 4` stores them.
    "plain": {
        "source": "apps/plain",
        "portEnv": "APP_PORT",
        "env": {"WORKERS": 4, "DEBUG": True},
        "health": {"path": "/healthz", **FAST_HEALTH},
    },
    # (b) TypeScript built by `npm run build` to dist/, dev dependencies pruned, lockfile, several port variables.
    "built": {
        "source": "apps/built",
        "build": "npm run build",
        "start": "node dist/server.js",
        "portEnv": ["PORT", "HTTP_PORT"],
        "health": {"path": "/ready", "expectStatus": 200, **FAST_HEALTH},
    },
    # (c) ES module, no lockfile, no start script (main), Node 20 from .nvmrc shipped as the official binary.
    "esm": {"source": "apps/esm", "health": FAST_HEALTH},
}
# Three ways a release can be broken, each a change to fixture (a)'s main.js, and what `up` must say.
BROKEN = {
    "exits at start": ("console.error('boom: missing DATABASE_URL'); process.exit(1);\n", "the app exited"),
    "health answers 500": (
        "require('http').createServer((q, s) => { s.writeHead(q.url === '/healthz' ? 500 : 200); s.end(); })"
        ".listen(Number(process.env.APP_PORT));\n",
        "GET /healthz answered 500",
    ),
    "never binds": (
        "setInterval(() => {}, 1000); console.log('waiting for nothing');\n",
        "nothing listens on port 3000",
    ),
}


@dataclass(frozen=True)
class Deployed:
    up: UpResult
    load: BackgroundLoad


@pytest.fixture(scope="module")
def apps_site(site: Site) -> Iterator[Site]:
    shutil.copytree(FIXTURES, site.project / "apps", ignore=shutil.ignore_patterns("node_modules", "dist"))
    yield site
    write_stack_config(site, app_servers=APP_SERVERS)
    site.cli.up()


def deploy(site: Site, app: dict[str, Any]) -> Deployed:
    write_stack_config(site, app_servers=APP_SERVERS, extra={"wayshub:app": app})
    with BackgroundLoad(HTTP_PORT, DOMAIN, min_requests=MIN_REQUESTS, max_seconds=900) as load:
        up = up_with_events(site.cli)
    print(f"\n{app.get('source', 'app')}: {load.report.summary()}")
    assert load.report.total >= MIN_REQUESTS
    assert load.report.failed == 0, load.report.error_samples
    return Deployed(up, load)


def host_state(site: Site, server: str) -> dict[str, str]:
    """What really runs on ``server``: the live release, its files, and the unit's process."""
    script = r"""
cd /opt/wayshub
rid=$(basename "$(readlink current)")
echo "rid=$rid"
for f in start env unit; do [ -f "releases/$rid/$f" ] && echo "has_$f=1"; done
echo "env_mode=$(stat -c %a "releases/$rid/env" 2>/dev/null)"
echo "node=$(readlink -f "releases/$rid/bin/node")"
echo "code=$(readlink -f "releases/$rid/app")"
cmp -s "releases/$rid/unit" /etc/systemd/system/wayshub.service && echo unit_installed=1
echo "active=$(systemctl is-active wayshub)"
pid=$(systemctl show -p MainPID --value wayshub)
# The app's own user reads its process (containers give root no CAP_SYS_PTRACE).
echo "proc_exe=$(runuser -u wayshub -- readlink "/proc/$pid/exe")"
echo "proc_cwd=$(runuser -u wayshub -- readlink "/proc/$pid/cwd")"
echo "proc_release=$(runuser -u wayshub -- tr '\0' '\n' < "/proc/$pid/environ" | sed -n 's/^WAYSHUB_RELEASE=//p')"
"""
    out = site.sh(server, script, check=False).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def assert_coherent(site: Site, server: str, rid: str) -> None:
    """The host runs release ``rid`` whole: its files, its Node, its code and its env, under its unit."""
    state = host_state(site, server)
    assert state.get("rid") == rid, state
    assert (state.get("has_start"), state.get("has_env"), state.get("has_unit")) == ("1", "1", "1"), state
    assert state.get("env_mode") == "600", state
    assert state.get("unit_installed") == "1", "the installed unit is the one the release carries"
    assert state.get("active") == "active", state
    assert state.get("proc_exe") == state.get("node"), "the process runs the release's Node"
    assert state.get("proc_cwd") == state.get("code"), "the process runs in the release's code"
    assert state.get("proc_release") == rid, "the process has the release's env"


def served(site: Site, server: str) -> str:
    """The app's answer on its own host (port 3000), fetched with the release's Node."""
    probe = "require('http').get('http://127.0.0.1:3000/', r => { let b=''; r.on('data', d => b += d); r.on('end', () => console.log(b)) })"
    return site.sh(server, f"/opt/wayshub/current/bin/node -e {shlex.quote(probe)}").stdout.strip()


def deploy_whole(site: Site, shape: str) -> str:
    """Deploy a fixture shape under load; it succeeds and every host runs the new release whole."""
    done = deploy(site, SHAPES[shape])
    assert done.up.returncode == 0, done.up.output[-3000:]
    rid = str(site.cli.outputs()["release"])
    for server in APP_SERVERS:
        assert_coherent(site, server, rid)
    return rid


def env_lines(site: Site, server: str) -> list[str]:
    return site.sh(server, "cat /opt/wayshub/current/env").stdout.splitlines()


def test_a_plain_app_with_no_dependencies_deploys_on_the_distros_node(apps_site: Site, tmp_path: Path) -> None:
    deploy_whole(apps_site, "plain")
    for server in APP_SERVERS:
        assert apps_site.sh(server, "tail -n 1 /opt/wayshub/current/start").stdout == "exec node src/main.js\n"
        env = env_lines(apps_site, server)
        assert "APP_PORT=3000" in env and "PORT=3000" not in env
        assert {"WORKERS=4", "DEBUG=true"} <= set(env)
        assert '"app":"plain"' in served(apps_site, server)
    assert apps_site.cli.outputs()["app"]["node"] == "apt any"


def test_an_app_with_a_build_step_ships_its_output_without_dev_dependencies(apps_site: Site, tmp_path: Path) -> None:
    deploy_whole(apps_site, "built")
    for server in APP_SERVERS:
        listing = apps_site.sh(server, "cd /opt/wayshub/current/app && ls dist node_modules").stdout.split()
        assert "server.js" in listing and "ms" in listing
        assert "typescript" not in listing, "dev dependencies are pruned from the release"
        assert {"PORT=3000", "HTTP_PORT=3000"} <= set(env_lines(apps_site, server))
        assert '"app":"built"' in served(apps_site, server)


def test_an_esm_app_without_lockfile_runs_the_node_its_nvmrc_names(apps_site: Site, tmp_path: Path) -> None:
    deploy_whole(apps_site, "esm")
    node = apps_site.cli.outputs()["app"]["node"]
    assert node.startswith("binary 20.")
    version = node.split()[1]
    for server in APP_SERVERS:
        assert apps_site.sh(server, "/opt/wayshub/current/bin/node --version").stdout.strip() == f"v{version}"
        assert f'"node":"v{version}"' in served(apps_site, server)
        # Shipped from here: the server has no node of its own on PATH for it.
        assert apps_site.sh(server, "readlink -f /opt/wayshub/current/bin/node").stdout.startswith("/opt/wayshub/node/")


def write_broken(site: Site, code: str) -> None:
    (site.project / "apps" / "plain" / "src" / "main.js").write_text(code)


@pytest.mark.parametrize("kind", list(BROKEN))
def test_a_broken_release_fails_on_the_first_host_and_leaves_every_host_coherent(
    apps_site: Site, tmp_path: Path, kind: str
) -> None:
    healthy = FIXTURES / "plain" / "src" / "main.js"
    write_broken(apps_site, healthy.read_text())
    first = deploy(apps_site, SHAPES["plain"])
    assert first.up.returncode == 0, first.up.output[-3000:]
    before = apps_site.cli.outputs()["release"]

    code, reason = BROKEN[kind]
    write_broken(apps_site, code)
    try:
        broken = deploy(apps_site, SHAPES["plain"])
    finally:
        write_broken(apps_site, healthy.read_text())
    output = broken.up.output
    assert broken.up.returncode != 0, "an up with a failing release must fail"
    assert "wayshub on app1: release" in output and reason in output, output[-3000:]
    assert f"rolled back to {before} (healthy)" in output and "Journal:" in output
    if kind == "exits at start":
        assert "boom: missing DATABASE_URL" in output, "the journal tail shows why"
    assert broken.up.started("app2-app-release") is None, "no further host may be touched"
    for server in APP_SERVERS:
        assert_coherent(apps_site, server, before)
    # Coherent means it stays so: a restart of the unit runs the same whole release.
    apps_site.sh("app1", "systemctl restart wayshub")
    time.sleep(1)
    assert_coherent(apps_site, "app1", before)


def test_after_failed_rollouts_a_restarted_server_serves_and_the_next_up_converges(
    apps_site: Site, tmp_path: Path
) -> None:
    before = apps_site.cli.outputs()["release"]
    subprocess.run(["docker", "restart", apps_site.container("app1")], check=True, capture_output=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and host_state(apps_site, "app1").get("active") != "active":
        time.sleep(1)
    assert_coherent(apps_site, "app1", before)
    # A fixed app (back to the sample, the default shape) converges with no manual step.
    write_stack_config(apps_site, app_servers=APP_SERVERS)
    with BackgroundLoad(HTTP_PORT, DOMAIN, min_requests=MIN_REQUESTS, max_seconds=900) as load:
        up = up_with_events(apps_site.cli)
    assert up.returncode == 0, up.output[-3000:]
    assert load.report.failed == 0, load.report.error_samples
    rid = apps_site.cli.outputs()["release"]
    for server in APP_SERVERS:
        assert_coherent(apps_site, server, rid)
    status, headers = get_http_headers("/health")
    assert status == 200 and headers.get("x-wayshub-release") == rid
