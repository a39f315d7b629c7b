"""scripts/torn_state.py: which ``.attrs`` files a killed engine tore, and that only those are removed."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))  # scripts/ is a folder of tools

from torn_state import repair, state_dir_of, torn_attrs


def test_only_empty_or_cut_off_attrs_files_are_removed(tmp_path: Path) -> None:
    stacks = tmp_path / ".pulumi" / "stacks" / "wayshub"
    stacks.mkdir(parents=True)
    whole = stacks / "e2e.json.attrs"
    whole.write_text('{"user.cache_control":"","user.content_type":"application/octet-stream"}\n')
    empty = stacks / "e2e.json.bak.attrs"
    empty.write_text("")
    cut = tmp_path / ".pulumi" / "history.json.attrs"
    cut.write_text('{"user.content_type":"appl')
    state = stacks / "e2e.json"
    state.write_text("")  # not metadata: never touched, whatever it holds
    assert torn_attrs(tmp_path) == sorted([empty, cut])
    assert repair(tmp_path) == sorted([empty, cut])
    assert whole.exists() and state.exists() and not empty.exists() and not cut.exists()
    assert repair(tmp_path) == []


def test_only_a_file_backend_has_a_folder() -> None:
    assert state_dir_of("file:///work/.wayshub/state") == Path("/work/.wayshub/state")
    assert state_dir_of("file://~/state") == Path.home() / "state"
    assert state_dir_of("s3://bucket/state") is None
    assert state_dir_of(None) is None
