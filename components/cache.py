"""Where wayshub keeps what it downloads or builds on the deploying machine (one rule for all of it)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """``$WAYSHUB_CACHE``, else ``$XDG_CACHE_HOME/wayshub``, else ``~/.cache/wayshub``."""
    explicit = os.environ.get("WAYSHUB_CACHE")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "wayshub"
