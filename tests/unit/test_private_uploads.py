"""Uploads never go through the shared /tmp (issue 28 item 6): each upload step's file lands in a private
folder (host/upload-dir.sh: a root-owned root, the step's folder the login user's 0700), and the root script
that reads it first moves it into a folder only root can open (take_upload in host/uploads.sh), refusing a
folder or file that is not as made. The scripts run here for real, as root, with SUDO_USER as the login user."""

from __future__ import annotations

import os
import pwd
import subprocess
from pathlib import Path

import pytest

from components.app.host_steps import deploy_command, teardown_command
from components.app.layout import code_upload, node_upload
from components.app.node_install import NodeChoice, install_command
from components.shell import uploads
from components.shell.command import remote

LOGIN = "nobody"
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="makes folders owned by another user: needs root")


def sh(script: str, **inputs: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SUDO_USER": LOGIN, **inputs}
    return subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=30)


def make_folder(step_dir: Path) -> subprocess.CompletedProcess[str]:
    return sh((uploads.HOST_SCRIPTS / "upload-dir.sh").read_text(), DIR=str(step_dir))


def take(file: Path) -> subprocess.CompletedProcess[str]:
    return sh(uploads.UPLOADS_LIB.read_text() + 'set -euo pipefail\ntake_upload "$FILE"\n', FILE=str(file))


def owner_mode(path: Path) -> tuple[str, int]:
    info = path.lstat()
    return pwd.getpwuid(info.st_uid).pw_name, info.st_mode & 0o7777


@pytest.fixture
def step_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "uploads" / "wayshub-code"
    made = make_folder(folder)
    assert made.returncode == 0, made.stderr
    return folder


def test_the_step_folder_is_the_login_users_alone_under_a_root_owned_root(step_dir: Path) -> None:
    assert owner_mode(step_dir.parent) == ("root", 0o755)
    assert owner_mode(step_dir) == (LOGIN, 0o700)
    step_dir.chmod(0o777)
    (step_dir.parent / "other").symlink_to("/etc")
    assert make_folder(step_dir).returncode == 0
    assert owner_mode(step_dir) == (LOGIN, 0o700), "a wrong mode is put right"
    assert make_folder(step_dir.parent / "other").returncode == 0
    assert not (step_dir.parent / "other").is_symlink(), "a link in the step folder's place is replaced"


def test_an_upload_is_moved_into_a_folder_only_root_can_open(step_dir: Path) -> None:
    upload = step_dir / "build.tar.gz"
    upload.write_bytes(b"the release")
    taken = take(upload)
    assert taken.returncode == 0, taken.stderr
    moved = Path(taken.stdout.strip())
    assert moved.read_bytes() == b"the release" and not upload.exists()
    assert moved.parent.parent == step_dir.parent
    assert owner_mode(moved.parent) == ("root", 0o700)


@pytest.mark.parametrize("swap", ["symlink", "missing"])
def test_a_swapped_or_missing_file_is_refused(step_dir: Path, tmp_path: Path, swap: str) -> None:
    upload = step_dir / "build.tar.gz"
    if swap == "symlink":
        (tmp_path / "elsewhere").write_text("not ours")
        upload.symlink_to(tmp_path / "elsewhere")
    taken = take(upload)
    assert taken.returncode == 1 and taken.stdout == ""
    assert f"upload {upload} is missing or not a plain file" in taken.stderr


@pytest.mark.parametrize("change", ["mode 0777", "another owner", "root folder writable", "folder is a link"])
def test_a_folder_not_as_made_is_refused(step_dir: Path, tmp_path: Path, change: str) -> None:
    upload = step_dir / "build.tar.gz"
    upload.write_bytes(b"x")
    if change == "mode 0777":
        step_dir.chmod(0o777)
    elif change == "another owner":
        os.chown(step_dir, pwd.getpwnam("daemon").pw_uid, -1)
    elif change == "root folder writable":
        step_dir.parent.chmod(0o777)
    else:
        real = tmp_path / "real"
        step_dir.rename(real)
        step_dir.symlink_to(real)
    taken = take(upload)
    assert taken.returncode == 1 and taken.stdout == ""
    assert "is not the private folder we made" in taken.stderr
    assert (step_dir / "build.tar.gz").exists(), "nothing was used or moved"


def test_every_upload_path_is_in_a_private_folder_and_its_reader_takes_it() -> None:
    for path in (code_upload("wayshub", "abc"), node_upload("wayshub", "22.11.0")):
        assert uploads.is_private(path), path
        assert not path.startswith("/tmp/")
    assert 'take_upload "$UPLOAD"' in install_command(NodeChoice("binary", "22.11.0"), "wayshub", "/x")
    assert "take_upload() {" in install_command(NodeChoice("binary", "22.11.0"), "wayshub", "/x")
    assert "take_upload() {" in deploy_command({"APP": "wayshub"})
    teardown = teardown_command("wayshub")
    assert "/var/lib/wayshub-uploads/wayshub-code /var/lib/wayshub-uploads/wayshub-node" in teardown
    assert 'for dir in $UPLOAD_DIRS; do rm -rf "$dir"; done' in teardown


@pytest.mark.parametrize(
    "path", ["/tmp/wayshub-abc.tar.gz", "/var/lib/wayshub-uploads/x.tgz", "/var/lib/wayshub-uploads/a/../b/x"]
)
def test_a_copy_outside_a_private_folder_is_refused(path: str) -> None:
    conn = remote.ConnectionArgs(host="10.0.0.11", host_key="ssh-ed25519 AAAA")
    with pytest.raises(ValueError, match="is not in a private upload folder"):
        remote.CopyToRemote("app1-upload", connection=conn, source="/dev/null", remote_path=path)  # type: ignore[arg-type]
