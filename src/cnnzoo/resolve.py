"""From what a user names to a model: one resolver for train, eval, predict, show, compare and summary.

    r = resolve_model("fcnn_1", img_size=64)
    r.input_size          # (3, 64, 64)
    r.mean, r.std         # the card's normalisation (0.5 per channel where it has none)
    model = r.build(num_classes=2)   # builders that are sized by their input get img_size=64

`name` is a registered model name or a network table (.yaml); the input size is the card's or
the table's unless `img_size` (a square side) or `input_size` ("CxHxW", (C, H, W)) says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .input_size import CHW, parse_chw
from .models.base import ZooModel
from .models.card import ModelCard
from .models import builder_arguments, create_model, is_table_path, model_card, model_input_size

SIZE_ARGUMENT = "img_size"  # the builder argument of networks whose layers depend on the input side


@dataclass(frozen=True)
class ResolvedModel:
    name: str  # registry name or table path
    input_size: CHW
    mean: tuple[float, ...]
    std: tuple[float, ...]
    card: ModelCard | None = None  # None for tables
    build_args: dict[str, Any] = field(default_factory=dict)  # what the input size asks of the builder

    def build(self, **overrides: Any) -> ZooModel:
        """`create_model(name, **build_args, **overrides)`."""
        return create_model(self.name, **{**self.build_args, **overrides})

    def build_on_meta(self, **overrides: Any) -> ZooModel:
        """The same network with shapes only (the counters' fast path)."""
        if is_table_path(self.name):
            from .netspec import build_on_meta as build_table_on_meta
            return build_table_on_meta(self.name, **overrides)
        from .analysis.counting import build_on_meta
        return build_on_meta(self.name, **{**self.build_args, **overrides})


def resolve_model(name: str, *, img_size: int | None = None,
                  input_size: str | int | tuple[int, ...] | None = None) -> ResolvedModel:
    """The model `name`, at its own input size or the one given; unknown names raise with the
    close matches, a table with errors raises naming the file and line."""
    default = model_input_size(name)
    if input_size is not None:
        size = parse_chw(input_size, channels=default[0])
    elif img_size is not None:
        size = (default[0], img_size, img_size)
    else:
        size = default
    card = None if is_table_path(name) else model_card(name)
    c = size[0]
    mean = tuple(card.mean) if card is not None and len(card.mean) == c else (0.5,) * c
    std = tuple(card.std) if card is not None and len(card.std) == c else (0.5,) * c
    args: dict[str, Any] = {}
    if size != default and not is_table_path(name) and SIZE_ARGUMENT in builder_arguments(name):
        if size[1] != size[2]:
            raise ValueError(f"{name} is built for square inputs; got {size[1]}x{size[2]}")
        args[SIZE_ARGUMENT] = size[1]
    return ResolvedModel(name, size, mean, std, card, args)
