"""The step scripts of the LB and the sandbox VMs (the health checker's: test_backend_health_script.py), run here for real with stub tools on PATH (`sudo`,
`nginx`, `systemctl`, `docker`): what they do, in which order, what they say on stderr and how they exit.
Their inputs are set the way the components set them (host_script), with paths under a temp folder."""

from __future__ import annotations

import grp
import os
import stat
import subprocess
from pathlib import Path

import pytest

from components.hosts import sandbox
from components.hosts.sandbox import wait_for_host_key_lines
from components.load_balancer.nginx import HOST_SCRIPTS as LB_SCRIPTS
from components.shell.host_script import host_script

OLD_SITE = "server { listen 80; }  # old\n"
NEW_SITE = "server { listen 80; }  # new\n"
NGINX_ERROR = 'nginx: [emerg] unknown directive "bogus" in /etc/nginx/conf.d/s.conf:1'

# Each stub but sudo logs its command line to calls.log. `sudo -n` runs the rest; `nginx -t` fails with
# NGINX_ERROR when the file nginx-t-fails exists; `systemctl is-active` answers 0.
STUBS = {
    "sudo": '[ "$1" = -n ] && shift\nexec "$@"\n',
    "nginx": (
        'if [ "$1" = -t ] && [ -e "{tmp}/nginx-t-fails" ]; then echo \'' + NGINX_ERROR + "' >&2; exit 1; fi\n"
        'if [ "$1" = -t ]; then echo "nginx: configuration file test is successful" >&2; fi\n'
    ),
    "systemctl": "exit 0\n",
}


def stub_bin(tmp: Path, extra: dict[str, str] | None = None) -> Path:
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    for name, body in {**STUBS, **(extra or {})}.items():
        stub = bin_dir / name
        log = "" if name == "sudo" else f'echo "{name} $*" >> "{tmp}/calls.log"\n'
        stub.write_text("#!/bin/bash\n" + log + body.replace("{tmp}", str(tmp)))
        stub.chmod(0o755)
    (tmp / "calls.log").touch()
    return bin_dir


def run(command: str, tmp: Path, bin_dir: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    return subprocess.run(["bash", "-c", command], input=stdin, env=env, capture_output=True, text=True, timeout=30)


# The step scripts run as root on the hosts and give the files they write the group root. Run here by a user
# who is not root (a laptop user running `make test`), that group is the user's own: the only part changed.
ROOT_GROUP = 'chgrp root "$tmp"'
TEST_GROUP = "root" if os.geteuid() == 0 else grp.getgrgid(os.getegid()).gr_name


def as_this_user(command: str) -> str:
    """``command`` (a host script) with its ``chgrp root`` aimed at a group this user has (root when root)."""
    assert ROOT_GROUP in command, f"the script no longer runs {ROOT_GROUP}: update as_this_user"
    return command.replace(ROOT_GROUP, f'chgrp {TEST_GROUP} "$tmp"')


def calls(tmp: Path) -> list[str]:
    return (tmp / "calls.log").read_text().splitlines()


def publish(tmp: Path, live: Path) -> str:
    return host_script(LB_SCRIPTS / "nginx-publish.sh", {"LIVE": str(live), "STAGING": str(tmp / "site.conf")})


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "conf.d").mkdir()
    return tmp_path / "conf.d" / "site.conf"


def test_publish_makes_stdin_the_live_site_and_reloads_nginx(tmp_path: Path, site: Path) -> None:
    site.write_text(OLD_SITE)
    result = run(publish(tmp_path, site), tmp_path, stub_bin(tmp_path), stdin=NEW_SITE)
    assert result.returncode == 0, result.stderr
    assert site.read_text() == NEW_SITE and stat.S_IMODE(site.stat().st_mode) == 0o644
    assert calls(tmp_path) == ["nginx -t", "systemctl is-active --quiet nginx", "systemctl reload nginx"]
    assert sorted(p.name for p in tmp_path.glob("site.conf.*")) == [], "temp files left behind"


@pytest.mark.parametrize("had_a_site", [True, False])
def test_a_site_nginx_rejects_puts_the_old_one_back_and_never_reloads(
    tmp_path: Path, site: Path, had_a_site: bool
) -> None:
    if had_a_site:
        site.write_text(OLD_SITE)
    (tmp_path / "nginx-t-fails").touch()
    result = run(publish(tmp_path, site), tmp_path, stub_bin(tmp_path), stdin=NEW_SITE)
    assert result.returncode == 1
    assert result.stderr == f"nginx -t rejected the new site; the previous config stays live:\n{NGINX_ERROR}\n"
    assert (site.read_text() if site.exists() else None) == (OLD_SITE if had_a_site else None)
    assert calls(tmp_path) == ["nginx -t"]
    assert sorted(p.name for p in tmp_path.glob("site.conf.*")) == [], "temp files left behind"


def test_unpublish_removes_only_our_site_and_reloads_and_may_run_again(tmp_path: Path, site: Path) -> None:
    other = site.with_name("other.conf")
    site.write_text(OLD_SITE)
    other.write_text(OLD_SITE)
    command = host_script(LB_SCRIPTS / "nginx-unpublish.sh", {"LIVE": str(site)})
    bin_dir = stub_bin(tmp_path)
    for _ in range(2):
        result = run(command, tmp_path, bin_dir)
        assert result.returncode == 0, result.stderr
    assert not site.exists() and other.read_text() == OLD_SITE
    assert calls(tmp_path) == ["nginx -t", "systemctl is-active --quiet nginx", "systemctl reload nginx"] * 2


DOCKER_KEYLESS = 'if [ "$1 $3" = "exec cat" ]; then exit 1; fi\nexit 0\n'
DOCKER_WITH_KEY = 'if [ "$1 $3" = "exec cat" ]; then echo "ssh-ed25519 AAAAkey root@vm"; fi\nexit 0\n'


@pytest.mark.parametrize("remove", [True, False])
def test_a_vm_without_a_host_key_in_time_fails_naming_it_and_is_removed_on_create(
    tmp_path: Path, remove: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox, "HOST_KEY_WAIT_SECONDS", 1)
    text = "\n".join(wait_for_host_key_lines("wayshub-t-lb", remove_on_failure=remove))
    result = run(f"set -euo pipefail\n{text}", tmp_path, stub_bin(tmp_path, {"docker": DOCKER_KEYLESS}))
    assert result.returncode == 1
    assert result.stderr == "wayshub-t-lb: no SSH host key after 1s; its systemd state:\n"
    logged = calls(tmp_path)
    assert logged.count("docker exec wayshub-t-lb cat /etc/ssh/ssh_host_ed25519_key.pub") == 2
    assert logged[2:] == ["docker exec wayshub-t-lb systemctl list-jobs --no-pager"] + (
        ["docker rm --force wayshub-t-lb"] if remove else []
    )


def test_the_host_key_is_printed_as_type_and_key(tmp_path: Path) -> None:
    result = run("\n".join(wait_for_host_key_lines("vm")), tmp_path, stub_bin(tmp_path, {"docker": DOCKER_WITH_KEY}))
    assert (result.returncode, result.stdout) == (0, "ssh-ed25519 AAAAkey\n")
