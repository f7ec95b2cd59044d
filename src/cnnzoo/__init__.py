"""cnnzoo: the classic convolutional networks, paper-faithful, as tables, trained and explained."""

from __future__ import annotations

__version__ = "0.1.0"

from .models.base import AuxOutputs, FeatureInfo, ZooModel, split_outputs  # noqa: E402
from .registry import create_model, get_entry, list_models, model_card, register_model  # noqa: E402
from . import models, netspec  # noqa: E402, F401  (importing them registers the zoo and the table format)



def summary(model: object, input_size: object = None, **kwargs: object) -> object:
    """The model as its paper's table (rows and totals as data; `.to_markdown()`); see
    `cnnzoo.analysis.summary.summary` for the arguments."""
    from .analysis.summary import summary as _summary
    return _summary(model, input_size, **kwargs)  # type: ignore[arg-type]


__all__ = ["AuxOutputs", "summary", "FeatureInfo", "ZooModel", "__version__", "create_model", "get_entry",
           "list_models", "model_card", "register_model", "split_outputs"]
