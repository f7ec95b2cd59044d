"""The best epoch so far, and early stopping."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .metrics import Metrics


@dataclass
class BestTracker:
    """Best epoch = highest validation top-1; ties (small validation sets saturate) go to the
    lower validation loss. Early stopping counts epochs without a *strictly* better top-1 and
    stops after `patience` of them (0: never). Without a validation split every epoch is best."""

    patience: int = 0
    top1: float = -1.0
    loss: float = float("inf")
    epoch: int = 0
    stale: int = 0

    def update(self, epoch: int, val: Metrics | None) -> bool:
        """Record epoch `epoch`'s validation metrics; True when it is the new best."""
        improved = val is None or val.top1 > self.top1 or (val.top1 == self.top1 and val.loss < self.loss)
        self.stale = 0 if val is None or val.top1 > self.top1 else self.stale + 1
        if improved:
            self.top1, self.epoch = (val.top1 if val else -1.0), epoch
            self.loss = val.loss if val else float("inf")
        return improved

    @property
    def should_stop(self) -> bool:
        return bool(self.patience) and self.stale >= self.patience

    def state(self) -> dict[str, Any]:
        """The keys a training-state file holds (names kept from the first format)."""
        return {"best_top1": self.top1, "best_loss": self.loss, "best_epoch": self.epoch, "stale": self.stale}

    def load(self, state: dict[str, Any]) -> None:
        self.top1, self.loss = state["best_top1"], state["best_loss"]
        self.epoch, self.stale = state["best_epoch"], state["stale"]
