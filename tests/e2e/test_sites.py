"""Several sites behind one load balancer (issue 31, docs/sites.md), on sandbox VMs, in file order.

The stack is first deployed as one site by the code before ``wayshub:sites`` existed; the current code must find
nothing to change in it. Then a second site (another fixture app, on one of the two app servers, with its own
self-signed certificate) is added, changed, broken, rolled back and removed while the first site is under
continuous load: not one GET of the first site may fail, and nginx is never restarted (its master process stays).
"""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bench.loadgen import BackgroundLoad
from components.layout import SITE_TYPE
from tests.e2e import slots
from tests.e2e.old_code import code_before, export_tree, use_program
from tests.e2e.pulumi_cli import REPO, PulumiCli, Ran, engine_env, stack_file_text, up_with_events
from tests.e2e.site import COMMANDS, SAMPLE_APP, docker_names, vm_sh

pytestmark = pytest.mark.e2e

STACK = slots.SITES_STACK
HTTP_PORT = slots.SITES_HTTP_PORT
HTTPS_PORT = HTTP_PORT + 1
DOMAIN = "wayshub.local"
SHOP = "shop.local"
SHOP_ALIAS = "www.shop.local"
MIN_REQUESTS = 1500
FIXTURES = REPO / "tests" / "fixtures" / "apps"
# The second site: fixture (a) (no dependencies, `npm start`, port from APP_PORT, /healthz) on app2 only.
SHOP_APP: dict[str, Any] = {
    "source": "apps/plain",
    "port": 3001,
    "portEnv": "APP_PORT",
    "health": {"path": "/healthz", "timeoutSeconds": 8, "intervalSeconds": 0.5},
}


def shop_site(**app: Any) -> dict[str, Any]:
    return {
        "name": "shop",
        "domain": SHOP,
        "aliases": [SHOP_ALIAS],
        "servers": ["app2"],
        "tls": "self-signed",
        "app": {**SHOP_APP, **app},
    }


@dataclass
class Stack:
    project: Path
    root: Path
    hosts_file: Path
    image: str

    def cli(self, code: Path = REPO) -> PulumiCli:
        use_program(self.project, code)
        env = engine_env(self.root / "state", self.root / "home")
        return PulumiCli(self.project, {**env, "PYTHONPATH": str(code)})

    def write_config(self, sites: list[dict[str, Any]] | None = None) -> None:
        config: dict[str, Any] = {
            "wayshub:commands": COMMANDS,  # as every site stack sets it (tests/e2e/site.py)
            "wayshub:domain": DOMAIN,
            "wayshub:app": SAMPLE_APP,
            "wayshub:hosts": {
                "provider": "sandbox",
                "user": "deploy",
                "appServers": [{"name": "app1"}, {"name": "app2"}],
                "lbServer": {"name": "lb"},
            },
            "wayshub:sandbox": {
                "image": self.image,
                "network": f"wayshub-{STACK}",
                "subnet": f"{slots.SITES_SUBNET_PREFIX}.0/24",
                "sshPortBase": slots.SITES_SSH_PORT_BASE,
                "httpPort": HTTP_PORT,
                "httpsPort": HTTPS_PORT,
            },
            "wayshub:hostsFile": {"path": str(self.hosts_file), "address": "127.0.0.1"},
        }
        if sites is not None:
            config["wayshub:sites"] = sites
        stacks = self.project / "stacks"
        stacks.mkdir(exist_ok=True)
        (stacks / f"Pulumi.{STACK}.yaml").write_text(stack_file_text(config))

    def nginx_pid(self) -> str:
        return vm_sh(f"wayshub-{STACK}-lb", "cat /run/nginx.pid").stdout.strip()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, sandbox_image: str) -> Iterator[Stack]:
    """One site (app1, app2, lb) deployed by the code before ``wayshub:sites``."""
    root = tmp_path_factory.mktemp("sites")
    old_code = root / "old-code"
    export_tree(code_before("components/config/sites.py"), old_code)
    project = root / "project"
    project.mkdir()
    shutil.copytree(REPO / "app", project / "app", ignore=shutil.ignore_patterns("node_modules"))
    shutil.copytree(FIXTURES, project / "apps", ignore=shutil.ignore_patterns("node_modules", "dist"))
    hosts_file = root / "hosts"
    hosts_file.write_text("127.0.0.1\tlocalhost\n")
    made = Stack(project, root, hosts_file, sandbox_image)
    made.write_config()
    old = made.cli(old_code)
    old.init_stack(STACK)
    try:
        old.up()
        yield made
    finally:
        made.cli().destroy(check=False)
        for leftover in docker_names(f"label=wayshub.stack={STACK}"):
            subprocess.run(["docker", "rm", "--force", leftover], check=False)
        subprocess.run(["docker", "network", "rm", f"wayshub-{STACK}"], capture_output=True, check=False)


def get(domain: str, path: str = "/") -> tuple[int, str]:
    """One GET over plain HTTP through the LB with ``domain`` as the Host header: status and body."""
    conn = http.client.HTTPConnection("127.0.0.1", HTTP_PORT, timeout=5.0)
    try:
        conn.request("GET", path, headers={"Host": domain})
        response = conn.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        conn.close()


def get_https(domain: str, ca_pem: str, path: str = "/") -> tuple[int, str]:
    """One GET over HTTPS (SNI ``domain``), trusting only ``ca_pem``."""
    context = ssl.create_default_context(cadata=ca_pem)
    with (
        socket.create_connection(("127.0.0.1", HTTPS_PORT), timeout=5.0) as raw,
        context.wrap_socket(raw, server_hostname=domain) as tls,
    ):
        tls.sendall(f"GET {path} HTTP/1.0\r\nHost: {domain}\r\n\r\n".encode())  # 1.0: no chunked body
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
    head, _, body = data.decode(errors="replace").partition("\r\n\r\n")
    return int(head.split()[1]), body


def refused(domain: str) -> bool:
    """Whether a plain-HTTP GET for ``domain`` gets no response at all (nginx's 444 closes the connection)."""
    try:
        get(domain)
    except (http.client.RemoteDisconnected, ConnectionResetError):
        return True
    return False


def up_under_load(cli: PulumiCli) -> Ran:
    """An `up` while the stack's own site takes continuous GETs: none may fail."""
    with BackgroundLoad(HTTP_PORT, DOMAIN, min_requests=MIN_REQUESTS, max_seconds=900) as load:
        up = up_with_events(cli)
    print(f"\n{load.report.summary()}")
    assert load.report.total >= MIN_REQUESTS
    assert load.report.failed == 0, load.report.error_samples
    return up


def test_the_current_code_keeps_every_resource_of_a_single_site_stack_the_old_code_made(stack: Stack) -> None:
    new = stack.cli()
    steps = new.preview_steps()
    # Same URNs, nothing made anew, removed or replaced. An update re-runs a step in place: later commits may
    # change a step's script (test_command_interface.py allows the same), never its name or what it makes. The
    # Site component (issue #38) is made once, around the resources it takes over (test_site_component.py).
    changed = [
        (s.op, s.name) for s in steps if s.op not in ("same", "update") and (s.op, s.type) != ("create", SITE_TYPE)
    ]
    assert changed == [], f"an upgraded single-site stack would change: {changed}"


def test_a_second_site_is_refused_in_one_line_when_it_takes_the_first_ones_domain(stack: Stack) -> None:
    stack.write_config([{**shop_site(), "aliases": [DOMAIN]}])
    preview = stack.cli().preview(check=False)
    assert preview.returncode != 0
    assert "wayshub: sites[0].aliases[0] wayshub.local is also domain: every site needs names of its own" in (
        preview.output
    ), preview.output[-2000:]
    assert "Traceback" not in preview.output
    assert not [s for s in preview.steps if s.op not in ("same",)], "a refused config planned steps"


def test_adding_a_site_never_fails_a_get_of_the_first_and_never_restarts_nginx(stack: Stack) -> None:
    cli = stack.cli()
    pid = stack.nginx_pid()
    stack.write_config([shop_site()])
    up = up_under_load(cli)
    assert up.returncode == 0, up.output[-3000:]
    assert stack.nginx_pid() == pid, "nginx was restarted"
    shop = cli.outputs()["sites"]["shop"]
    assert shop["url"] == f"https://{SHOP}:{HTTPS_PORT}/"
    assert shop["backends"] == [f"{slots.SITES_SUBNET_PREFIX}.12:3001"], shop
    for name in (SHOP, SHOP_ALIAS):
        status, body = get_https(name, shop["ca_certificate"])
        assert status == 200 and json.loads(body)["app"] == "plain", body
    status, body = get(DOMAIN, "/health")
    assert status == 200 and cli.outputs()["release"] in body
    # The second site's own app on app2 only, beside the first one's; its plain HTTP moves to HTTPS.
    assert "shop" in vm_sh(f"wayshub-{STACK}-app2", "systemctl is-active shop.service && id -un shop").stdout
    assert vm_sh(f"wayshub-{STACK}-app1", "id shop", check=False).returncode != 0
    assert get(SHOP)[0] == 301
    # A name neither site has is refused, on both ports; the hosts file holds both sites' names.
    assert refused("nobody.local")
    with pytest.raises(ssl.SSLError):
        get_https("nobody.local", shop["ca_certificate"])
    hosts = stack.hosts_file.read_text()
    assert f"127.0.0.1\t{DOMAIN}" in hosts and f"{SHOP} {SHOP_ALIAS}" in hosts, hosts
    # And nothing left to do.
    assert [(s.op, s.name) for s in cli.preview_steps() if s.op != "same"] == []


def ops(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    """scripts/ops (what make status/logs/ssh/exec run) on this stack."""
    command = [sys.executable, str(REPO / "scripts" / "ops"), "--stack", STACK, "--project", str(stack.project), *args]
    return subprocess.run(command, env=stack.cli().env, capture_output=True, text=True, timeout=300, check=False)


def test_the_ops_tools_see_every_site_and_one_site_with_site(stack: Stack) -> None:
    every = ops(stack, "status")
    assert every.returncode == 0, every.stdout + every.stderr
    assert "shop" in every.stdout and DOMAIN in every.stdout, every.stdout
    shop = ops(stack, "--site", "shop", "status")
    assert shop.returncode == 0, shop.stdout + shop.stderr
    assert "app1" not in shop.stdout and "app2" in shop.stdout, shop.stdout
    ran = ops(stack, "--site", "shop", "exec", "pwd; systemctl is-active $WAYSHUB_UNIT")
    assert ran.returncode == 0 and "/opt/shop" in ran.stdout and "active" in ran.stdout, ran.stdout + ran.stderr
    unknown = ops(stack, "--site", "nope", "status")
    assert unknown.returncode == 2 and "no site 'nope'" in unknown.stderr, unknown.stderr


def test_drift_of_one_site_is_read_back_for_that_site_alone_and_repaired(stack: Stack) -> None:
    """make refresh SITE=shop: pulumi refresh --target each of the site's resources (scripts/ops targets)."""
    cli = stack.cli()
    vm_sh(f"wayshub-{STACK}-app2", "systemctl stop shop.service")
    urns = ops(stack, "--site", "shop", "targets").stdout.split()
    assert urns and all("::shop-" in urn for urn in urns), urns
    refreshed = cli.run("refresh", "--yes", "--stack", STACK, *[f"--target={urn}" for urn in urns])
    assert "shop-app2-app-state" in refreshed.stdout and "app2-app-state" not in refreshed.stdout.replace(
        "shop-app2-app-state", ""
    ), refreshed.stdout[-3000:]
    changed = {s.name for s in cli.preview_steps() if s.op != "same"}
    assert "shop-app2-app-release" in changed and not [n for n in changed if not n.startswith("shop-")], changed
    cli.up()
    assert vm_sh(f"wayshub-{STACK}-app2", "systemctl is-active shop.service").stdout.strip() == "active"


def test_a_new_release_and_a_broken_one_of_the_second_site_leave_the_first_untouched(stack: Stack) -> None:
    cli = stack.cli()
    pid = stack.nginx_pid()
    first = cli.outputs()["release"]
    before = cli.outputs()["sites"]["shop"]["release"]
    stack.write_config([shop_site(env={"GREETING": "hello"})])
    up = up_under_load(cli)
    assert up.returncode == 0, up.output[-3000:]
    changed = cli.outputs()["sites"]["shop"]
    assert changed["release"] != before and changed["releases"] == [changed["release"]]
    # A release of the second site that never starts: that `up` fails, the first site is as it was.
    main_js = stack.project / "apps" / "plain" / "src" / "main.js"
    good = main_js.read_text()
    main_js.write_text("console.error('boom: missing DATABASE_URL'); process.exit(1);\n")
    try:
        up = up_under_load(cli)
    finally:
        main_js.write_text(good)
    assert up.returncode != 0 and "the app exited" in up.output, up.output[-3000:]
    touched = {name for name in up.changed() if not name.startswith("shop-") and not name.endswith(f"-{STACK}")}
    assert not touched, f"a broken release of the second site touched the first site: {touched}"
    assert cli.outputs()["release"] == first
    status, body = get_https(SHOP, changed["ca_certificate"])
    assert status == 200 and json.loads(body)["app"] == "plain", "the second site's previous release stopped serving"
    assert stack.nginx_pid() == pid, "nginx was restarted"
    # Rolled back to the release before the change, by its id.
    stack.write_config([shop_site(releasePin=before)])
    up = up_under_load(cli)
    assert up.returncode == 0, up.output[-3000:]
    assert cli.outputs()["sites"]["shop"]["releases"] == [before]
    assert stack.nginx_pid() == pid, "nginx was restarted"


# A third site: fixture (a) again, serving /api of the first site's domain, on app1.
API_SITE: dict[str, Any] = {
    "name": "api",
    "domain": DOMAIN,
    "path": "/api",
    "servers": ["app1"],
    "app": {**SHOP_APP, "port": 3002},
}


def test_a_site_serving_a_path_of_the_first_sites_domain_never_fails_a_get_of_the_first(stack: Stack) -> None:
    cli = stack.cli()
    pid = stack.nginx_pid()
    stack.write_config([shop_site(), API_SITE])
    up = up_under_load(cli)
    assert up.returncode == 0, up.output[-3000:]
    assert stack.nginx_pid() == pid, "nginx was restarted"
    for path in ("/api", "/api/", "/api/orders?id=1"):
        status, body = get(DOMAIN, path)
        assert status == 200 and json.loads(body) == {**json.loads(body), "app": "plain", "host": "app1"}, body
    status, body = get(DOMAIN, "/health")
    assert status == 200 and cli.outputs()["release"] in body, "the rest of the domain is the first site's"
    assert '"app":"plain"' not in get(DOMAIN, "/apis")[1], "only /api and below: /apis is the first site's"
    assert cli.outputs()["sites"]["api"]["url"] == f"http://{DOMAIN}:{HTTP_PORT}/api/"
    assert [(s.op, s.name) for s in cli.preview_steps() if s.op != "same"] == []


def test_removing_the_other_sites_never_fails_a_get_of_the_first_and_leaves_nothing(stack: Stack) -> None:
    cli = stack.cli()
    pid = stack.nginx_pid()
    # make destroy SITE=api: the site leaves the stack's config (scripts/ops remove-site), the up removes it.
    removed = ops(stack, "--site", "api", "remove-site")
    assert removed.returncode == 0 and "removed wayshub:sites[1]" in removed.stdout, removed.stdout + removed.stderr
    assert [site["name"] for site in json.loads(cli.get_config("wayshub:sites"))] == ["shop"]
    up = up_under_load(cli)
    assert up.returncode == 0, up.output[-3000:]
    assert set(cli.outputs()["sites"]) == {"shop"}
    # Only its own resources, and the first site's file (with what refresh reads of it), which no longer includes
    # the folder of its paths ("default": the engine's default provider, registered on every run).
    others = {name for name in up.changed() if not name.startswith("api-") and not name.endswith(f"-{STACK}")}
    assert others <= {"lb-site", "lb-state", "default"}, others
    stack.write_config()
    up = up_under_load(cli)
    assert up.returncode == 0, up.output[-3000:]
    assert stack.nginx_pid() == pid, "nginx was restarted"
    assert "sites" not in cli.outputs()
    lb = vm_sh(
        f"wayshub-{STACK}-lb",
        "ls /etc/nginx/conf.d /etc/nginx/wayshub 2>&1; systemctl list-units --all --plain 'wayshub-*'",
    ).stdout
    assert "shop" not in lb and "api" not in lb and "unknown-names" not in lb, lb
    assert "/etc/nginx/wayshub': No such file" in lb, lb
    assert vm_sh(f"wayshub-{STACK}-app2", "id shop", check=False).returncode != 0
    assert SHOP not in stack.hosts_file.read_text()
    status, body = get(DOMAIN, "/health")
    assert status == 200 and cli.outputs()["release"] in body
