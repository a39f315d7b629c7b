"""App env values arrive byte for byte, and the app and nginx run sandboxed (issue #17), on sandbox VMs.

Deploys the site with app.env holding every hostile value of tests/hostile_env.py and an appSecret of
the same kind, then reads what the RUNNING app process sees (/proc/<MainPID>/environ, NUL-split) and
what `systemd-analyze security` scores the app unit and nginx.service. Puts the plain site back after.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator

import pytest

from tests.e2e.site import SITE_STACK, Site, get, write_stack_config
from tests.hostile_env import HOSTILE_ENV, HOSTILE_SECRETS

pytestmark = pytest.mark.e2e

APP_SERVERS = ["app1", "app2"]
# What the process gets besides the stack's values: from systemd (User=, the journal, the invocation,
# the system locale), from the release's start script (PATH, WAYSHUB_RELEASE) and from its shell (PWD).
# No SHELL: the app's user is a system user with nologin (systemd sets none then), not the login user.
PLATFORM = {"HOME", "LOGNAME", "USER", "INVOCATION_ID", "JOURNAL_STREAM", "SYSTEMD_EXEC_PID", "LANG"}
FROM_START_SCRIPT = {"PATH", "WAYSHUB_RELEASE", "PWD", "OLDPWD"}
APP_EXPOSURE_MAX = 2.5
NGINX_EXPOSURE_MAX = 5.0
CHECKER_EXPOSURE_MAX = 3.0
CAP_NET_ADMIN = 1 << 12
# nginx's master keeps CHOWN, DAC_OVERRIDE, SETGID, SETUID, NET_BIND_SERVICE (bits 0, 1, 6, 7, 10).
NGINX_CAPABILITIES = (1 << 0) | (1 << 1) | (1 << 6) | (1 << 7) | (1 << 10)


@pytest.fixture(scope="module")
def hostile_site(site: Site) -> Iterator[Site]:
    write_stack_config(site, app_servers=APP_SERVERS, extra={"wayshub:app": {"env": HOSTILE_ENV}})
    for name, value in HOSTILE_SECRETS.items():
        site.cli.set_config(f"wayshub:appSecrets.{name}", value, secret=True, path=True)
    site.cli.up()
    yield site
    write_stack_config(site, app_servers=APP_SERVERS)
    site.cli.up()


def app_environment(site: Site, server: str) -> dict[bytes, bytes]:
    """The running app's environment as the kernel holds it (read as the app's user: containers give
    root no CAP_SYS_PTRACE), NUL-split; base64 on the way so no byte is translated."""
    script = 'pid=$(systemctl show -p MainPID --value wayshub); runuser -u wayshub -- base64 -w0 "/proc/$pid/environ"'
    raw = base64.b64decode(site.sh(server, script).stdout)
    assert raw.endswith(b"\0")
    entries = raw[:-1].split(b"\0")
    pairs = [entry.partition(b"=") for entry in entries]
    names = [name for name, _, _ in pairs]
    assert len(names) == len(set(names)), f"a variable appears twice: {names}"
    return {name: value for name, _, value in pairs}


def exposure(site: Site, server: str, unit: str) -> float:
    out = site.sh(server, f"systemd-analyze security --no-pager {unit}").stdout
    found = re.search(rf"Overall exposure level for {re.escape(unit)}: (\d+\.\d+)", out)
    assert found, out[-2000:]
    return float(found.group(1))


def proc_status(site: Site, server: str, pid_command: str) -> dict[str, str]:
    out = site.sh(server, f'grep -E "^(CapBnd|CapEff|NoNewPrivs|Seccomp):" "/proc/$({pid_command})/status"').stdout
    return dict(line.split(":\t", 1) for line in out.splitlines())


def test_every_hostile_value_reaches_the_running_app_byte_for_byte(hostile_site: Site) -> None:
    expected = {**HOSTILE_ENV, **HOSTILE_SECRETS, "NODE_ENV": "production", "PORT": "3000"}
    for server in APP_SERVERS:
        env = app_environment(hostile_site, server)
        for name, value in expected.items():
            assert env.get(name.encode()) == value.encode(), f"{server}: {name}"
        names = {name.decode() for name in env}
        assert names == set(expected) | PLATFORM | FROM_START_SCRIPT, (
            f"{server}: unexpected {sorted(names - set(expected) - PLATFORM - FROM_START_SCRIPT)}"
        )
        assert "NODE_OPTIONS" not in names and "INJECTED" not in names
    answers = [get() for _ in range(20)]
    assert {a.status for a in answers} == {200} and {a.backend for a in answers} == set(APP_SERVERS)


def test_the_secret_stays_out_of_the_stack_state_and_files_stay_private(hostile_site: Site) -> None:
    exported = json.dumps(hostile_site.cli.state())
    (secret,) = HOSTILE_SECRETS.values()
    assert json.dumps(secret)[1:-1] not in exported and "s3cr3t" not in exported
    for server in APP_SERVERS:
        assert hostile_site.sh(server, "stat -c %a /opt/wayshub/current/env").stdout.strip() == "600"


def test_the_app_user_cannot_sudo_and_is_not_the_login_user(site: Site) -> None:
    """Issue 28 item 4: the app runs as its own user, which has no sudo and no admin group; the one sudoer
    is the SSH login user the VM made at first boot."""
    for server in APP_SERVERS:
        owner = site.sh(server, "ps -o user= -p $(systemctl show -p MainPID --value wayshub)").stdout.strip()
        assert owner == "wayshub", f"{server}: the app runs as {owner!r}"
        assert site.sh(server, "id -nG wayshub").stdout.split() == ["wayshub"]
        tried = site.sh(server, "runuser -u wayshub -- sudo -n true", check=False)
        assert tried.returncode != 0, f"{server}: the app's user ran sudo"
        rules = site.sh(server, "LC_ALL=C sudo -n -l -U wayshub").stdout
        assert "is not allowed to run sudo" in rules, rules
        sudoers = site.sh(server, "cat /etc/sudoers.d/*; getent group sudo").stdout
        assert "wayshub" not in sudoers, sudoers
        assert "deploy ALL=(ALL:ALL) NOPASSWD: ALL" in sudoers
        # The login user is the one whose key the stack holds.
        keys = site.sh(server, "ls /home/*/.ssh/authorized_keys").stdout.split()
        assert keys == ["/home/deploy/.ssh/authorized_keys"], keys


def test_uploads_went_through_private_folders_not_tmp(site: Site) -> None:
    """Issue 28 item 6: the Node package and the release code were copied into per-step folders of the
    login user (0700) under a root-owned root, taken out of them by root, and nothing was left in /tmp."""
    for server in APP_SERVERS:
        folders = site.sh(server, "stat -c '%n %U %a' /var/lib/wayshub-uploads /var/lib/wayshub-uploads/*").stdout
        assert folders.splitlines() == [
            "/var/lib/wayshub-uploads root 755",
            "/var/lib/wayshub-uploads/wayshub-code deploy 700",
            "/var/lib/wayshub-uploads/wayshub-node deploy 700",
        ], folders
        left = "find /var/lib/wayshub-uploads /tmp -mindepth 1 -name '*.tar.gz' -o -name '*.tgz' -o -name '.taken.*'"
        assert site.sh(server, left).stdout.split() == []


def test_the_app_unit_is_sandboxed_and_scores_at_most_2_5(hostile_site: Site) -> None:
    for server in APP_SERVERS:
        score = exposure(hostile_site, server, "wayshub.service")
        print(f"\n{server}: wayshub.service exposure {score}")
        assert score <= APP_EXPOSURE_MAX
        status = proc_status(hostile_site, server, "systemctl show -p MainPID --value wayshub")
        assert int(status["CapBnd"], 16) == 0 and int(status["CapEff"], 16) == 0, status
        assert status["NoNewPrivs"] == "1" and status["Seccomp"] == "2", status
        # Its own view of the file system: / read-only (ProtectSystem=strict), a /tmp of its own.
        mounts = hostile_site.sh(
            server, 'runuser -u wayshub -- cat "/proc/$(systemctl show -p MainPID --value wayshub)/mountinfo"'
        ).stdout.splitlines()
        options = {line.split()[4]: line.split()[5].split(",") for line in mounts}  # the last mount on a path wins
        assert "ro" in options["/"], options["/"]
        assert "/tmp" in options and "rw" in options["/tmp"], sorted(options)


def test_nginx_runs_under_our_drop_in_and_scores_at_most_5(hostile_site: Site) -> None:
    dropin = f"/etc/systemd/system/nginx.service.d/wayshub-{SITE_STACK}-sandbox.conf"
    assert hostile_site.sh("lb", f"test -f {dropin} && echo yes").stdout.strip() == "yes"
    score = exposure(hostile_site, "lb", "nginx.service")
    print(f"\nlb: nginx.service exposure {score}")
    assert score <= NGINX_EXPOSURE_MAX
    # The running master is the sandboxed one (a drop-in only takes effect on a restart).
    status = proc_status(hostile_site, "lb", "systemctl show -p MainPID --value nginx")
    assert int(status["CapBnd"], 16) == NGINX_CAPABILITIES and status["NoNewPrivs"] == "1", status
    assert hostile_site.sh("lb", "systemctl is-active nginx").stdout.strip() == "active"
    hostile_site.sh("lb", "systemctl reload nginx && nginx -t -q")
    assert {get().status for _ in range(10)} == {200}


def test_the_health_checker_keeps_only_net_admin_and_scores_at_most_3(site: Site) -> None:
    """Issue 28 item 8: the LB's backend health checker parses backends' answers, so it runs as a user of
    its own with CAP_NET_ADMIN alone (what `ss -K` needs) and a sandbox scored ≤ 3. That it still ends
    connections stuck on a hung backend: tests/e2e/test_hung_backends.py."""
    unit = f"wayshub-{SITE_STACK}-backend-health.service"
    score = exposure(site, "lb", unit)
    print(f"\nlb: {unit} exposure {score}")
    assert score <= CHECKER_EXPOSURE_MAX
    main_pid = f"systemctl show -p MainPID --value {unit}"
    status = proc_status(site, "lb", main_pid)
    assert int(status["CapBnd"], 16) == CAP_NET_ADMIN and int(status["CapEff"], 16) == CAP_NET_ADMIN, status
    assert status["NoNewPrivs"] == "1" and status["Seccomp"] == "2", status
    assert site.sh("lb", f"ps -o uid= -p $({main_pid})").stdout.strip() != "0", "the checker runs as root"
