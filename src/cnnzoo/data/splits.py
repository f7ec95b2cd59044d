"""In-memory data splits and the fixed stratified split."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..errors import DataError


@dataclass
class TensorSplit:
    """A split decoded once into memory: uint8 images (N, C, H, W) and int64 labels (N,)."""

    images: Tensor
    labels: Tensor

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise ValueError(f"images must be uint8 (N, C, H, W), got {self.images.dtype} {tuple(self.images.shape)}")
        if len(self.images) != len(self.labels):
            raise ValueError("images and labels differ in length")

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: Tensor) -> TensorSplit:
        return TensorSplit(self.images[index], self.labels[index])


def stratified_split(labels: Tensor, fractions: tuple[float, ...], *, seed: int) -> list[Tensor]:
    """Indices of len(fractions) + 1 parts: each fraction of every class, the rest last.

    Per class, the samples are shuffled with `seed` and cut at round(fraction * n), so each
    part has the class proportions of the whole (to within one sample per class); the same
    seed always gives the same parts. Parts are returned sorted.
    """
    if any(f < 0 for f in fractions) or sum(fractions) >= 1:
        raise DataError(f"split fractions {fractions} must be >= 0 and leave something to train on")
    g = torch.Generator().manual_seed(seed)
    parts: list[list[Tensor]] = [[] for _ in range(len(fractions) + 1)]
    for c in torch.unique(labels).tolist():
        idx = torch.nonzero(labels == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        start = 0
        for k, f in enumerate(fractions):
            n = round(f * len(idx))
            parts[k].append(idx[start:start + n])
            start += n
        parts[-1].append(idx[start:])
    return [torch.sort(torch.cat(p)).values if p else torch.empty(0, dtype=torch.long) for p in parts]
