"""The hosts-file block: exact text for every file shape, in-place writes, and the provider's lifecycle.

Every test works on files under ``tmp_path``; the real ``/etc/hosts`` is never touched.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from components.names import hosts_entry, hosts_file_io
from components.names.hosts_entry import HostsEntryProvider
from components.names.hosts_file import parse_block, read_block, render_block, replace_block
from components.names.hosts_file_io import write_in_place

BLOCK = "# BEGIN wayshub-infra prod\n10.0.0.1\tapi.example\n10.0.0.2\twww.example\n# END wayshub-infra prod\n"
BLOCK_CRLF = BLOCK.replace("\n", "\r\n")
OLD_BLOCK = "# BEGIN wayshub-infra prod\n10.9.9.9\told.example\n# END wayshub-infra prod\n"
STAGING = "# BEGIN wayshub-infra staging\n10.1.1.1\tstaging.example\n# END wayshub-infra staging\n"
# A stack whose name starts with ours: its markers must not be taken for ours.
PROD_EU = "# BEGIN wayshub-infra prod-eu\n10.2.2.2\teu.example\n# END wayshub-infra prod-eu\n"
HEAD = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost   \n# keep this comment\n\n"
TAIL = "  # indented comment, trailing spaces  \n10.3.3.3 tail.example"  # no final newline


# --- render_block ---------------------------------------------------------------------------------


def test_render_block_sorts_by_names_then_ip() -> None:
    entries = [("10.0.0.2", "www.example"), ("fd00::0011", "api.example"), ("10.0.0.1", "api.example")]
    assert render_block("prod", entries) == (
        "# BEGIN wayshub-infra prod\n"
        "10.0.0.1\tapi.example\n"
        "fd00::11\tapi.example\n"
        "10.0.0.2\twww.example\n"
        "# END wayshub-infra prod\n"
    )


def test_render_block_is_the_same_for_any_input_order() -> None:
    entries = [("10.0.0.2", "www.example"), ("10.0.0.1", "api.example")]
    assert render_block("prod", entries) == render_block("prod", list(reversed(entries))) == BLOCK


def test_render_block_joins_names_with_one_space() -> None:
    assert render_block("prod", [("10.0.0.1", "  a.example\t b.example ")]) == (
        "# BEGIN wayshub-infra prod\n10.0.0.1\ta.example b.example\n# END wayshub-infra prod\n"
    )


@pytest.mark.parametrize(
    ("stack", "ip", "names", "message"),
    [
        ("prod", "10.0.0.1\n0.0.0.0 evil.example", "a.example", "not an IP address"),
        ("prod", "$(id)", "a.example", "not an IP address"),
        ("prod", "10.0.0.1", "a.example\n# END wayshub-infra prod", "'#' is not a host name"),
        ("prod", "10.0.0.1", "a.example; whoami", "'a.example;' is not a host name"),
        ("prod", "10.0.0.1", "$(id)", "'$(id)' is not a host name"),
        ("prod", "10.0.0.1", "   ", "no host names"),
        ("prod\n10.0.0.9 evil", "10.0.0.1", "a.example", "cannot be used in a hosts file marker"),
        ("prod x", "10.0.0.1", "a.example", "cannot be used in a hosts file marker"),
    ],
)
def test_render_block_rejects_values_that_could_leave_their_line(stack: str, ip: str, names: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("$", r"\$").replace("(", r"\(").replace(")", r"\)")):
        render_block(stack, [(ip, names)])


# --- replace_block --------------------------------------------------------------------------------

# (text before, block or None to remove, text after) - the stack is always "prod".
REPLACE_CASES: dict[str, tuple[str, str | None, str]] = {
    "empty file, add": ("", BLOCK, BLOCK),
    "empty file, remove": ("", None, ""),
    "append after final newline": (HEAD, BLOCK, HEAD + BLOCK),
    "append to file without final newline": ("127.0.0.1\tlocalhost", BLOCK, "127.0.0.1\tlocalhost\n" + BLOCK),
    "append to CRLF file": (
        "127.0.0.1\tlocalhost\r\n# c\r\n",
        BLOCK,
        "127.0.0.1\tlocalhost\r\n# c\r\n" + BLOCK_CRLF,
    ),
    "append to CRLF file without final newline": ("a\r\nb", BLOCK, "a\r\nb\r\n" + BLOCK_CRLF),
    "replace in the middle": (HEAD + OLD_BLOCK + TAIL, BLOCK, HEAD + BLOCK + TAIL),
    "replace in the middle of a CRLF file": (
        "a\r\n" + OLD_BLOCK.replace("\n", "\r\n") + "b\r\n",
        BLOCK,
        "a\r\n" + BLOCK_CRLF + "b\r\n",
    ),
    "replace a block whose END has trailing spaces": (
        HEAD + "# BEGIN wayshub-infra prod  \n10.9.9.9\told.example\n# END wayshub-infra prod\t\r\n",
        BLOCK,
        HEAD + BLOCK,
    ),
    "replace a block at the end without final newline": (HEAD + OLD_BLOCK.rstrip("\n"), BLOCK, HEAD + BLOCK),
    "other stacks' blocks untouched on append": (
        HEAD + STAGING + PROD_EU + TAIL,
        BLOCK,
        HEAD + STAGING + PROD_EU + TAIL + "\n" + BLOCK,
    ),
    "other stacks' blocks untouched on replace": (
        STAGING + OLD_BLOCK + PROD_EU,
        BLOCK,
        STAGING + BLOCK + PROD_EU,
    ),
    "remove from the middle": (HEAD + OLD_BLOCK + TAIL, None, HEAD + TAIL),
    "remove between other stacks' blocks": (STAGING + OLD_BLOCK + PROD_EU, None, STAGING + PROD_EU),
    "remove the only content": (BLOCK, None, ""),
    "remove when absent changes nothing": (HEAD + STAGING + TAIL, None, HEAD + STAGING + TAIL),
    "same block again changes nothing": (HEAD + BLOCK + TAIL, BLOCK, HEAD + BLOCK + TAIL),
    "bytes that are not UTF-8 survive": (
        b"# caf\xe9 latin-1\n".decode("utf-8", "surrogateescape"),
        BLOCK,
        b"# caf\xe9 latin-1\n".decode("utf-8", "surrogateescape") + BLOCK,
    ),
}


@pytest.mark.parametrize("case", REPLACE_CASES)
def test_replace_block_exact_text(case: str) -> None:
    before, block, after = REPLACE_CASES[case]
    assert replace_block(before, "prod", block) == after


@pytest.mark.parametrize("case", REPLACE_CASES)
def test_replace_block_twice_is_a_no_op(case: str) -> None:
    before, block, _ = REPLACE_CASES[case]
    once = replace_block(before, "prod", block)
    assert replace_block(once, "prod", block) == once


BROKEN_CASES: dict[str, tuple[str, str]] = {
    "BEGIN without END": (
        HEAD + "# BEGIN wayshub-infra prod\n10.0.0.1\tapi.example\n",
        "line 5: '# BEGIN wayshub-infra prod' has no matching '# END wayshub-infra prod'; fix the file by hand",
    ),
    "BEGIN closed by another stack's END": (
        "# BEGIN wayshub-infra prod\n# END wayshub-infra staging\n",
        "line 1: '# BEGIN wayshub-infra prod' has no matching '# END wayshub-infra prod'; fix the file by hand",
    ),
    "END without BEGIN": (
        "a\n# END wayshub-infra prod\n",
        "line 2: '# END wayshub-infra prod' without a '# BEGIN wayshub-infra prod' before it; fix the file by hand",
    ),
    "nested BEGIN": (
        "# BEGIN wayshub-infra prod\n# BEGIN wayshub-infra prod\n# END wayshub-infra prod\n",
        "line 2: a second '# BEGIN wayshub-infra prod' before '# END wayshub-infra prod' "
        "(line 1 opened the block); fix the file by hand",
    ),
    "two blocks": (
        OLD_BLOCK + "x\n" + OLD_BLOCK,
        "line 5: a second block for stack 'prod' (the first is lines 1-3); fix the file by hand",
    ),
}


@pytest.mark.parametrize("case", BROKEN_CASES)
@pytest.mark.parametrize("block", [BLOCK, None], ids=["write", "remove"])
def test_replace_block_refuses_to_guess(case: str, block: str | None) -> None:
    text, message = BROKEN_CASES[case]
    with pytest.raises(ValueError) as caught:
        replace_block(text, "prod", block)
    assert str(caught.value) == message


def test_an_unterminated_block_of_another_stack_does_not_matter() -> None:
    text = "# BEGIN wayshub-infra staging\n10.1.1.1\tstaging.example\n"
    assert replace_block(text, "prod", BLOCK) == text + BLOCK


def test_replace_block_rejects_a_block_of_another_stack() -> None:
    with pytest.raises(ValueError, match="must start with '# BEGIN wayshub-infra prod'"):
        replace_block(HEAD, "prod", STAGING)


# --- read_block and parse_block -------------------------------------------------------------------

READ_CASES: dict[str, tuple[str, str | None]] = {
    "absent": (HEAD + STAGING + PROD_EU, None),
    "empty file": ("", None),
    "in the middle": (HEAD + BLOCK + TAIL, BLOCK),
    "CRLF file gives LF text": ("a\r\n" + BLOCK_CRLF + "b\r\n", BLOCK),
    "at the end without final newline": (HEAD + BLOCK.rstrip("\n"), BLOCK),
}


@pytest.mark.parametrize("case", READ_CASES)
def test_read_block(case: str) -> None:
    text, expected = READ_CASES[case]
    assert read_block(text, "prod") == expected


def test_read_block_refuses_an_unterminated_block() -> None:
    with pytest.raises(ValueError, match="has no matching"):
        read_block("# BEGIN wayshub-infra prod\n", "prod")


def test_parse_block_reads_lines_as_written() -> None:
    block = "# BEGIN wayshub-infra prod\n10.0.0.1   a.example  b.example\n\n# note\n10.0.0.9 x # c\n# END wayshub-infra prod\n"
    assert parse_block(block) == [("10.0.0.1", "a.example b.example"), ("10.0.0.9", "x")]


# --- write_in_place -------------------------------------------------------------------------------


def test_write_in_place_writes_exact_bytes_into_the_same_file(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_bytes(b"old content that is longer than the new one\r\n" * 3)
    inode = hosts.stat().st_ino
    text = "a\r\nb\n" + b"\xff".decode("utf-8", "surrogateescape")
    write_in_place(hosts, text)
    assert hosts.read_bytes() == b"a\r\nb\n\xff"
    assert hosts.stat().st_ino == inode


def test_write_in_place_creates_a_missing_file(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    write_in_place(hosts, BLOCK)
    assert hosts.read_bytes() == BLOCK.encode()


def test_write_in_place_writes_through_a_symlink(tmp_path: Path) -> None:
    target = tmp_path / "real-hosts"
    target.write_text("old\n")
    link = tmp_path / "hosts"
    link.symlink_to(target)
    write_in_place(link, "new\n")
    assert link.is_symlink()
    assert target.read_text() == "new\n"


def test_write_in_place_refuses_a_directory(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError) as caught:
        write_in_place(tmp_path, "x\n")
    assert str(caught.value) == (
        f"[Errno 21] wayshub:hostsFile.path: {tmp_path} is a directory; give the path of a hosts file"
    )


def test_write_in_place_refuses_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"wayshub:hostsFile\.path: .*/nowhere does not exist"):
        write_in_place(tmp_path / "nowhere" / "hosts", "x\n")
    assert not (tmp_path / "nowhere").exists()


def _deny_open(path: Path) -> int:
    raise PermissionError(13, "Permission denied", str(path))


def test_write_in_place_without_permission_or_sudo_names_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text("old\n")
    monkeypatch.setattr(hosts_file_io, "_open_rw", _deny_open)
    monkeypatch.setattr(hosts_file_io, "sudo_works", lambda: False)
    with pytest.raises(PermissionError) as caught:
        write_in_place(hosts, "new\n")
    assert str(caught.value) == (
        f"[Errno 13] wayshub:hostsFile.path: cannot write {hosts} (Permission denied); run pulumi where "
        "`sudo -n` works without a password, or set wayshub:hostsFile.path to a file this user can write"
    )
    assert hosts.read_text() == "old\n"


FAKE_SUDO = """#!/bin/sh
[ "$1" = -n ] || exit 2
shift
echo "$*" >> "$FAKE_SUDO_LOG"
exec "$@"
"""


def test_write_in_place_falls_back_to_sudo_tee(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    sudo = bin_dir / "sudo"
    sudo.write_text(FAKE_SUDO)
    sudo.chmod(sudo.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "sudo.log"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SUDO_LOG", str(log))
    monkeypatch.setattr(hosts_file_io, "_open_rw", _deny_open)
    hosts = tmp_path / "hosts file; $(id)"
    hosts.write_text("old\n")
    write_in_place(hosts, "a\r\nb")
    assert hosts.read_bytes() == b"a\r\nb"
    assert log.read_text() == f"true\ntee -- {hosts}\n"


def test_write_in_place_restores_the_old_content_when_the_write_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_bytes(b"old\r\ncontent")
    real_fsync = os.fsync
    calls: list[int] = []

    def fsync_fails_once(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 1:
            raise OSError(5, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync_fails_once)
    with pytest.raises(OSError, match="Input/output error"):
        write_in_place(hosts, "new")
    assert hosts.read_bytes() == b"old\r\ncontent"
    assert len(calls) == 2


def test_write_in_place_keeps_the_old_content_elsewhere_if_restoring_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hosts = tmp_path / "etc" / "hosts"
    hosts.parent.mkdir()
    hosts.write_bytes(b"old content\n")
    saves = tmp_path / "tmp"
    saves.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(saves))

    def fsync_fails(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", fsync_fails)
    with pytest.raises(OSError, match="restoring it failed too") as caught:
        write_in_place(hosts, "new\n")
    [saved] = list(saves.iterdir())
    assert saved.read_bytes() == b"old content\n"
    assert str(saved) in str(caught.value)
    assert [p.name for p in hosts.parent.iterdir()] == ["hosts"]  # no backup next to the hosts file


# --- the provider, called directly ----------------------------------------------------------------

ORIGINAL = "127.0.0.1\tlocalhost\r\n::1\tlocalhost ip6-localhost\r\n# keep me\r\n" + STAGING.replace("\n", "\r\n")


def _props(hosts: Path, entries: list[list[str]]) -> dict[str, Any]:
    return {"path": str(hosts), "stack": "prod", "entries": entries}


def test_provider_lifecycle_leaves_the_file_as_it_found_it(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_bytes(ORIGINAL.encode())
    provider = HostsEntryProvider()

    created = provider.create(_props(hosts, [["10.0.0.2", "www.example"], ["10.0.0.1", "api.example"]]))
    assert created.id == f"prod:{hosts}"
    assert created.outs == {
        "path": str(hosts),
        "stack": "prod",
        "entries": [["10.0.0.1", "api.example"], ["10.0.0.2", "www.example"]],
        "block": BLOCK,
    }
    assert hosts.read_bytes() == (ORIGINAL + BLOCK_CRLF).encode()

    updated = provider.update(created.id, created.outs or {}, _props(hosts, [["10.0.0.7", "new.example"]]))
    new_block = "# BEGIN wayshub-infra prod\n10.0.0.7\tnew.example\n# END wayshub-infra prod\n"
    assert updated.outs is not None
    assert updated.outs["block"] == new_block
    assert hosts.read_bytes() == (ORIGINAL + new_block.replace("\n", "\r\n")).encode()

    provider.delete(created.id, updated.outs)
    assert hosts.read_bytes() == ORIGINAL.encode()
    provider.delete(created.id, updated.outs)  # again: nothing to do, no error
    assert hosts.read_bytes() == ORIGINAL.encode()


def test_provider_read_reports_a_hand_edit_and_update_puts_the_block_back(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text(HEAD)
    provider = HostsEntryProvider()
    inputs = {**_props(hosts, [["10.0.0.1", "api.example"], ["10.0.0.2", "www.example"]]), "block": BLOCK}
    created = provider.create(inputs)
    assert created.outs is not None

    unchanged = provider.read(created.id, created.outs)
    assert unchanged.outs == created.outs
    assert provider.diff(created.id, unchanged.outs, inputs).changes is False

    hosts.write_text(hosts.read_text().replace("10.0.0.2\twww.example", "10.6.6.6\twww.example  # hijacked"))
    edited = provider.read(created.id, created.outs)
    assert edited.id == created.id
    assert edited.outs == {
        "path": str(hosts),
        "stack": "prod",
        "entries": [["10.0.0.1", "api.example"], ["10.6.6.6", "www.example"]],
        "block": (
            "# BEGIN wayshub-infra prod\n10.0.0.1\tapi.example\n10.6.6.6\twww.example  # hijacked\n"
            "# END wayshub-infra prod\n"
        ),
    }
    diff = provider.diff(created.id, edited.outs, inputs)
    assert (diff.changes, diff.replaces) == (True, [])

    provider.update(created.id, edited.outs, inputs)
    assert hosts.read_text() == HEAD + BLOCK


def test_provider_read_reports_a_removed_block_and_a_removed_file(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text(HEAD)
    provider = HostsEntryProvider()
    inputs = {**_props(hosts, [["10.0.0.1", "api.example"], ["10.0.0.2", "www.example"]]), "block": BLOCK}
    created = provider.create(inputs)
    assert created.outs is not None
    gone: dict[str, Any] = {"path": str(hosts), "stack": "prod", "entries": [], "block": None}

    hosts.write_text(HEAD)
    assert provider.read(created.id, created.outs).outs == gone
    hosts.unlink()
    removed = provider.read(created.id, created.outs)
    assert removed.outs == gone
    assert provider.diff(created.id, gone, inputs).changes is True

    provider.update(created.id, gone, inputs)
    assert hosts.read_text() == BLOCK


def test_provider_delete_with_a_missing_file_creates_nothing(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    HostsEntryProvider().delete("prod:x", {**_props(hosts, []), "block": None})
    assert not hosts.exists()


def test_provider_second_apply_does_not_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text(HEAD + BLOCK + TAIL)

    def no_write(path: Path, text: str) -> None:
        raise AssertionError("the file was already right")

    monkeypatch.setattr(hosts_entry, "write_in_place", no_write)
    HostsEntryProvider().create(_props(hosts, [["10.0.0.2", "www.example"], ["10.0.0.1", "api.example"]]))
    assert hosts.read_text() == HEAD + BLOCK + TAIL


def test_provider_refuses_an_unterminated_block_and_names_the_file(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text(HEAD + "# BEGIN wayshub-infra prod\n10.0.0.1\tapi.example\n")
    provider = HostsEntryProvider()
    props = _props(hosts, [["10.0.0.1", "api.example"]])
    expected = (
        f"wayshub:hostsFile.path: cannot {{}} in {hosts}: line 5: '# BEGIN wayshub-infra prod' has no matching "
        "'# END wayshub-infra prod'; fix the file by hand"
    )
    calls: list[tuple[str, Callable[[], object]]] = [
        ("update the block", lambda: provider.create(props)),
        ("remove the block", lambda: provider.delete("id", props)),
        ("read the block", lambda: provider.read("id", props)),
    ]
    for action, call in calls:
        with pytest.raises(ValueError) as caught:
            call()
        assert str(caught.value) == expected.format(action)
    assert hosts.read_text() == HEAD + "# BEGIN wayshub-infra prod\n10.0.0.1\tapi.example\n"


@pytest.mark.parametrize(
    ("change", "changes", "replaces"),
    [
        ({}, False, []),
        ({"entries": [["10.0.0.9", "api.example"]]}, True, []),
        ({"block": "# BEGIN wayshub-infra prod\n# END wayshub-infra prod\n"}, True, []),
        ({"path": "/elsewhere/hosts"}, True, ["path"]),
        ({"stack": "staging"}, True, ["stack"]),
    ],
)
def test_provider_diff(change: dict[str, Any], changes: bool, replaces: list[str]) -> None:
    olds = {"path": "/etc/hosts", "stack": "prod", "entries": [["10.0.0.1", "api.example"]], "block": BLOCK}
    result = HostsEntryProvider().diff("id", olds, {**olds, **change})
    assert (result.changes, result.replaces, result.delete_before_replace) == (changes, replaces, True)
