"""The zoo: importing this package registers every family's variants and the table format.

Every module of this package other than the infrastructure (`base`, `card`, `inception_base`, `pretrained`,
`weight_packages`) is a family: it declares the paper's table as data and registers its variants on import.
`load_zoo()` imports them all (and `cnnzoo.netspec`, which registers `.yaml` tables) when this package is
first imported; the lookups re-exported here (`create_model`, `list_models`, ...) are the registry's, and
are what the rest of cnnzoo and the public API (`cnnzoo.create_model`) use, so that a lookup always sees
the whole zoo. `import cnnzoo` alone imports none of it (`cnnzoo --help` stays fast).
"""

from __future__ import annotations

import importlib
import pkgutil

from ..registry import (  # noqa: F401  (re-exported: the lookups, with the zoo loaded)
    builder_arguments,
    create_model,
    get_entry,
    is_table_path,
    list_models,
    model_card,
    model_input_size,
    register_model,
)

_INFRASTRUCTURE = {"base", "card", "inception_base", "pretrained", "weight_packages"}


def load_zoo() -> None:
    """Import every family module (each registers its variants) and netspec (the table format)."""
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name not in _INFRASTRUCTURE and not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
    importlib.import_module("cnnzoo.netspec")


load_zoo()
