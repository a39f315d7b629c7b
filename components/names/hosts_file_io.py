"""A hosts file on disk: read it and rewrite it in place (through ``sudo -n`` when this user may not).

The text of the managed block is components/names/hosts_file.py's job; this module only moves bytes.
Any byte survives a round trip (UTF-8 with surrogateescape), the file is never replaced (hosts files
are often bind mounts), and a failed write puts the old content back.
"""

from __future__ import annotations

import errno
import getpass
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

SETTING = "wayshub:hostsFile.path"
# Hosts files are read and written as UTF-8 with surrogateescape, so any byte survives a round trip.
ENCODING = "utf-8"
ERRORS = "surrogateescape"
SUDO_TIMEOUT_SECONDS = 60


def _check_path(path: Path) -> None:
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, f"{SETTING}: {path} is a directory; give the path of a hosts file")
    if not path.parent.is_dir():
        raise FileNotFoundError(
            errno.ENOENT, f"{SETTING}: {path.parent} does not exist (or is not a directory), so {path} cannot be used"
        )


def sudo_works() -> bool:
    """True if ``sudo -n true`` succeeds: sudo is installed and needs no password here."""
    if shutil.which("sudo") is None:
        return False
    probe = subprocess.run(
        ["sudo", "-n", "true"], capture_output=True, timeout=SUDO_TIMEOUT_SECONDS, check=False, stdin=subprocess.DEVNULL
    )
    return probe.returncode == 0


def write_problem(path: Path) -> str | None:
    """Why this process could not write the hosts file at ``path``: one line naming the setting, or None.

    Asked before any resource is declared, so an ``up`` that could not write the block stops at once
    instead of after the servers are built (the provider itself can only fail with a traceback).
    Writable here means: the file (or, if it is missing, its folder) is writable by this user, or
    ``sudo -n true`` works.
    """
    target = path if path.exists() else path.parent
    if os.access(target, os.W_OK) or sudo_works():
        return None
    try:
        user = f"user {getpass.getuser()}"
    except (KeyError, OSError):  # no name for this uid (a container's user)
        user = f"uid {os.getuid()}"
    return (
        f"wayshub:hostsFile.enabled: {user} cannot write {path} and `sudo -n` needs a password; set "
        "wayshub:hostsFile.enabled false (a *.localhost domain needs no hosts entry), point "
        "wayshub:hostsFile.path at a file this user can write, or run where `sudo -n true` works"
    )


def _permission_error(path: Path, action: str, err: OSError) -> PermissionError:
    return PermissionError(
        errno.EACCES,
        f"{SETTING}: cannot {action} {path} ({err.strerror}); run pulumi where `sudo -n` works without a "
        f"password, or set {SETTING} to a file this user can write",
    )


def read_text(path: Path) -> str | None:
    """The file's text (any bytes kept via surrogateescape), or None if it does not exist."""
    if path.is_dir():
        _check_path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except PermissionError as err:
        if not sudo_works():
            raise _permission_error(path, "read", err) from None
        done = subprocess.run(
            ["sudo", "-n", "cat", "--", str(path)],
            capture_output=True,
            timeout=SUDO_TIMEOUT_SECONDS,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        if done.returncode != 0:
            raise OSError(
                f"{SETTING}: sudo -n cat {path} failed: {done.stderr.decode(errors='replace').strip()}"
            ) from err
        data = done.stdout
    return data.decode(ENCODING, ERRORS)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _overwrite(fd: int, data: bytes) -> None:
    os.lseek(fd, 0, os.SEEK_SET)
    _write_all(fd, data)
    os.ftruncate(fd, len(data))
    os.fsync(fd)


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _save_elsewhere(data: bytes) -> str:
    """Keep ``data`` in a temp file (never next to the hosts file) when the restore itself failed."""
    fd, name = tempfile.mkstemp(prefix="wayshub-hosts-", suffix=".bak")
    try:
        _write_all(fd, data)
    finally:
        os.close(fd)
    return name


def _open_rw(path: Path) -> int:
    """The file opened read-write without truncation (created 0644 if missing)."""
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)


def _write_restoring(write: Callable[[bytes], None], path: Path, data: bytes, old: bytes) -> None:
    """``write(data)``; if that fails, ``write(old)`` back, and if even that fails keep ``old`` elsewhere."""
    try:
        write(data)
    except BaseException as err:
        try:
            write(old)
        except (OSError, subprocess.SubprocessError) as restore_err:
            saved = _save_elsewhere(old)
            raise OSError(
                f"{SETTING}: writing {path} failed ({err}) and restoring it failed too ({restore_err}); "
                f"its previous content is in {saved}"
            ) from err
        raise


def _write_direct(fd: int, path: Path, data: bytes) -> None:
    old = _read_all(fd)
    if old != data:
        _write_restoring(lambda content: _overwrite(fd, content), path, data, old)


def _sudo_tee(path: Path, data: bytes) -> None:
    done = subprocess.run(
        ["sudo", "-n", "tee", "--", str(path)],
        input=data,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=SUDO_TIMEOUT_SECONDS,
        check=False,
    )
    if done.returncode != 0:
        raise OSError(f"{SETTING}: sudo -n tee {path} failed: {done.stderr.decode(errors='replace').strip()}")


def _write_with_sudo(path: Path, data: bytes) -> None:
    old_text = read_text(path)
    old = b"" if old_text is None else old_text.encode(ENCODING, ERRORS)
    if old_text is None or old != data:
        _write_restoring(lambda content: _sudo_tee(path, content), path, data, old)


def write_in_place(path: Path, text: str) -> None:
    """Replace the content of ``path`` with ``text`` without replacing the file itself.

    Hosts files are often bind mounts (Docker's ``/etc/hosts``) where a rename over them fails, so the
    file is rewritten in place (write, truncate, fsync); its old content is kept in memory and written
    back if that fails midway - no backup file is left next to it. A missing file is created. If this
    process may not write it and ``sudo -n true`` works, ``sudo -n tee`` writes it instead.
    """
    _check_path(path)
    data = text.encode(ENCODING, ERRORS)
    try:
        fd = _open_rw(path)
    except PermissionError as err:
        if not sudo_works():
            raise _permission_error(path, "write", err) from None
        _write_with_sudo(path, data)
        return
    try:
        _write_direct(fd, path, data)
    finally:
        os.close(fd)
