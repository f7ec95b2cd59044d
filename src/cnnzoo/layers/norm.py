"""Normalisations over one sample's features, for convolutional maps (seed 003, "Layer
Normalization"): unlike batch norm they do not depend on the batch, so they work at batch size 1
and behave the same in training and evaluation.

- `LayerNorm2d`: mu_i, sigma_i^2 over all C x H x W features of sample i (Ba, Kiros, Hinton
  2016, §3; the seed's formulas), then a learned per-channel scale gamma and shift beta.
- `GroupNorm2d`: the same statistics over groups of C / G channels (Wu, He 2018, §3.1, Eq. 1-3);
  G = 1 is layer norm, G = C is instance norm.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class GroupNorm2d(nn.GroupNorm):
    """Group normalisation of (N, C, *spatial) maps: x~ = (x - mu_ng) / sqrt(var_ng + eps),
    statistics over the C/G channels of group g and all positions, then y = gamma_c x~ + beta_c.

    `groups` must divide `channels` (the paper's default is G = 32, §3.1)."""

    def __init__(self, channels: int, groups: int = 32, *, eps: float = 1e-5, affine: bool = True) -> None:
        if groups < 1 or channels % groups:
            raise ValueError(f"group norm: {groups} groups must divide the {channels} channels")
        super().__init__(groups, channels, eps=eps, affine=affine)


class LayerNorm2d(nn.Module):
    """Layer normalisation of (N, C, *spatial) maps over each sample's C x H x W features (seed
    003): mu_i = mean_j x_ij, sigma_i^2 = mean_j (x_ij - mu_i)^2, z_ij = gamma x~_ij + beta, with
    gamma and beta one per channel (so that the layer is a group norm with one group)."""

    def __init__(self, channels: int, *, eps: float = 1e-5, affine: bool = True) -> None:
        super().__init__()
        self.channels, self.eps = channels, eps
        self.weight = nn.Parameter(torch.ones(channels)) if affine else None
        self.bias = nn.Parameter(torch.zeros(channels)) if affine else None

    def forward(self, x: Tensor) -> Tensor:  # (N, C, ...) -> (N, C, ...)
        return F.group_norm(x, 1, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.channels}, eps={self.eps}, affine={self.weight is not None}"
