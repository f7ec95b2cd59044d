"""cnnzoo: the classic convolutional networks, paper-faithful, as tables, trained and explained."""

from __future__ import annotations

__version__ = "0.1.0"

from .models.base import AuxOutputs, FeatureInfo, ZooModel, split_outputs  # noqa: E402
from .registry import create_model, get_entry, list_models, model_card, register_model  # noqa: E402

__all__ = ["AuxOutputs", "FeatureInfo", "ZooModel", "__version__", "create_model", "get_entry",
           "list_models", "model_card", "register_model", "split_outputs"]
