"""Imbalanced classes (seed 004's homework: some of the 42 characters have fewer than 10 images).

    --balance none      plain cross-entropy, shuffled epochs
    --balance weights   cross-entropy weighted by N / (K x n_c) per class c (scikit-learn's
                        "balanced" weights: every class contributes as if it had N / K images)
    --balance sampler   each epoch draws N indices with replacement, class c with probability 1/K
                        (each image of c with 1 / (K n_c)): classes appear evenly in the batches
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

import torch
from torch import Tensor

if TYPE_CHECKING:
    from ..data import DataBundle
    from ..data.loaders import BatchSource

Balance = Literal["none", "weights", "sampler"]
BALANCES = ("none", "weights", "sampler")


def class_counts(labels: Tensor, num_classes: int) -> Tensor:
    """(num_classes,) int64 images per class."""
    return torch.bincount(labels.cpu(), minlength=num_classes)


def class_weights(labels: Tensor, num_classes: int) -> Tensor:
    """(num_classes,) float32: N / (K n_c) for classes present, 0 for absent ones."""
    counts = class_counts(labels, num_classes).double()
    present = counts > 0
    k = int(present.sum())
    return torch.where(present, len(labels) / (k * counts.clamp_min(1)), 0.0).float()


def balanced_order(labels: Tensor, *, seed: int, epoch: int, rank: int = 0, world: int = 1) -> Tensor:
    """This rank's sample indices for `epoch`: len(labels) draws (rounded up to a multiple of
    `world`) with replacement, class-balanced; the same (seed, epoch) gives the same draws."""
    counts = torch.bincount(labels.cpu())
    per_sample = 1.0 / counts[labels.cpu()].double()  # each class sums to 1
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch + 7)
    n = -(-len(labels) // world) * world
    draws = torch.multinomial(per_sample, n, replacement=True, generator=g)
    return draws[rank::world]


def describe_counts(classes: tuple[str, ...], labels: Tensor, balance: str) -> str:
    """One line per few classes: the training split's per-class counts, smallest first."""
    counts = class_counts(labels, len(classes)).tolist()
    order = sorted(range(len(classes)), key=lambda i: (counts[i], classes[i]))
    shown = ", ".join(f"{classes[i]} {counts[i]}" for i in order)
    ratio = max(counts) / max(1, min(counts))
    return f"train images per class (balance: {balance}; largest/smallest {ratio:.1f}x): {shown}"


def apply_balance(balance: str, data: DataBundle, train_src: BatchSource, *,
                  log: Callable[[str], None]) -> Tensor | None:
    """Print the training split's per-class counts; for "sampler" give `train_src` balanced
    epochs; for "weights" return the loss's class weights (None otherwise)."""
    labels, classes = data.train.labels, data.classes
    log(describe_counts(classes, labels, balance))
    if balance == "sampler":
        src = train_src
        src.order_fn = lambda epoch: balanced_order(labels, seed=src.seed, epoch=epoch, rank=src.rank,
                                                    world=src.world)
        return None
    return class_weights(labels, len(classes)) if balance == "weights" else None
