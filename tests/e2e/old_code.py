"""The program as an earlier commit had it: for the tests that deploy with old code and upgrade to the current."""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

from tests.e2e.pulumi_cli import REPO


def code_before(path: str) -> str:
    """The newest commit on HEAD's first-parent line without ``path``: on main, the code just before the change
    that added it was merged."""
    line = subprocess.run(
        ["git", "rev-list", "--first-parent", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    for commit in line:
        has = subprocess.run(["git", "cat-file", "-e", f"{commit}:{path}"], cwd=REPO, capture_output=True)
        if has.returncode != 0:
            return commit
    raise AssertionError(f"git history without {path}: cannot find the code before it")


def export_tree(commit: str, target: Path) -> None:
    archive = subprocess.run(["git", "archive", commit], cwd=REPO, capture_output=True, check=True).stdout
    target.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        if hasattr(tarfile, "data_filter"):  # Python 3.11.4+; Debian 12's 3.11.2 has no filters (our own tree)
            tar.extractall(target, filter="data")
        else:
            tar.extractall(target)  # noqa: S202


def use_program(project: Path, code: Path) -> None:
    """``project`` runs the program of the tree at ``code`` (its __main__.py, Pulumi.yaml and components)."""
    shutil.copy(code / "__main__.py", project / "__main__.py")
    text = (code / "Pulumi.yaml").read_text().replace("virtualenv: venv", f"virtualenv: {REPO / 'venv'}")
    text = text.replace("path: plugins", f"path: {code / 'plugins'}")  # a tree with our provider plugin
    (project / "Pulumi.yaml").write_text(text)
