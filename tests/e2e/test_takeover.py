"""Taking over the seed's hand-built setup on servers the program did not make (tests/e2e/other_servers.py).

The servers start "as the seed left them": nginx on the LB serves a hand-written reverse-proxy site for
the domain from sites-enabled, and each app server runs the app by hand as the login user (nohup) on
port 3000. A first `up` stops before changing anything and names each conflict; with
`hosts.takeover: true` the `up` stops the hand-run apps, retires the hand-written site (copies kept),
and deploys — under load through the LB the whole time.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.loadgen import BackgroundLoad
from components.app.node_dist import package_tarball, registry_versions, resolve
from components.config.hosts import TAKEOVER_BACKUP_DIR
from tests.e2e import slots
from tests.e2e.other_servers import HTTP_PORT, SUBNET_PREFIX, USER, OtherServers, other_servers
from tests.e2e.pulumi_cli import REPO
from tests.e2e.site import get_http_headers
from tests.e2e.test_existing_hosts import DOMAIN, Stack, existing_hosts, new_stack, site_config

pytestmark = pytest.mark.e2e

MIN_REQUESTS = 2000
HAND_SITE = "/etc/nginx/sites-enabled/wayshub"
HAND_APP = "/home/ubuntu/wayshub-app"
# The seed's hand-written nginx site: a plain upstream of both app servers.
HAND_SITE_TEXT = f"""upstream wayshub_by_hand {{
    server {SUBNET_PREFIX}.11:3000;
    server {SUBNET_PREFIX}.12:3000;
}}
server {{
    listen 80;
    server_name {DOMAIN};
    location / {{
        proxy_pass http://wayshub_by_hand;
    }}
}}
"""


@dataclass
class Seed:
    servers: OtherServers
    stack: Stack
    hosts_file: Path

    def configure(self, takeover: bool) -> None:
        hosts = {**existing_hosts(self.servers, self.servers.known_hosts), "takeover": takeover}
        self.stack.configure(site_config(hosts, self.hosts_file))


def hand_run_app(servers: OtherServers, name: str, node: Path) -> None:
    """What the seed did in a terminal: its own Node, the app in the login user's home, nohup on :3000."""
    container = servers.server(name).container
    servers.sh(name, f"install -d -o {USER} -g {USER} {HAND_APP}/src /home/{USER}/node/bin")
    for source, target in (
        (node, f"/home/{USER}/node/bin/node"),
        (REPO / "tests/fixtures/apps/plain/src/main.js", f"{HAND_APP}/src/main.js"),
    ):
        subprocess.run(["docker", "cp", str(source), f"{container}:{target}"], check=True, capture_output=True)
    servers.sh(name, f"chown -R {USER}:{USER} /home/{USER}")
    servers.sh(
        name,
        f"su - {USER} -c 'cd {HAND_APP} && APP_PORT=3000 nohup ~/node/bin/node src/main.js >app.log 2>&1 &'",
    )


def node_binary(workdir: Path) -> Path:
    version = resolve("22", "test", registry_versions())
    with tarfile.open(package_tarball(version, "x64")) as archive:
        member = archive.getmember("package/bin/node")
        member.name = "node"
        if hasattr(tarfile, "data_filter"):  # Python 3.11.4+; Debian 12's 3.11.2 has no filters (one known file)
            archive.extract(member, workdir, filter="data")
        else:
            archive.extract(member, workdir)
    return workdir / "node"


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory, sandbox_image: str) -> Iterator[Seed]:
    root = tmp_path_factory.mktemp("takeover")
    with other_servers(sandbox_image, root) as servers:
        servers.sh(
            "lb",
            "apt-get -q update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get -q install -y "
            "--no-install-recommends nginx-light >/dev/null && rm -f /etc/nginx/sites-enabled/default",
        )
        servers.sh(
            "lb",
            f"printf %s {shlex.quote(HAND_SITE_TEXT)} > /etc/nginx/sites-available/wayshub && "
            f"ln -s ../sites-available/wayshub {HAND_SITE}",
        )
        node = node_binary(root)
        for name in ("app1", "app2"):
            hand_run_app(servers, name, node)
        servers.sh("lb", "nginx -t && systemctl reload nginx")
        stack = new_stack(root, slots.name("takeover"), servers.private_key)
        hosts_file = root / "hosts"
        hosts_file.write_text("")
        made = Seed(servers, stack, hosts_file)
        made.configure(takeover=False)
        try:
            yield made
        finally:
            stack.cli.destroy(check=False)
            stack.cli.remove_stack(force=True, check=False)


def get(path: str = "/") -> tuple[int, dict[str, str]]:
    return get_http_headers(path, HTTP_PORT, DOMAIN)


def hand_run_pids(servers: OtherServers, name: str) -> list[str]:
    return servers.sh(name, f"pgrep -u {USER} -fx '/home/{USER}/node/bin/node src/main.js' || true").stdout.split()


def test_the_seeds_setup_answers_before_we_touch_it(seed: Seed) -> None:
    status, headers = get()
    assert status == 200 and headers.get("x-wayshub-backend") in ("app1", "app2")
    assert all(hand_run_pids(seed.servers, name) for name in ("app1", "app2"))


def test_an_up_stops_before_any_change_and_names_every_conflict(seed: Seed) -> None:
    result = seed.stack.cli.up(check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    for name in ("app1", "app2"):
        pid = hand_run_pids(seed.servers, name)[0]
        line = f"{name}: port 3000 is held by pid {pid} `/home/{USER}/node/bin/node src/main.js` of user {USER}"
        assert line in output, output[-3000:]
    assert f"lb: {HAND_SITE} already serves {DOMAIN}" in output
    assert "wayshub:hosts.takeover: nothing was changed" in output
    # Nothing changed anywhere: no app deployed, their site and their apps as they were.
    made = set(seed.stack.made())
    assert made <= {"app1-probe", "app2-probe", "lb-probe", "preflight", "app1-survey", "app2-survey", "lb-survey"}
    for name in ("app1", "app2"):
        assert seed.servers.sh(name, "ls -d /opt/wayshub 2>/dev/null || true").stdout == ""
        assert hand_run_pids(seed.servers, name)
    assert seed.servers.sh("lb", f"readlink {HAND_SITE}").stdout.strip() == "../sites-available/wayshub"
    assert get()[0] == 200


def test_takeover_deploys_over_the_hand_built_setup_with_no_failed_request(seed: Seed, tmp_path: Path) -> None:
    before = {name: hand_run_pids(seed.servers, name) for name in ("app1", "app2")}
    seed.configure(takeover=True)
    with BackgroundLoad(HTTP_PORT, DOMAIN, min_requests=MIN_REQUESTS, max_seconds=900) as load:
        result = seed.stack.cli.up(check=False)
    print(f"\ntakeover: {load.report.summary()}")
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert load.report.total >= MIN_REQUESTS
    assert load.report.failed == 0, load.report.error_samples

    outputs = seed.stack.cli.outputs()
    notes = outputs["takeover"]
    for name in ("app1", "app2"):
        assert any(n.startswith(f"{name}: took over port 3000: stopped pid {before[name][0]} ") for n in notes), notes
        assert hand_run_pids(seed.servers, name) == [], "the hand-run app is stopped"
        noted = seed.servers.sh(name, f"cat {TAKEOVER_BACKUP_DIR}/processes.txt").stdout
        assert f"pid {before[name][0]} " in noted and f"cwd={HAND_APP}" in noted
    assert f"lb: disabled {HAND_SITE}, which served {DOMAIN} (copy in {TAKEOVER_BACKUP_DIR}{HAND_SITE})" in notes
    assert outputs["takeover_backup"] == TAKEOVER_BACKUP_DIR
    # The notes quote the stopped processes' command lines: stored only as secrets (issue #28).
    command_lines = {note.split("`")[1] for note in notes if note.count("`") >= 2}
    assert command_lines, notes
    state = seed.stack.cli.state()
    plain = [
        f"{r['urn'].rsplit('::', 1)[-1]}.{where}.{key}"
        for r in state["deployment"].get("resources") or []
        for where in ("inputs", "outputs")
        for key, value in (r.get(where) or {}).items()
        if any(line in json.dumps(value) for line in command_lines)
    ]
    assert plain == [], f"the stopped processes' command lines in plaintext state: {plain}"
    assert not any(line in json.dumps(state["deployment"]) for line in command_lines)
    lb = seed.servers
    assert lb.sh("lb", f"test -e {HAND_SITE}", check=False).returncode != 0, "their site is disabled"
    assert lb.sh("lb", f"cat {TAKEOVER_BACKUP_DIR}/etc/nginx/sites-available/wayshub").stdout == HAND_SITE_TEXT
    assert lb.sh("lb", f"readlink {TAKEOVER_BACKUP_DIR}{HAND_SITE}").stdout.strip() == "../sites-available/wayshub"
    status, headers = get("/health")
    assert status == 200 and headers.get("x-wayshub-release") == outputs["release"], "our app now serves"


def test_after_the_takeover_a_second_up_changes_nothing(seed: Seed) -> None:
    changes = seed.stack.cli.up_summary()
    assert set(changes) == {"same"}, changes
