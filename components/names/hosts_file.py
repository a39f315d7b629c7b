"""The managed block of one stack in a hosts file's text: render, parse, find, replace, remove.

Pure text functions (no Pulumi, no file access: reading and writing the file is
components/names/hosts_file_io.py, whose public names are importable from here too).
A stack owns exactly the lines from ``# BEGIN wayshub-infra <stack>`` to ``# END wayshub-infra <stack>``;
every other byte of the file - other stacks' blocks, comments, CRLF line ends, a missing final
newline, bytes that are not UTF-8 - comes back exactly as it was read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from components.config.base import normal_address
from components.names.hosts_file_io import SETTING, read_text, sudo_works, write_in_place, write_problem
from components.render import render

# The file's own functions stay importable from here (patch them in hosts_file_io, where they run).
__all__ = [
    "SETTING",
    "begin_marker",
    "check_stack",
    "end_marker",
    "normalize_entry",
    "normalize_ip",
    "normalize_names",
    "parse_block",
    "read_block",
    "read_text",
    "render_block",
    "replace_block",
    "sort_entries",
    "sudo_works",
    "write_in_place",
    "write_problem",
]

_STACK = re.compile(r"[A-Za-z0-9_.\-/]+")
_HOSTNAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.\-]{0,251}[A-Za-z0-9_.])?")


def begin_marker(stack: str) -> str:
    return f"# BEGIN wayshub-infra {stack}"


def end_marker(stack: str) -> str:
    return f"# END wayshub-infra {stack}"


# --- entries and the rendered block ---------------------------------------------------------------


def check_stack(stack: str) -> str:
    """``stack`` if it can go into a marker line (no spaces, newlines or ``#``); ValueError otherwise."""
    if not _STACK.fullmatch(stack):
        raise ValueError(f"stack name {stack!r} cannot be used in a hosts file marker (letters, digits, _ . - /)")
    return stack


def normalize_ip(ip: str) -> str:
    """The address as ``ipaddress`` prints it (``FD00::0011`` -> ``fd00::11``); no zone ID or any other text
    (the config's one address rule, checked again where the address meets the hosts file)."""
    try:
        return normal_address(ip, names=False)
    except ValueError:
        raise ValueError(f"hosts entry {ip!r}: not an IP address") from None


def normalize_names(names: str) -> str:
    """Host names separated by one space; anything that could leave its line (newline, ``#``, ``;``) is refused."""
    tokens = names.split()
    if not tokens:
        raise ValueError(f"hosts entry names {names!r}: no host names")
    for token in tokens:
        if not _HOSTNAME.fullmatch(token):
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
