"""``pulumi up`` of a ``containers`` stack with the real engine and the real pulumi-docker provider plugin,
under load: first deploy, a hung app container taken out by the LB's health checker (also after nginx
restarted by itself), an env change and a code change rolled one app server at a time, a release that
fails its health check (the old containers keep serving), an nginx config change (nginx reloaded, not
replaced), then destroy. One deployed stack for the module; the tests run in this order and build on each
other. 0 failed GETs in every change.

Runs where a docker resource plugin is available to the engine (``pulumi-resource-docker`` on PATH, as
`make test` puts the one built from ../shared/vendor, or one installed in the Pulumi home); elsewhere it is
skipped with one line saying so.
"""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from bench.abuse import Attack, Attacker, Polite
from bench.hang import CONTAINER_HANGS, measure
from bench.loadgen import BackgroundLoad
from tests.e2e.containers_engine import (
    APP_IMAGE,
    NETWORK,
    SERVERS,
    SITE,
    STACK,
    STALE_IMAGE,
    Deployed,
    Plugin,
    build_leftovers,
    container,
    find_docker_plugin,
    leftovers,
    new_site,
    program_supports_containers,
    remove_site,
    repository_images,
)
from tests.e2e.pulumi_cli import REPO, Ran, up_with_events
from tests.e2e.test_containers_docker import DOMAIN, docker

pytestmark = pytest.mark.e2e
__all__ = ["Plugin", "find_docker_plugin"]  # tests/e2e/test_stack_files.py imports them from here

MIN_REQUESTS = 2000
CHECKER = container("lb-health")
# As tests/e2e/test_hung_backends.py on VMs: a hang under load, a generous bound (a third of the hang; without
# the checker a GET waits the whole hang), the tight figures for bench/ (`make bench`, containers_hang).
HANG_SECONDS = 15.0
WORST_WAIT_BOUND = HANG_SECONDS / 3
BROKEN = "'use strict';\nthrow new Error('wayshub test: this release cannot start');\n"


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    root = tmp_path_factory.mktemp("containers-engine")
    plugin = find_docker_plugin(root / "probe-state")
    if isinstance(plugin, str):
        pytest.skip(plugin)
    reason = program_supports_containers()
    if reason:
        pytest.skip(reason)
    site = new_site(root, plugin)
    try:
        site.cli.up()
        yield site
    finally:
        remove_site(site)


def load(site: Deployed) -> BackgroundLoad:
    return BackgroundLoad(site.port, DOMAIN, min_requests=MIN_REQUESTS, max_seconds=600)


def rolled(site: Deployed, name: str) -> tuple[Ran, BackgroundLoad]:
    """An `up` under load; prints the load's figures."""
    with load(site) as traffic:
        up = up_with_events(site.cli)
    print(f"\n{name}: {traffic.report.total - traffic.report.failed}/{traffic.report.total} GETs ok; {traffic.report}")
    return up, traffic


def assert_no_failed_request(traffic: BackgroundLoad) -> None:
    assert traffic.report.total >= MIN_REQUESTS
    assert traffic.report.failed == 0, traffic.report.error_samples


def answers(site: Deployed, requests: int = 8) -> set[tuple[str, str]]:
    """(backend, release) of ``requests`` GETs through nginx; every one must be a 200."""
    seen: set[tuple[str, str]] = set()
    for _ in range(requests):
        conn = http.client.HTTPConnection("127.0.0.1", site.port, timeout=5)
        try:
            conn.request("GET", "/", headers={"Host": DOMAIN})
            response = conn.getresponse()
            response.read()
            assert response.status == 200, response.status
            seen.add((response.getheader("X-Wayshub-Backend") or "", response.getheader("X-Wayshub-Release") or ""))
        finally:
            conn.close()
    return seen


def assert_rolled_one_at_a_time(up: Ran, slot: str) -> None:
    """app2's new container starts after app1's switch; the old containers go only after the last switch."""
    first_switched, second_started = up.finished(f"{SITE}-app1-switch"), up.started(f"{SITE}-app2-{slot}")
    assert first_switched is not None and second_started is not None, up.output[-2000:]
    assert first_switched < second_started, "app2's new container must start only after app1 switched"
    last_switched, old_removed = up.finished(f"{SITE}-app2-switch"), up.started(f"{SITE}-app1-{other(slot)}")
    assert last_switched is not None and old_removed is not None
    assert last_switched < old_removed, "the old containers go once every server switched"


def other(slot: str) -> str:
    return "b" if slot == "a" else "a"


def ours(*apps: str) -> list[str]:
    """Our containers that run when ``apps`` serve: nginx, its health checker, the apps."""
    return sorted([container("lb"), CHECKER, *apps])


def checker_log() -> str:
    return docker("logs", "--tail", "20", CHECKER, check=False)


def wait_back_in_rotation(site: Deployed, server: str, within: float = 60.0) -> float:
    """Seconds until ``server`` answered through nginx again (fails after ``within``)."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        try:
            if server in {backend for backend, _ in answers(site, 1)}:
                return time.monotonic() - started
        except (OSError, AssertionError):
            pass
        time.sleep(0.2)
    pytest.fail(f"{server} not back in rotation within {within:.0f}s; the checker's log:\n{checker_log()}")


def checked_backends() -> list[str]:
    """The checker's BACKENDS, from its running container."""
    env = json.loads(docker("inspect", "--format", "{{json .Config.Env}}", CHECKER))
    return sorted(next(line for line in env if line.startswith("BACKENDS=")).removeprefix("BACKENDS=").split())


def backends_in(slot: str) -> list[str]:
    """``address:3000`` of each app server's container in ``slot``, as Docker gave them."""
    ip = "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}"
    return sorted(f"{docker('inspect', '--format', ip, container(s, slot))}:3000" for s in SERVERS)


def network_namespace(name: str) -> str:
    return docker("exec", name, "readlink", "/proc/1/ns/net")


def assert_a_hung_app_container_costs_no_get(site: Deployed, name: str) -> None:
    """app1's serving container SIGSTOPped for HANG_SECONDS under keep-alive load, then SIGCONT."""
    wait_back_in_rotation(site, "app1")
    report = measure(
        site.port, DOMAIN, CONTAINER_HANGS["stop"], name, "", clients=8, before=2, hang_seconds=HANG_SECONDS
    )
    print(f"\nstop {name}: {report.summary()}")
    assert report.failed == 0, report.errors[:5]
    assert len(report.requests) > 100
    assert report.worst_wait < WORST_WAIT_BOUND, report.summary()
    back = wait_back_in_rotation(site, "app1")
    print(f"app1 back in rotation {back:.1f}s after the hang ended")
    assert "hung (no answer within" in checker_log()


def test_up_serves_both_backends_through_nginx(deployed: Deployed) -> None:
    deadline, seen = time.monotonic() + 60, set[str]()
    while time.monotonic() < deadline and seen != set(SERVERS):
        try:
            seen |= {backend for backend, _ in answers(deployed, 4)}
        except (OSError, AssertionError):
            time.sleep(0.5)
    assert seen == set(SERVERS)
    outputs = deployed.cli.outputs()
    assert outputs["url"] == f"http://{DOMAIN}:{deployed.port}/"
    assert outputs["backends"] == [f"{container(s, 'a')}:3000" for s in SERVERS]
    assert deployed.running() == ours(*[container(s, "a") for s in SERVERS])


def test_a_second_up_changes_nothing(deployed: Deployed) -> None:
    up = up_with_events(deployed.cli)
    assert up.returncode == 0, up.output[-3000:]
    assert set(up.changes) == {"same"}, (up.changes, up.changed())


def test_nginx_config_passes_nginx_t(deployed: Deployed) -> None:
    result = subprocess.run(
        ["docker", "exec", container("lb"), "nginx", "-t"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_a_hung_app_container_costs_no_get_and_a_short_wait_then_comes_back(deployed: Deployed) -> None:
    """docs/hung-backends.md in containers mode: the checker container ends nginx's connections to it."""
    assert checked_backends() == backends_in("a")
    assert_a_hung_app_container_costs_no_get(deployed, container("app1", "a"))


def test_the_checker_follows_nginx_restarted_by_itself(deployed: Deployed) -> None:
    """Docker leaves a container in the namespace nginx had: the checker's healthcheck restarts it into the new one."""
    nginx = deployed.container_id(container("lb"))
    assert network_namespace(CHECKER) == network_namespace(container("lb"))
    docker("restart", container("lb"))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if network_namespace(CHECKER) == network_namespace(container("lb")):
                break
        except AssertionError:  # `docker exec` refused: the container is between its end and its restart
            pass
        time.sleep(1)
    else:
        pytest.fail(f"the checker is not in nginx's namespace 60 s after nginx restarted:\n{checker_log()}")
    assert deployed.container_id(container("lb")) == nginx
    print("\nchecker after nginx restarted:", checker_log().splitlines()[-3:])
    assert_a_hung_app_container_costs_no_get(deployed, container("app1", "a"))


def test_an_env_change_rolls_one_server_at_a_time_with_no_failed_request(deployed: Deployed) -> None:
    nginx = deployed.container_id(container("lb"))
    deployed.set("wayshub:app", {"env": {"GREETING": "second"}})
    up, traffic = rolled(deployed, "env change")
    assert up.returncode == 0, up.output[-3000:]
    assert_no_failed_request(traffic)
    assert_rolled_one_at_a_time(up, "b")
    assert deployed.running() == ours(*[container(s, "b") for s in SERVERS])
    for server in SERVERS:
        env = docker("inspect", "--format", "{{json .Config.Env}}", container(server, "b"))
        assert '"GREETING=second"' in env
    switched, remade = up.finished(f"{SITE}-app2-switch"), up.started(f"{SITE}-lb-health")
    assert switched is not None and remade is not None and switched < remade, "the checker is re-made once all switched"
    assert checked_backends() == backends_in("b"), "the checker probes the new slots"
    assert deployed.container_id(container("lb")) == nginx, "nginx is reloaded, never replaced"
    assert deployed.cli.outputs()["backends"] == [f"{container(s, 'b')}:3000" for s in SERVERS]


def test_a_code_change_rolls_with_no_failed_request(deployed: Deployed) -> None:
    before = deployed.cli.outputs()["release"]
    (deployed.project / "app" / "VARIANT").write_text("code change\n")
    up, traffic = rolled(deployed, "code change")
    assert up.returncode == 0, up.output[-3000:]
    assert_no_failed_request(traffic)
    assert_rolled_one_at_a_time(up, "a")
    new = deployed.cli.outputs()["release"]
    assert new != before
    assert {release for _, release in answers(deployed)} == {new}


def test_a_release_failing_its_health_check_leaves_the_old_containers_serving(deployed: Deployed) -> None:
    server_js = deployed.project / "app" / "server.js"
    healthy = server_js.read_text()
    serving = deployed.cli.outputs()["release"]
    server_js.write_text(BROKEN + healthy.removeprefix("'use strict';\n"))
    try:
        up, traffic = rolled(deployed, "failed release")
        assert up.returncode != 0, "an up whose release fails its health check must fail"
        assert_no_failed_request(traffic)
        line = next((ln for ln in up.output.splitlines() if "failed its health check" in ln), "")
        assert container("app1", "b") in line and "(release " in line and "nginx keeps" in line, up.output[-3000:]
        assert "running `/bin/sh -c exec node server.js`)" in line, line  # the start command, named
        assert up.started(f"{SITE}-app2-b") is None, "no further server may be touched"
        assert {release for _, release in answers(deployed)} == {serving}
        assert container("app1", "b") not in deployed.running(), "the failed container is stopped"
        assert {container(s, "a") for s in SERVERS} <= set(deployed.running())
        again = up_with_events(deployed.cli)
        assert again.returncode != 0 and "failed its health check" in again.output
    finally:
        server_js.write_text(healthy)
    (deployed.project / "app" / "VARIANT").write_text("fixed\n")
    up, traffic = rolled(deployed, "fixed release")
    assert up.returncode == 0, up.output[-3000:]
    assert_no_failed_request(traffic)
    new = deployed.cli.outputs()["release"]
    assert new != serving and {release for _, release in answers(deployed)} == {new}
    assert deployed.running() == ours(*[container(s, "b") for s in SERVERS])


def test_an_nginx_config_change_reloads_the_running_nginx(deployed: Deployed) -> None:
    nginx = deployed.container_id(container("lb"))
    deployed.set("wayshub:lb", {"readTimeout": "31s", "maxFails": 2})
    up, traffic = rolled(deployed, "nginx config change")
    assert up.returncode == 0, up.output[-3000:]
    assert_no_failed_request(traffic)
    assert deployed.container_id(container("lb")) == nginx, "a config change reloads nginx, never replaces it"
    site = docker("exec", container("lb"), "cat", f"/etc/nginx/conf.d/wayshub_{STACK.replace('-', '_')}.conf")
    assert "proxy_read_timeout 31s;" in site
    upstream = docker("exec", container("lb"), "cat", "/etc/nginx/wayshub-upstreams/app1.conf")
    assert upstream == f"server {container('app1', 'b')}:3000 max_fails=2 fail_timeout=3s;"
    assert not {f"{SITE}-app1-b", f"{SITE}-app2-b"} & up.changed(), "nginx settings restart no app"


def rollback(site: Deployed, *flags: str) -> BackgroundLoad:
    with load(site) as traffic:
        subprocess.run(
            [sys.executable, str(REPO / "scripts" / "rollback"), "--stack", STACK, *flags],
            cwd=site.project,
            env=site.cli.env,
            check=True,
            capture_output=True,
            text=True,
        )
    print(f"\nrollback {flags}: {traffic.report}")
    return traffic


def test_rollback_runs_the_previous_release_again_without_a_build(deployed: Deployed) -> None:
    outputs = deployed.cli.outputs()
    current, previous = outputs["releases"], outputs["previous_releases"]
    assert len(set(previous)) == 1 and previous[0] not in ("", current[0])
    image = outputs["release_images"][previous[0]]
    assert_no_failed_request(rollback(deployed))
    assert {release for _, release in answers(deployed)} == {previous[0]}
    assert deployed.cli.outputs()["releases"] == previous
    for server in SERVERS:
        assert docker("inspect", "--format", "{{.Config.Image}}", container(server, "a")) == image
    assert_no_failed_request(rollback(deployed, "--unpin"))
    assert {release for _, release in answers(deployed)} == {current[0]}


def test_the_builds_left_no_container_and_only_the_images_a_rollback_needs_stay(deployed: Deployed) -> None:
    """Issue #40 item 5, after the ups above (first deploy, env change, code change, a failed and a fixed
    release, nginx config change, rollback and unpin): BuildKit's builds left no container, and the prune step
    left the stack's repositories holding the images of ``release_images`` (the last app.releasesKept + 1
    releases) and the nginx image, no more: the tag put there before the first `up` is gone. A preview then
    has nothing to do."""
    left = build_leftovers(deployed.containers_before)
    assert not left, f"the image builds left {len(left)} containers: {', '.join(left)}"
    outputs = deployed.cli.outputs()
    kept = set(outputs["release_images"].values())
    nginx = docker("inspect", "--format", "{{.Config.Image}}", container("lb"))
    images = repository_images()
    print(f"\nimages left: {sorted(images)}")
    assert STALE_IMAGE not in images, "an image no container runs and no rollback needs"
    assert set(images) == kept | {nginx}
    assert 3 <= len(kept) <= 4 and all(ref.startswith(f"{APP_IMAGE}:") for ref in kept), outputs["release_images"]
    assert {step.op for step in deployed.cli.preview_steps()} == {"same"}


def test_nginx_is_sized_and_one_abusive_client_does_not_take_the_site_down(
    deployed: Deployed, sandbox_image: str
) -> None:
    """docs/limits.md in containers mode (plain HTTP): the capacity script ran in the nginx container, and with
    the default per-client limits (the other tests' load runs without: tests/e2e/pulumi_cli.py) an attacker
    container on the stack's network does not starve the polite visitors."""
    deployed.set("wayshub:lb", {"limits": {}})
    up = up_with_events(deployed.cli)
    assert up.returncode == 0, up.output[-3000:]
    conf = docker("exec", container("lb"), "cat", "/etc/nginx/nginx.conf")
    assert re.search(r"^\s*worker_connections \d+; # wayshub-infra: was \d+$", conf, re.M), conf
    attack = Attack(seconds=20, slow=3000, flood=300, bodies=150, tls=False)
    attacker = Attacker(sandbox_image, NETWORK, container("attacker"), container("lb"), 80, DOMAIN, attack)
    with Polite(deployed.port, DOMAIN, None, visitors=4, period=0.2) as polite:
        report = attacker.result()
    print("polite:", polite.report.summary(), "attacker:", report)
    assert polite.report.total >= 200 and polite.report.ok >= 0.999 * polite.report.total, polite.report.summary()
    assert report["slow_peak"] >= 2000, report
    flood = report["flood"]
    assert flood.get("429", 0) > flood.get("200", 0), report
    assert report["bodies"].get("429", 0) >= attack.bodies - 100 - 10, report


def test_destroy_removes_every_container_and_the_network(deployed: Deployed) -> None:
    deployed.cli.destroy()
    assert leftovers() == []
    assert not docker("network", "ls", "--quiet", "--filter", f"name=^{NETWORK}$")
