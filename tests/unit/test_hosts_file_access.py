"""Whether this user may write the hosts file is asked before any resource: one line, or nothing.

Run for real as an unprivileged user (``nobody`` via ``setpriv`` when the tests run as root), because
root may write any file and so can never show the refusal.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.names import hosts_file_io

REPO = Path(__file__).resolve().parents[2]
NOBODY = 65534


def problem_as_unprivileged(path: Path) -> str | None:
    """``write_problem(path)`` as a user who is not root (this one, or ``nobody`` when we are root)."""
    code = (
        "import json, sys; from pathlib import Path; from components.names.hosts_file_io import write_problem; "
        "print(json.dumps(write_problem(Path(sys.argv[1]))))"
    )
    argv = [sys.executable, "-c", code, str(path)]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: cannot become an unprivileged user")
        argv = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *argv]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO), "HOME": "/nonexistent"}
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result is None or isinstance(result, str)
    return result


def user_name() -> str:
    return "user nobody" if os.geteuid() == 0 else f"user {os.environ.get('USER') or os.getlogin()}"


@pytest.fixture
def folder() -> Iterator[Path]:
    """A folder the unprivileged user may enter (pytest's tmp_path is private to the test's user)."""
    with tempfile.TemporaryDirectory(prefix="wayshub-hosts-access-") as name:
        Path(name).chmod(0o711)
        yield Path(name)


def test_a_file_this_user_may_write_is_no_problem(folder: Path) -> None:
    hosts = folder / "hosts"
    hosts.write_text("127.0.0.1\tlocalhost\n")
    hosts.chmod(0o666)
    assert problem_as_unprivileged(hosts) is None


def test_a_missing_file_in_a_folder_this_user_may_write_is_no_problem(folder: Path) -> None:
    writable = folder / "open"
    writable.mkdir()
    writable.chmod(0o777)
    assert problem_as_unprivileged(writable / "hosts") is None


@pytest.mark.skipif(hosts_file_io.sudo_works(), reason="`sudo -n` works here: the file is writable through it")
def test_a_read_only_hosts_file_without_sudo_is_one_line_naming_the_setting(folder: Path) -> None:
    hosts = folder / "hosts"
    hosts.write_text("127.0.0.1\tlocalhost\n")
    hosts.chmod(0o644)
    if os.geteuid() != 0:
        hosts.chmod(0o444)
    expected = (
        f"wayshub:hostsFile.enabled: {user_name()} cannot write {hosts} and `sudo -n` needs a password; set "
        "wayshub:hostsFile.enabled false (a *.localhost domain needs no hosts entry), point "
        "wayshub:hostsFile.path at a file this user can write, or run where `sudo -n true` works"
    )
    assert problem_as_unprivileged(hosts) == expected
    closed = folder / "closed"
    closed.mkdir(mode=0o755)
    if os.geteuid() != 0:
        closed.chmod(0o555)
    missing = problem_as_unprivileged(closed / "hosts")
    assert missing is not None and missing.startswith(f"wayshub:hostsFile.enabled: {user_name()} cannot write ")


def test_root_may_write_it(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("not root")
    hosts = tmp_path / "hosts"
    hosts.write_text("")
    hosts.chmod(0o444)
    assert hosts_file_io.write_problem(hosts) is None
