"""cnnzoo: the classic convolutional networks, paper-faithful, as tables, trained and explained.

`import cnnzoo` is cheap: the names below are imported on first use (`cnnzoo.create_model` loads
the zoo, `cnnzoo.models`; `cnnzoo.ZooModel` imports torch), so that `cnnzoo --help` starts fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {  # public name -> the module that defines it
    "AuxOutputs": ".models.base", "FeatureInfo": ".models.base", "ZooModel": ".models.base",
    "split_outputs": ".models.base",
    "create_model": ".models", "get_entry": ".models", "list_models": ".models", "model_card": ".models",
    "register_model": ".models",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def summary(model: object, input_size: object = None, **kwargs: object) -> object:
    """The model as its paper's table (rows and totals as data; `.to_markdown()`); see
    `cnnzoo.analysis.summary.summary` for the arguments."""
    from .analysis.summary import summary as _summary
    return _summary(model, input_size, **kwargs)  # type: ignore[arg-type]


__all__ = ["AuxOutputs", "summary", "FeatureInfo", "ZooModel", "__version__", "create_model", "get_entry",
           "list_models", "model_card", "register_model", "split_outputs"]
