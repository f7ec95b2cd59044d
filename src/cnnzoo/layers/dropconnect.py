"""DropConnect (Wan et al. 2013; seed 000 §2, "Дропаут"): during training each *connection*
(weight) is dropped with probability p, a new mask per forward pass, instead of each unit as
in dropout. Here the kept weights are scaled by 1/(1-p) ("inverted" DropConnect), so the
expected pre-activation is unchanged and evaluation uses the plain weights; the paper instead
samples a Gaussian moment-matched to the masked sum at test time (§3.1) — a deviation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def drop_connect_mask(weight: Tensor, p: float, *, generator: torch.Generator | None = None) -> Tensor:
    """A {0, 1/(1-p)} tensor shaped like `weight`: each entry kept with probability 1 - p."""
    keep = torch.rand(weight.shape, device=weight.device, generator=generator) >= p
    return keep.to(weight.dtype) / (1.0 - p)


class DropConnectLinear(nn.Linear):
    """y = x (M * W)^T + b with a fresh Bernoulli(1 - p) mask M (scaled by 1/(1-p)) in training;
    y = x W^T + b in evaluation. (N, in_features) -> (N, out_features)."""

    def __init__(self, in_features: int, out_features: int, *, p: float = 0.5, bias: bool = True) -> None:
        if not 0 <= p < 1:
            raise ValueError(f"DropConnect probability must be in [0, 1), got {p}")
        super().__init__(in_features, out_features, bias=bias)
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0:
            return F.linear(x, self.weight, self.bias)
        return F.linear(x, self.weight * drop_connect_mask(self.weight, self.p), self.bias)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, p={self.p}"
