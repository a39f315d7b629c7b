"""scripts/ensure-plugins: where the real provider plugins come from for the e2e run, cheaply.

No real build here: a fake ``go`` on PATH writes the binaries it is asked for and logs its calls, and the
vendor tarballs are tiny ones with the real folder layout. What is checked is the script's own logic:
skip in one line (no vendor folder, no Go), build once into the cache, reuse it, rebuild a half-made one.
"""

from __future__ import annotations

import io
import os
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "ensure-plugins"
TARBALLS = {
    "pulumi-command-1.2.1-provider-src.tar.gz": ["pulumi-command-1.2.1/provider/go.mod"],
    "pulumi-docker-237b7899-src.tar.gz": [
        "pulumi-docker/provider/go.mod",
        "pulumi-docker/provider/cmd/pulumi-resource-docker/main.go",
        "pulumi-docker/patches/README.md",
    ],
    "terraform-provider-docker-5074970c-src.tar.gz": ["terraform-provider-docker/go.mod"],
}
FAKE_GO = """#!/usr/bin/env bash
# Logs its call; `go build ... -o FILE ...` writes FILE (a script), as the real one writes the plugin.
echo "$PWD :: $*" >> "$GO_LOG"
out=""
while [ $# -gt 0 ]; do
  if [ "$1" = -o ]; then out=$2; shift; fi
  shift
done
if [ -n "$out" ]; then printf '#!/bin/sh\\necho fake\\n' > "$out" && chmod +x "$out"; fi
"""


def make_vendor(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name, files in TARBALLS.items():
        with tarfile.open(folder / name, "w:gz") as archive:
            for path in files:
                data = f"{path}\n".encode()
                info = tarfile.TarInfo(path)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return folder


def fake_go_bin(folder: Path) -> Path:
    folder.mkdir(parents=True)
    go = folder / "go"
    go.write_text(FAKE_GO)
    go.chmod(go.stat().st_mode | stat.S_IXUSR)
    return folder


def tools_without_go(folder: Path) -> str:
    """A PATH with what the script needs (bash, tar, sha256sum, ...) but no ``go``."""
    folder.mkdir(parents=True, exist_ok=True)
    for tool in (
        "bash",
        "tar",
        "gzip",
        "sha256sum",
        "cut",
        "date",
        "mkdir",
        "rm",
        "mv",
        "touch",
        "du",
        "dirname",
        "basename",
        "chmod",
    ):
        if not (folder / tool).exists():
            found = subprocess.run(["bash", "-c", f"command -v {tool}"], capture_output=True, text=True, check=True)
            (folder / tool).symlink_to(found.stdout.strip())
    return str(folder)


def run(tmp_path: Path, path: str, vendor: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        "HOME": str(tmp_path / "home"),
        "PATH": path,
        "WAYSHUB_CACHE": str(tmp_path / "cache"),
        "WAYSHUB_VENDOR": str(vendor or tmp_path / "no-vendor"),
        "GO_LOG": str(tmp_path / "go.log"),
    }
    # Run as the Makefile does: a relative path from the repository.
    return subprocess.run(
        [str(SCRIPT.relative_to(REPO))], cwd=REPO, capture_output=True, text=True, env=env, check=False
    )


def go_calls(tmp_path: Path) -> list[str]:
    log = tmp_path / "go.log"
    return log.read_text().splitlines() if log.is_file() else []


@pytest.fixture
def with_go(tmp_path: Path) -> str:
    return f"{fake_go_bin(tmp_path / 'gobin')}:{tools_without_go(tmp_path / 'tools')}"


def test_without_the_vendor_folder_it_prints_nothing_and_says_why_in_one_line(tmp_path: Path, with_go: str) -> None:
    result = run(tmp_path, with_go)
    assert (result.returncode, result.stdout) == (0, "")
    assert result.stderr.count("\n") == 1 and "no-vendor" in result.stderr and "skipped" in result.stderr
    assert go_calls(tmp_path) == []


def test_without_go_it_prints_nothing_and_says_why_in_one_line(tmp_path: Path) -> None:
    result = run(tmp_path, tools_without_go(tmp_path / "tools"), make_vendor(tmp_path / "vendor"))
    assert (result.returncode, result.stdout) == (0, "")
    assert result.stderr.count("\n") == 1 and "no Go toolchain" in result.stderr
    assert not (tmp_path / "cache").exists()


def test_it_builds_both_plugins_once_then_reuses_the_cache(tmp_path: Path, with_go: str) -> None:
    vendor = make_vendor(tmp_path / "vendor")
    first = run(tmp_path, with_go, vendor)
    assert first.returncode == 0, first.stderr
    folder = Path(first.stdout.strip())
    assert folder.parent.parent == tmp_path / "cache" / "plugins" and folder.name == "bin"
    assert sorted(p.name for p in folder.iterdir()) == [
        ".complete",
        "pulumi-resource-command",
        "pulumi-resource-docker",
    ]
    assert all(os.access(folder / name, os.X_OK) for name in ("pulumi-resource-command", "pulumi-resource-docker"))
    calls = go_calls(tmp_path)
    builds = [call for call in calls if ":: build" in call]
    assert len(builds) == 2
    assert "pulumi-command-1.2.1/provider ::" in builds[0] and "Version=1.2.1" in builds[0]
    assert "pulumi-docker/provider ::" in builds[1] and "-tags no_compose" in builds[1] and "Version=5.2.0" in builds[1]
    assert any(":: generate ./cmd/pulumi-resource-docker/main.go" in call for call in calls)
    assert not (folder.parent / "bin.partial").exists() and not (folder.parent / "src").exists()

    second = run(tmp_path, with_go, vendor)
    assert (second.returncode, second.stdout) == (0, first.stdout)
    assert go_calls(tmp_path) == calls  # no go call at all
    assert "cached" in second.stderr

    # Served from the cache even where Go is missing now.
    third = run(tmp_path, tools_without_go(tmp_path / "tools"), vendor)
    assert (third.returncode, third.stdout) == (0, first.stdout)


def test_a_half_made_cache_is_rebuilt(tmp_path: Path, with_go: str) -> None:
    vendor = make_vendor(tmp_path / "vendor")
    folder = Path(run(tmp_path, with_go, vendor).stdout.strip())
    (folder / ".complete").unlink()
    before = len(go_calls(tmp_path))
    again = run(tmp_path, with_go, vendor)
    assert (again.returncode, again.stdout.strip()) == (0, str(folder))
    assert len([c for c in go_calls(tmp_path)[before:] if ":: build" in c]) == 2
    assert (folder / ".complete").is_file()


def test_the_key_follows_the_tarballs_bytes(tmp_path: Path, with_go: str) -> None:
    vendor = make_vendor(tmp_path / "vendor")
    first = run(tmp_path, with_go, vendor).stdout
    with open(vendor / "pulumi-command-1.2.1-provider-src.tar.gz", "ab") as tarball:
        tarball.write(b"\0")  # gzip ignores trailing zeros: still extracts, different sha256
    second = run(tmp_path, with_go, vendor)
    assert second.returncode == 0, second.stderr
    assert second.stdout != first and Path(second.stdout.strip()).is_dir()


def test_a_failed_build_leaves_no_cache_and_fails(tmp_path: Path, with_go: str) -> None:
    vendor = make_vendor(tmp_path / "vendor")
    go = tmp_path / "gobin" / "go"
    go.write_text('#!/usr/bin/env bash\necho "compile error" >&2\nexit 1\n')
    result = run(tmp_path, with_go, vendor)
    assert result.returncode == 1 and result.stdout == ""
    assert "building pulumi-resource-command failed" in result.stderr
    assert not list((tmp_path / "cache" / "plugins").glob("*/bin"))
