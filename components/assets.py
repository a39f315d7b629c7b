"""Where the program's own files are that live beside ``components/``: ``templates`` (jinja2) and ``images``
(Dockerfiles). In a checkout they sit at the top of the repository; the installed package carries them under
``wayshub/`` (pyproject.toml maps them there)."""

from __future__ import annotations

from pathlib import Path

TOP = Path(__file__).resolve().parent.parent


def asset_dir(name: str) -> Path:
    """``templates`` or ``images``: the installed package's (``wayshub/<name>``), else the checkout's."""
    installed = TOP / "wayshub" / name
    return installed if installed.is_dir() else TOP / name
