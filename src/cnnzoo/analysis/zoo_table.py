"""The registry as a table: what `cnnzoo models` prints."""

from __future__ import annotations

from typing import Any

import torch

from ..registry import create_model, get_entry, list_models
from .counting import count_mult_adds, count_params


def zoo_rows(pattern: str = "*", *, family: str | None = None, mult_adds: bool = True) -> list[dict[str, Any]]:
    """One row per registered model: counted params and mult-adds (on the meta device, so
    nothing is allocated or computed), input size and the card's published figures."""
    rows = []
    for name in list_models(pattern, family=family):
        entry = get_entry(name)
        card = entry.card
        with torch.device("meta"):
            model = create_model(name)
        c, h, w = card.input_size
        rows.append({
            "name": name, "family": entry.family, "params": count_params(model),
            "mult_adds": count_mult_adds(model, card.input_size) if mult_adds else None,
            "input": f"{c}x{h}x{w}", "top1_err": card.top1_err, "top5_err": card.top5_err,
            "published_params": card.params, "published_mult_adds": card.mult_adds,
            "paper": card.paper.title, "year": card.paper.year, "notes": card.notes,
        })
    return rows
