"""The zoo: importing this package registers every family's variants.

Every module of this package other than the infrastructure (`base`, `card`, `pretrained`, `weight_packages`) is a
family: it declares the paper's table as data and registers its variants on import.
"""

from __future__ import annotations

import importlib
import pkgutil

_INFRASTRUCTURE = {"base", "card", "pretrained", "weight_packages"}

for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _info.name not in _INFRASTRUCTURE and not _info.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_info.name}")
