"""The app's base step never adopts a user or unit the system (or anyone else) made, and its teardown removes
only what we made (issue #28: `app.name: ssh` would write ssh.service and teardown would `userdel` it).
host/base.sh and host/teardown.sh run here for real with stub tools on PATH (`sudo`, `id`, `getent`,
`useradd`, `userdel`, `systemctl`); the host's users are a passwd file under a temp folder."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from components.app.host_steps import HOST_SCRIPTS
from components.shell.host_script import host_script

STUBS = {
    "sudo": '[ "$1" = -n ] && shift\nexec "$@"\n',
    "id": 'grep -q "^$2:" "{tmp}/passwd"\n',
    "getent": 'grep "^$2:" "{tmp}/passwd"\n',
    "useradd": 'echo "${@: -1}:x:999:999::{tmp}/opt/${@: -1}:/usr/sbin/nologin" >> "{tmp}/passwd"\n',
    "userdel": 'grep -v "^$1:" "{tmp}/passwd" > "{tmp}/p2"; mv "{tmp}/p2" "{tmp}/passwd"\n',
    # `systemctl show --property=FragmentPath --value UNIT`: the file named in {tmp}/units/UNIT, if any.
    "systemctl": 'if [ "$1" = show ]; then cat "{tmp}/units/${@: -1}" 2>/dev/null; fi; exit 0\n',
}
OURS_HEADER = "# Managed by wayshub-infra (Pulumi): edits here are overwritten on the next `pulumi up`.\n"


@pytest.fixture
def host(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in STUBS.items():
        log = "" if name == "sudo" else f'echo "{name} $*" >> "{tmp_path}/calls.log"\n'
        (bin_dir / name).write_text("#!/bin/bash\n" + log + body.replace("{tmp}", str(tmp_path)))
        (bin_dir / name).chmod(0o755)
    (tmp_path / "passwd").write_text(
        "root:x:0:0::/root:/bin/bash\nsshd:x:100:65534::/run/sshd:/usr/sbin/nologin\n"
        "wayshub:x:1000:1000::/home/wayshub:/bin/bash\n"
    )
    (tmp_path / "units").mkdir()
    (tmp_path / "systemd").mkdir()
    (tmp_path / "calls.log").touch()
    return tmp_path


def inputs(tmp: Path, app: str) -> dict[str, str]:
    return {
        "APP": app,
        "ROOT": f"{tmp}/opt/{app}",
        "UNIT": f"{app}.service",
        "UNIT_FILE": f"{tmp}/systemd/{app}.service",
        "ETC_DIR": f"{tmp}/etc/{app}",
        "MARK": f"{tmp}/lib/apps/{app}",
        "UPLOAD_DIRS": f"{tmp}/uploads/{app}-code",  # the upload steps' folders, where a branch has them
    }


def step(tmp: Path, script: str, app: str) -> subprocess.CompletedProcess[str]:
    values = inputs(tmp, app)
    if script == "base.sh":
        values.pop("ETC_DIR")
        values.pop("UPLOAD_DIRS")
    env = {**os.environ, "PATH": f"{tmp}/bin:{os.environ['PATH']}"}
    command = host_script(HOST_SCRIPTS / script, values)
    return subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True, timeout=30)


def users(tmp: Path) -> list[str]:
    return [line.split(":")[0] for line in (tmp / "passwd").read_text().splitlines()]


@pytest.mark.parametrize("app", ["sshd", "root", "wayshub"])
def test_an_existing_user_we_did_not_make_is_refused_before_any_change(host: Path, app: str) -> None:
    result = step(host, "base.sh", app)
    assert result.returncode == 1
    assert result.stderr.startswith(f"wayshub:app.name: user '{app}' (home ")
    assert "not made by wayshub-infra; choose another app.name" in result.stderr
    assert not (host / "lib").exists() and not (host / "opt").exists(), "something was made"
    assert "useradd" not in (host / "calls.log").read_text()


def test_a_unit_of_the_system_is_refused(host: Path) -> None:
    (host / "units" / "ssh.service").write_text("/lib/systemd/system/ssh.service\n")
    result = step(host, "base.sh", "ssh")
    assert result.returncode == 1
    assert "unit ssh.service (/lib/systemd/system/ssh.service) already exists" in result.stderr
    assert "ssh" not in users(host)


def test_a_unit_file_we_did_not_write_is_refused(host: Path) -> None:
    (host / "systemd" / "shop.service").write_text("[Service]\nExecStart=/usr/bin/shop\n")
    result = step(host, "base.sh", "shop")
    assert result.returncode == 1 and f"unit file {host}/systemd/shop.service" in result.stderr


def test_a_new_app_is_made_and_marked_and_the_step_runs_again(host: Path) -> None:
    for _ in range(2):
        result = step(host, "base.sh", "shop")
        assert result.returncode == 0, result.stderr
    assert users(host).count("shop") == 1
    assert (host / "lib" / "apps" / "shop").is_file()
    assert (host / "opt" / "shop" / "releases").is_dir()


def test_a_user_we_made_before_the_mark_existed_is_adopted(host: Path) -> None:
    with (host / "passwd").open("a") as passwd:
        passwd.write(f"shop:x:998:998::{host}/opt/shop:/usr/sbin/nologin\n")
    (host / "systemd" / "shop.service").write_text(OURS_HEADER + "[Service]\n")
    assert step(host, "base.sh", "shop").returncode == 0
    assert (host / "lib" / "apps" / "shop").is_file()


def test_teardown_removes_what_we_made(host: Path) -> None:
    assert step(host, "base.sh", "shop").returncode == 0
    (host / "systemd" / "shop.service").write_text(OURS_HEADER)
    (host / "etc" / "shop").mkdir(parents=True)
    result = step(host, "teardown.sh", "shop")
    assert result.returncode == 0, result.stderr
    assert "shop" not in users(host)
    for gone in ["opt/shop", "etc/shop", "systemd/shop.service", "lib/apps/shop"]:
        assert not (host / gone).exists(), gone
    # A unit that ended failed would stay listed ("not-found failed") once its file is gone.
    assert "systemctl reset-failed shop.service" in (host / "calls.log").read_text()


def test_teardown_removes_the_apps_process_units_we_made_and_no_other(host: Path) -> None:
    assert step(host, "base.sh", "shop").returncode == 0
    (host / "systemd" / "shop.service").write_text(OURS_HEADER)
    (host / "systemd" / "shop@worker.service").write_text(OURS_HEADER)
    (host / "systemd" / "shop@theirs.service").write_text("[Service]\n")
    (host / "systemd" / "shopx@worker.service").write_text(OURS_HEADER)
    result = step(host, "teardown.sh", "shop")
    assert result.returncode == 0, result.stderr
    assert not (host / "systemd" / "shop@worker.service").exists()
    assert (host / "systemd" / "shop@theirs.service").is_file() and (
        host / "systemd" / "shopx@worker.service"
    ).is_file()
    assert "systemctl disable --now shop@worker.service" in (host / "calls.log").read_text()


def test_teardown_removes_the_apps_job_timers_and_units_timers_first(host: Path) -> None:
    assert step(host, "base.sh", "shop").returncode == 0
    for name in ("shop@job-nightly.timer", "shop@job-nightly.service"):
        (host / "systemd" / name).write_text(OURS_HEADER)
    (host / "systemd" / "shop@job-theirs.timer").write_text("[Timer]\n")
    result = step(host, "teardown.sh", "shop")
    assert result.returncode == 0, result.stderr
    assert not (host / "systemd" / "shop@job-nightly.timer").exists()
    assert not (host / "systemd" / "shop@job-nightly.service").exists()
    assert (host / "systemd" / "shop@job-theirs.timer").is_file()
    calls = (host / "calls.log").read_text()
    assert calls.index("disable --now shop@job-nightly.timer") < calls.index("disable --now shop@job-nightly.service")


@pytest.mark.parametrize("app", ["sshd", "wayshub"])
def test_teardown_of_what_is_not_ours_removes_nothing(host: Path, app: str) -> None:
    (host / "etc" / app).mkdir(parents=True)
    (host / "etc" / app / "config").write_text("theirs\n")
    (host / "systemd" / f"{app}.service").write_text("[Service]\n")
    result = step(host, "teardown.sh", app)
    assert result.returncode == 0
    assert f"wayshub: {app} is not ours on this host" in result.stderr
    assert app in users(host)
    assert (host / "etc" / app / "config").is_file() and (host / "systemd" / f"{app}.service").is_file()
    assert "userdel" not in (host / "calls.log").read_text()
