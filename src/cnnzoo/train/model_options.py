"""The training options that change the model after it is built (issue 11): `--init`,
`--se R` and `--init-from RUN`, applied in that order by `prepare_model` (one hook in
`setup.build_model`); `rebuild_options` re-applies the architectural one (SE) when a checkpoint
is loaded for evaluation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from ..errors import ConfigError


def prepare_model(model: nn.Module, cfg: Any, *, name: str, log: Callable[[str], None]) -> None:
    """Re-initialise (`cfg.init`), add SE blocks (`cfg.se`), copy a run's layers (`cfg.init_from`)."""
    if cfg.init and cfg.pretrained:
        raise ConfigError("--init and --pretrained both set the weights; give one")
    if cfg.init:
        from .init import initialise
        log(f"init: {initialise(model, cfg.init, name=name)}")
    if cfg.se:
        add_se(model, cfg.se, log=log)
    if cfg.init_from:
        from .init import init_from
        log(f"init from {cfg.init_from}: {init_from(model, cfg.init_from)}")


def add_se(model: nn.Module, reduction: int, *, log: Callable[[str], None] | None = None) -> None:
    from ..layers.attention import SqueezeExcite, add_squeeze_excite
    before = sum(p.numel() for p in model.parameters())
    try:
        add_squeeze_excite(model, reduction)
    except ValueError as e:
        raise ConfigError(f"--se {reduction}: {e}") from None
    if log is not None:
        blocks = sum(isinstance(m, SqueezeExcite) for m in model.modules())
        log(f"squeeze-excite: {blocks} SE blocks (reduction {reduction}), "
            f"+{sum(p.numel() for p in model.parameters()) - before:,} parameters")


def rebuild_options(model: nn.Module, meta: dict[str, Any]) -> nn.Module:
    """The architecture a checkpoint was trained with: its config's `se` blocks, if any."""
    se = (meta.get("config") or {}).get("se")
    if se:
        add_se(model, int(se))
    return model
