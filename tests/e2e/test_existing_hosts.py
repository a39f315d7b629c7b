"""``hosts.provider: existing`` against servers the program did not make (tests/e2e/other_servers.py).

In file order, on one set of servers: first the failures, on pristine servers (each stops at the
probe, one line naming server, user and host, and touches nothing); then the staging and prod stack
files previewed against these servers; then the whole site deployed as the ``ubuntu`` user with sudo,
proven, left unchanged by a second ``up`` and by ``refresh``, and destroyed without leftovers.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config import parse
from components.hosts.ssh_key import generate_ed25519
from tests.e2e import slots
from tests.e2e.other_servers import (
    HTTP_PORT,
    NO_SUDO_USER,
    PASSWORD_SUDO_USER,
    SUBNET_PREFIX,
    UNUSED_SSH_PORT,
    USER,
    OtherServers,
    Server,
    other_servers,
)
from tests.e2e.pulumi_cli import REPO, PulumiCli, copy_program, engine_env, stack_file_text
from tests.e2e.site import COMMANDS, missing_plugin

pytestmark = pytest.mark.e2e

DOMAIN = "ext.wayshub.test"
APP = "wayshub"
DIAL_SECONDS = 5
USER_HOSTS_LINES = "127.0.0.1\tlocalhost\n# kept byte for byte\n"
# The sample app's stricter health check: /health reports the release the host switched to.
SAMPLE_HEALTH = {"path": "/health", "bodyContains": '"version":"{release}"'}


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory, sandbox_image: str) -> Iterator[OtherServers]:
    with other_servers(sandbox_image, tmp_path_factory.mktemp("ext-servers")) as made:
        yield made


@dataclass
class Stack:
    cli: PulumiCli
    name: str
    root: Path

    @property
    def file(self) -> Path:
        return self.cli.workdir / "stacks" / f"Pulumi.{self.name}.yaml"

    def configure(self, config: dict[str, Any]) -> None:
        """Replace the stack's settings, keeping what `pulumi config set --secret` stored."""
        current = yaml.safe_load(self.file.read_text()) or {}
        kept = {k: v for k, v in (current.get("config") or {}).items() if k == "wayshub:sshPrivateKey"}
        others = {key: value for key, value in current.items() if key != "config"}
        self.file.write_text(stack_file_text({**config, **kept}, **others))

    def made(self) -> list[str]:
        """The names of the resources in the state that did something (not components or providers)."""
        state = self.cli.state()
        resources = state["deployment"].get("resources") or []
        return [r["urn"].rsplit("::", 1)[-1] for r in resources if r["type"].startswith("pulumi-python:dynamic")]


def new_stack(root: Path, name: str, private_key: str) -> Stack:
    project = root / "project"
    copy_program(project)
    (project / "stacks").mkdir()
    cli = PulumiCli(project, engine_env(root / "state", root / "home"))
    cli.init_stack(name)
    cli.set_config("wayshub:sshPrivateKey", private_key, secret=True)
    return Stack(cli, name, root)


def server_entry(server: Server, **overrides: object) -> dict[str, object]:
    return {
        "name": server.name,
        "address": "127.0.0.1",
        "sshPort": server.ssh_port,
        "privateAddress": server.private_address,
        **overrides,
    }


def existing_hosts(servers: OtherServers, known_hosts: Path, **per_server: dict[str, object]) -> dict[str, object]:
    return {
        "provider": "existing",
        "user": USER,
        "knownHostsFile": str(known_hosts),
        "dialTimeoutSeconds": DIAL_SECONDS,
        "appServers": [server_entry(servers.server(n), **per_server.get(n, {})) for n in ("app1", "app2")],
        "lbServer": server_entry(servers.server("lb"), **per_server.get("lb", {})),
    }


def site_config(hosts: dict[str, object], hosts_file: Path, app: str = APP) -> dict[str, Any]:
    """The stack's settings; ``wayshub:commands`` set explicitly, as in every site stack (tests/e2e/site.py)."""
    if why := missing_plugin(os.environ.get("PATH", "")):
        pytest.skip(why)
    return {
        "wayshub:commands": COMMANDS,
        "wayshub:domain": DOMAIN,
        "wayshub:hosts": hosts,
        "wayshub:app": {"name": app, "health": SAMPLE_HEALTH},
        "wayshub:lb": {"listenPort": 80},
        "wayshub:hostsFile": {"path": str(hosts_file), "address": "127.0.0.1"},
    }


# --- Failures: each stops at the probe, before anything is touched on any server. ---

FAILING_APP = "extfail"


@pytest.fixture(scope="module")
def failing(tmp_path_factory: pytest.TempPathFactory, servers: OtherServers) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("extfail")
    stack = new_stack(root, slots.name("extfail"), servers.private_key)
    try:
        yield stack
    finally:
        stack.cli.destroy(check=False)
        stack.cli.remove_stack(force=True, check=False)


def failing_up(stack: Stack, servers: OtherServers, known_hosts: Path | None = None, **per_server: Any) -> str:
    """A first `up` that must fail (the previous case's probes are forgotten first)."""
    stack.cli.destroy()
    hosts_file = stack.root / "hosts"
    hosts_file.write_text(USER_HOSTS_LINES)
    hosts = existing_hosts(servers, known_hosts or servers.known_hosts, **per_server)
    stack.configure(site_config(hosts, hosts_file, app=FAILING_APP))
    result = stack.cli.up(check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert "Traceback" not in output, f"a probe's failure must be our line alone:\n{output[-4000:]}"
    # Nothing half-done: the probes ran, nothing after them; the hosts file is as it was.
    assert set(stack.made()) <= {"app1-probe", "app2-probe", "lb-probe"}, stack.made()
    assert hosts_file.read_text() == USER_HOSTS_LINES
    for server in servers.servers:
        leftovers = servers.sh(
            server.name,
            f"ls -d /opt/{FAILING_APP} /etc/{FAILING_APP} /etc/nginx 2>/dev/null; "
            f"getent passwd {FAILING_APP}; command -v nginx node; true",
        ).stdout
        assert leftovers == "", f"{server.name} was touched: {leftovers}"
    return output


def the_line(output: str, pattern: str) -> str:
    """The one error line matching ``pattern``, as the diagnostics show it (the progress repeats it after the
    resource's name)."""
    lines = sorted({line.strip() for line in output.splitlines() if re.search(pattern, line)})
    lines = [line for line in lines if line.startswith("error: ")]
    assert len(lines) == 1, f"expected one distinct line matching {pattern!r}, got {lines}\n{output[-4000:]}"
    return lines[0]


def test_a_user_without_sudo_rights_and_sudo_that_asks_a_password_fail_at_the_probe(
    failing: Stack, servers: OtherServers
) -> None:
    output = failing_up(failing, servers, app1={"user": NO_SUDO_USER}, app2={"user": PASSWORD_SUDO_USER})
    app1, app2 = servers.server("app1"), servers.server("app2")
    line = the_line(output, rf"app1: {NO_SUDO_USER}@127\.0\.0\.1:{app1.ssh_port}")
    assert f"{NO_SUDO_USER} has no sudo rights" in line and f"'{NO_SUDO_USER} ALL=(ALL) NOPASSWD:ALL'" in line
    line = the_line(output, rf"app2: {PASSWORD_SUDO_USER}@127\.0\.0\.1:{app2.ssh_port}")
    assert f"sudo asks {PASSWORD_SUDO_USER} for a password" in line


def test_a_key_the_servers_do_not_accept_fails_at_the_probe(failing: Stack, servers: OtherServers) -> None:
    wrong_key, _ = generate_ed25519("not-authorized")
    failing.cli.set_config("wayshub:sshPrivateKey", wrong_key, secret=True)
    try:
        output = failing_up(failing, servers)
    finally:
        failing.cli.set_config("wayshub:sshPrivateKey", servers.private_key, secret=True)
    lb = servers.server("lb")
    line = the_line(output, rf"lb: {USER}@127\.0\.0\.1:{lb.ssh_port} did not accept our SSH key")
    assert f"within {DIAL_SECONDS}s" in line and "pulumi stack output ssh_public_key" in line


def test_a_host_key_not_in_known_hosts_is_refused_and_the_message_says_how_to_verify_it(
    failing: Stack, servers: OtherServers
) -> None:
    app2 = servers.server("app2")
    partial = failing.root / "known_hosts_without_app2"
    partial.write_text(
        "".join(
            line + "\n" for line in servers.known_hosts.read_text().splitlines() if f"]:{app2.ssh_port} " not in line
        )
    )
    output = failing_up(failing, servers, known_hosts=partial)
    line = the_line(output, rf"app2: host key of 127\.0\.0\.1:{app2.ssh_port}")
    assert f"is not in {partial}: refusing to connect as {USER}" in line
    assert "ssh-keyscan" not in line, "trust on first use is never advised"
    assert "verify it out of band" in line and "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub" in line
    # The fingerprint to compare is the one ssh-keygen prints for the server's own key (read out of band:
    # here the known_hosts line the test servers' fixture wrote).
    theirs = next(x for x in servers.known_hosts.read_text().splitlines() if f"]:{app2.ssh_port} " in x)
    key_file = failing.root / "app2-host-key.pub"
    key_file.write_text(theirs.split(" ", 1)[1] + "\n")
    printed = subprocess.run(["ssh-keygen", "-lf", str(key_file)], check=True, capture_output=True, text=True)
    assert printed.stdout.split()[1] in line


def test_a_server_that_is_down_fails_within_the_dial_limit(failing: Stack, servers: OtherServers) -> None:
    output = failing_up(failing, servers, app1={"sshPort": UNUSED_SSH_PORT})
    line = the_line(output, rf"app1: cannot reach {USER}@127\.0\.0\.1:{UNUSED_SSH_PORT}")
    assert f"over SSH within {DIAL_SECONDS}s" in line and "connection refused" in line


def test_the_public_key_for_the_servers_authorized_keys_comes_before_any_server_is_touched(
    failing: Stack, servers: OtherServers
) -> None:
    # The docs' recipe: an `up` of the stack resource alone records the outputs and touches no server.
    failing.cli.destroy()
    hosts = existing_hosts(servers, servers.known_hosts, app1={"sshPort": UNUSED_SSH_PORT})
    failing.configure(site_config(hosts, failing.root / "hosts", app=FAILING_APP))
    stack_urn = f"urn:pulumi:{failing.name}::wayshub::pulumi:pulumi:Stack::wayshub-{failing.name}"
    failing.cli.up(target=[stack_urn])
    assert failing.made() == []
    public_key = failing.cli.outputs()["ssh_public_key"]
    assert public_key.split()[:2] == servers.public_key.split()[:2]
    assert public_key.endswith(f" wayshub-{failing.name}")


# --- The stack files in stacks/: previewed with their servers pointed at these. ---


@pytest.mark.parametrize("name", ["staging", "prod"])
def test_the_stack_file_previews_against_these_servers(name: str, tmp_path: Path, servers: OtherServers) -> None:
    config = yaml.safe_load((REPO / "stacks" / f"Pulumi.{name}.yaml").read_text())["config"]
    hosts = config["wayshub:hosts"]
    # Only where the servers are and who logs in changes; every other setting is the file's.
    for entry in [*hosts["appServers"], hosts["lbServer"]]:
        server = servers.server(entry["name"])
        entry.update(address="127.0.0.1", sshPort=server.ssh_port, privateAddress=server.private_address)
    hosts.update(user=USER, knownHostsFile=str(servers.known_hosts))
    if config.get("wayshub:hostsFile", {}).get("enabled", True):
        (tmp_path / "hosts").write_text(USER_HOSTS_LINES)
        config["wayshub:hostsFile"] = {**config["wayshub:hostsFile"], "path": str(tmp_path / "hosts")}
    stack = new_stack(tmp_path, name, servers.private_key)
    stack.configure(config)

    steps = stack.cli.preview_steps()
    created = {s.name: s for s in steps if s.op == "create"}
    assert {"app1-probe", "app2-probe", "lb-probe", "preflight", "app1-app-release", "lb-site"} <= set(created)
    lb = parse({k.removeprefix("wayshub:"): v for k, v in config.items()}).lb
    site = json.dumps(created["lb-site"].inputs)
    for app in ("app1", "app2"):
        address = servers.server(app).private_address
        assert f"server {address}:3000 max_fails={lb.max_fails} fail_timeout={lb.fail_timeout};" in site
    assert stack.made() == [], "a preview changes nothing"


# --- The whole site on these servers, as `ubuntu` with passwordless sudo. ---


@dataclass
class Deployed:
    stack: Stack
    hosts_file: Path
    first_up: dict[str, int]


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory, servers: OtherServers) -> Iterator[Deployed]:
    root = tmp_path_factory.mktemp("ext")
    stack = new_stack(root, slots.EXT, servers.private_key)
    hosts_file = root / "hosts"
    hosts_file.write_text(USER_HOSTS_LINES)
    stack.configure(site_config(existing_hosts(servers, servers.known_hosts), hosts_file))
    try:
        yield Deployed(stack, hosts_file, stack.cli.up_summary())
    finally:
        stack.cli.destroy(check=False)
        stack.cli.remove_stack(force=True, check=False)


def get(path: str = "/", domain: str = DOMAIN) -> tuple[int, str]:
    """One GET through the LB (its port 80 on 127.0.0.1:HTTP_PORT) with the site's Host header (``domain``'s)."""
    conn = http.client.HTTPConnection("127.0.0.1", HTTP_PORT, timeout=5)
    try:
        conn.request("GET", path, headers={"Host": domain})
        response = conn.getresponse()
        response.read()
        return response.status, response.getheader("X-Wayshub-Backend", "")
    finally:
        conn.close()


def test_the_whole_site_deploys_and_both_backends_answer_through_the_lb(
    deployed: Deployed, servers: OtherServers
) -> None:
    assert deployed.first_up.get("create", 0) >= 20, deployed.first_up
    outputs = deployed.stack.cli.outputs()
    assert outputs["backends"] == [f"{SUBNET_PREFIX}.11:3000", f"{SUBNET_PREFIX}.12:3000"]
    assert outputs["ssh_public_key"].split()[:2] == servers.public_key.split()[:2]
    answers = [get() for _ in range(40)]
    assert {status for status, _ in answers} == {200}
    assert {backend for _, backend in answers} == {"app1", "app2"}
    name = deployed.stack.name
    block = f"# BEGIN wayshub-infra {name}\n127.0.0.1\t{DOMAIN}\n# END wayshub-infra {name}\n"
    assert deployed.hosts_file.read_text() == USER_HOSTS_LINES + block
    # The app runs as its own system user, not as the login user or root.
    owner = servers.sh("app1", "ps -o user= -C node | sort -u").stdout.split()
    assert owner == [APP]


def test_with_one_app_server_stopped_the_site_still_answers(deployed: Deployed, servers: OtherServers) -> None:
    servers.sh("app1", f"systemctl stop {APP}")
    try:
        answers = [get() for _ in range(100)]
        assert Counter(status for status, _ in answers) == {200: 100}
        assert {backend for _, backend in answers} == {"app2"}
    finally:
        servers.sh("app1", f"systemctl start {APP}")
    seen: set[str] = set()
    for _ in range(120):
        status, backend = get()
        seen |= {backend} if status == 200 else set()
        if seen == {"app1", "app2"}:
            break
        time.sleep(0.25)
    assert seen == {"app1", "app2"}


def test_a_second_up_changes_nothing(deployed: Deployed) -> None:
    summary = deployed.stack.cli.up_summary()
    assert set(summary) == {"same"}, summary


def test_refresh_finds_everything_as_deployed(deployed: Deployed) -> None:
    changes = deployed.stack.cli.refresh().changes
    assert set(changes) == {"same"}, changes


SHOP = "shop.ext.wayshub.test"
SHOP_APP = "shop"  # its app's user, unit and folders (the site's name)


def test_a_second_site_is_surveyed_then_taken_over_and_serves_beside_the_first(
    deployed: Deployed, servers: OtherServers
) -> None:
    """Issue 31 on servers of someone else's: a process of theirs on the second site's port stops the `up`
    before any of that site's steps, naming it; with hosts.takeover the site takes the port over and deploys."""
    config = site_config(existing_hosts(servers, servers.known_hosts), deployed.hosts_file)
    site = {"name": "shop", "domain": SHOP, "servers": ["app2"], "app": {"port": 3001}}
    deployed.stack.configure({**config, "wayshub:sites": [site]})
    start = f"su - {USER} -c 'nohup python3 -m http.server 3001 >/dev/null 2>&1 & echo $!'"
    pid = servers.sh("app2", start).stdout.strip()
    result = deployed.stack.cli.up(check=False)
    assert result.returncode != 0
    assert f"app2: port 3001 is held by pid {pid} `python3 -m http.server 3001` of user {USER}" in result.output
    assert not [name for name in deployed.stack.made() if name.startswith("shop-") and "survey" not in name]
    assert servers.sh("app2", f"kill -0 {pid}", check=False).returncode == 0, "their process runs on"
    hosts = existing_hosts(servers, servers.known_hosts)
    deployed.stack.configure({**config, "wayshub:hosts": {**hosts, "takeover": True}, "wayshub:sites": [site]})
    deployed.stack.cli.up()
    assert servers.sh("app2", f"kill -0 {pid}", check=False).returncode != 0, "the takeover stopped it"
    assert get(domain=SHOP) == (200, "app2")
    assert {backend for _, backend in (get() for _ in range(20))} == {"app1", "app2"}, "the first site as it was"
    assert deployed.stack.cli.outputs()["sites"]["shop"]["backends"] == [f"{SUBNET_PREFIX}.12:3001"]
    assert f"127.0.0.1\t{SHOP}\n" in deployed.hosts_file.read_text()


def test_destroy_leaves_no_unit_site_user_release_or_hosts_block_behind(
    deployed: Deployed, servers: OtherServers
) -> None:
    deployed.stack.cli.destroy()
    for name in ("app1", "app2"):
        for app in (APP, SHOP_APP):
            left = servers.sh(
                name,
                f"ls -d /etc/systemd/system/{app}.service /opt/{app} /etc/{app} /tmp/{app}-* 2>/dev/null; "
                f"getent passwd {app}; systemctl list-units --all --no-legend {app}.service; true",
            ).stdout
            assert left == "", f"{name} keeps: {left}"
    left = servers.sh("lb", "find /etc/nginx/conf.d /etc/nginx/tls -mindepth 1 2>/dev/null; true").stdout
    assert left == "", f"lb keeps: {left}"
    # What stays, on purpose (docs/hosts.md): the nginx package, still serving its default site, and its
    # nginx.conf as Debian shipped it: the capacity lines we raised are put back (docs/limits.md).
    assert servers.sh("lb", "command -v nginx").stdout.strip() == "/usr/sbin/nginx"
    shipped = servers.sh(
        "lb", "dpkg-query -W -f='${Conffiles}' nginx-common | awk '$1 == \"/etc/nginx/nginx.conf\" {print $2}'"
    )
    assert shipped.stdout.split() == servers.sh("lb", "md5sum /etc/nginx/nginx.conf").stdout.split()[:1]
    assert servers.sh("lb", "ls -d /var/lib/wayshub/nginx-capacity 2>/dev/null; true").stdout == ""
    assert deployed.hosts_file.read_text() == USER_HOSTS_LINES
