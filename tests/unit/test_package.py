"""pyproject.toml's package lists match the tree: every package of components/ and every folder of host
scripts ships in the wheel, and templates/ and images/ are found where an install puts them."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from components import assets

REPO = Path(__file__).resolve().parents[2]
SETUPTOOLS = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_package_of_components_is_listed() -> None:
    tree = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "components").rglob("__init__.py")}
    listed = {name for name in SETUPTOOLS["packages"] if name.startswith("components")}
    assert listed == tree


def test_every_folder_of_host_scripts_ships() -> None:
    folders = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "components").glob("*/host")}
    shipped = {name for name, globs in SETUPTOOLS["package-data"].items() if "host/*" in globs}
    assert shipped == folders


def test_templates_and_images_travel_under_wayshub() -> None:
    mapped = SETUPTOOLS["package-dir"]
    assert mapped == {"wayshub.templates": "templates", "wayshub.images": "images"}
    images = {f"wayshub.images.{p.parent.name}" for p in (REPO / "images").glob("*/Dockerfile")} - {
        "wayshub.images.sandbox-vm"  # made by scripts/sandbox-image from a checkout, not by the program
    }
    assert images <= set(SETUPTOOLS["packages"])


def test_an_installed_package_finds_its_own_templates_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(assets, "TOP", tmp_path)
    (tmp_path / "templates").mkdir()
    assert assets.asset_dir("templates") == tmp_path / "templates", "a checkout"
    (tmp_path / "wayshub" / "templates").mkdir(parents=True)
    assert assets.asset_dir("templates") == tmp_path / "wayshub" / "templates", "an install"
