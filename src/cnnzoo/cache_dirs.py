"""Where cnnzoo keeps what it can recompute (decoded image folders, ONNX graphs, zoo counts):
`$XDG_CACHE_HOME/cnnzoo`, else `~/.cache/cnnzoo`; `$CNNZOO_CACHE_DIR` moves the large ones."""

from __future__ import annotations

import os
from pathlib import Path


def user_cache() -> Path:
    """`$XDG_CACHE_HOME/cnnzoo`, else `~/.cache/cnnzoo`."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "cnnzoo"


def chosen_cache() -> Path | None:
    """`$CNNZOO_CACHE_DIR`, when the user set it."""
    override = os.environ.get("CNNZOO_CACHE_DIR")
    return Path(override).expanduser() if override else None
