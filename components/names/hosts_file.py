"""The managed block of one stack in a hosts file: render, find, replace, remove, write back.

Pure text functions (no Pulumi) plus :func:`read_text`/:func:`write_in_place`, which touch the file.
A stack owns exactly the lines from ``# BEGIN wayshub-infra <stack>`` to ``# END wayshub-infra <stack>``;
every other byte of the file - other stacks' blocks, comments, CRLF line ends, a missing final
newline, bytes that are not UTF-8 - comes back exactly as it was read.
"""

from __future__ import annotations

import errno
import getpass
import ipaddress
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from components.render import render

SETTING = "wayshub:hostsFile.path"
# Hosts files are read and written as UTF-8 with surrogateescape, so any byte survives a round trip.
ENCODING = "utf-8"
ERRORS = "surrogateescape"
SUDO_TIMEOUT_SECONDS = 60

_STACK = re.compile(r"^[A-Za-z0-9_.\-/]+$")
_HOSTNAME = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_.\-]{0,251}[A-Za-z0-9_.])?$")


def begin_marker(stack: str) -> str:
    return f"# BEGIN wayshub-infra {stack}"


def end_marker(stack: str) -> str:
    return f"# END wayshub-infra {stack}"


# --- entries and the rendered block ---------------------------------------------------------------


def check_stack(stack: str) -> str:
    """``stack`` if it can go into a marker line (no spaces, newlines or ``#``); ValueError otherwise."""
    if not _STACK.match(stack):
        raise ValueError(f"stack name {stack!r} cannot be used in a hosts file marker (letters, digits, _ . - /)")
    return stack


def normalize_ip(ip: str) -> str:
    """The address as ``ipaddress`` prints it (``FD00::0011`` -> ``fd00::11``)."""
    try:
        return str(ipaddress.ip_address(ip))
    except ValueError:
        raise ValueError(f"hosts entry {ip!r}: not an IP address") from None


def normalize_names(names: str) -> str:
    """Host names separated by one space; anything that could leave its line (newline, ``#``, ``;``) is refused."""
    tokens = names.split()
    if not tokens:
        raise ValueError(f"hosts entry names {names!r}: no host names")
    for token in tokens:
        if not _HOSTNAME.match(token):
            raise ValueError(f"hosts entry names {names!r}: {token!r} is not a host name")
    return " ".join(tokens)


def normalize_entry(ip: str, names: str) -> tuple[str, str]:
    """``(ip, names)`` checked and in canonical form."""
    return normalize_ip(ip), normalize_names(names)


def sort_entries(entries: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Entries normalized and sorted by ``(names, ip)``, so the same inventory always gives the same block."""
    normalized = [normalize_entry(ip, names) for ip, names in entries]
    return sorted(normalized, key=lambda entry: (entry[1], entry[0]))


def render_block(stack: str, entries: Iterable[tuple[str, str]]) -> str:
    """The managed block for ``stack`` (``\\n`` line ends, final newline included)."""
    return render("hosts-block.j2", stack=check_stack(stack), entries=sort_entries(entries))


def parse_block(block: str) -> list[tuple[str, str]]:
    """The ``(ip, names)`` lines of a block as found in a file (markers, blanks and comments skipped).

    Used by ``refresh``: the result is what the file says, not validated, so a hand edit shows as is.
    """
    entries: list[tuple[str, str]] = []
    for line in block.splitlines():
        fields = line.split("#", 1)[0].split()
        if fields:
            entries.append((fields[0], " ".join(fields[1:])))
    return entries


# --- finding and replacing the block in a file's text ---------------------------------------------


def _lines(text: str) -> list[str]:
    """``text`` split after each ``\\n`` only (so ``"".join`` gives back ``text`` exactly)."""
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _find(lines: list[str], stack: str) -> tuple[int, int] | None:
    """Indexes of our BEGIN and END lines, or None; anything ambiguous raises ValueError."""
    begin, end = begin_marker(stack), end_marker(stack)
    span: tuple[int, int] | None = None
    start: int | None = None
    for number, line in enumerate(lines):
        marker = line.rstrip()
        if marker == begin:
            if start is not None:
                raise ValueError(
                    f"line {number + 1}: a second {begin!r} before {end!r} (line {start + 1} opened the block); "
                    "fix the file by hand"
                )
            if span is not None:
                raise ValueError(
                    f"line {number + 1}: a second block for stack {stack!r} "
                    f"(the first is lines {span[0] + 1}-{span[1] + 1}); fix the file by hand"
                )
            start = number
        elif marker == end:
            if start is None:
                raise ValueError(f"line {number + 1}: {end!r} without a {begin!r} before it; fix the file by hand")
            span, start = (start, number), None
    if start is not None:
        raise ValueError(f"line {start + 1}: {begin!r} has no matching {end!r}; fix the file by hand")
    return span


def _line_end(lines: list[str]) -> str:
    """The file's line end, judged by its first line: ``\\r\\n`` or ``\\n``."""
    return "\r\n" if lines and lines[0].endswith("\r\n") else "\n"


def read_block(text: str, stack: str) -> str | None:
    """The block of ``stack`` in ``text`` with ``\\n`` line ends (as :func:`render_block` makes it), or None."""
    lines = _lines(text)
    span = _find(lines, stack)
    if span is None:
        return None
    block = "".join(lines[span[0] : span[1] + 1]).replace("\r\n", "\n")
    return block if block.endswith("\n") else block + "\n"


def replace_block(text: str, stack: str, block: str | None) -> str:
    """``text`` with the block of ``stack`` replaced by ``block``, appended if absent, removed if None.

    ``block`` is written with the file's line end (CRLF files stay CRLF). Lines outside our block are
    returned byte for byte; a file without a final newline gets one before an appended block.
    """
    lines = _lines(text)
    span = _find(lines, stack)
    eol = _line_end(lines)
    new_lines: list[str] = []
    if block is not None:
        block = block.replace("\r\n", "\n")
        block_lines = block.splitlines()
        if not block_lines or block_lines[0] != begin_marker(stack) or block_lines[-1] != end_marker(stack):
            raise ValueError(f"the block to write must start with {begin_marker(stack)!r} and end with its END line")
        new_lines = [line + eol for line in block_lines]
    if span is not None:
        lines[span[0] : span[1] + 1] = new_lines
        return "".join(lines)
    if not new_lines:
        return text
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += eol
    return "".join(lines + new_lines)


# --- the file itself --------------------------------------------------------------------------------


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
