"""The processes a test started, found by pid so that a test kills only its own (never by a name pattern)."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, their children, …), read from /proc."""
    parent_of: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent_of[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: list[int] = []
    frontier = [pid]
    while frontier:
        children = [child for child, parent in parent_of.items() if parent in frontier]
        found += children
        frontier = children
    return found


def running(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie, dead but not yet reaped, does not)."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def kill_tree(pid: int, wait_seconds: float = 10.0) -> None:
    """SIGKILL ``pid`` and everything below it, all found before any dies (an engine's plugins run in process
    groups of their own: killing its group alone leaves them running); AssertionError if any still runs
    ``wait_seconds`` later."""
    tree = [pid, *descendants(pid)]
    for each in tree:
        with contextlib.suppress(ProcessLookupError):
            os.kill(each, signal.SIGKILL)
    deadline = time.monotonic() + wait_seconds
    while (left := [each for each in tree if running(each)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"processes of the killed tree still run: {left}"


def engine_of_this_process() -> int:
    """The pid of the `pulumi up` this test process started (the Automation API's child: its engine)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if ppid == os.getpid() and Path(argv[0].decode()).name == "pulumi" and b"up" in argv:
            found.append(int(entry.name))
    assert len(found) == 1, f"expected one `pulumi up` started by this test, found {found}"
    return found[0]
