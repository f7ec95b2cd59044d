"""Data sets as uint8 tensors (or streams) with their classes, splits and statistics.

    data = load_data(DataConfig(data="digits", seed=0), size=32)   # bundled, in memory
    data = load_data("cifar10", size=32, data_dir="data")            # the same, fields as keywords
    data = load_data("~/photos", size=224)                           # an image folder

The package imports nothing heavy on its own (`cnnzoo train --help` reads `data.config` without
torch); `load_data`, `DataBundle` and `BadFilesWarning` come from `data/bundle.py` on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_FROM_BUNDLE = ("BadFilesWarning", "DataBundle", "Split", "channel_stats", "load_data")


def __getattr__(name: str) -> Any:
    if name in _FROM_BUNDLE:
        return getattr(importlib.import_module(".bundle", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = list(_FROM_BUNDLE)
