"""Lp pooling (seed 001, "пространственное объединение"; Sermanet et al. 2012 use L2 pooling):

    y = (1/|R| * sum_{i in R} |x_i|^p)^(1/p)   over each window R, per channel.

p = 1 is average pooling of |x|, p = 2 is L2 (root-mean-square) pooling and p -> inf is max
pooling of |x|; between them p trades "the typical response" against "the strongest one".
The mean (not the sum, as `torch.nn.LPPool2d`) keeps the output on the input's scale for every p.
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor, nn

_AVG = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}
_MAX = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}


class LpPool(nn.Module):
    """(N, C, *spatial) -> (N, C, *spatial / stride) with `dims` spatial axes (1, 2 or 3)."""

    def __init__(self, p: float, kernel_size: int | tuple[int, ...], stride: int | tuple[int, ...] | None = None,
                 *, dims: int = 2, eps: float = 1e-6) -> None:
        super().__init__()
        if not (p >= 1):
            raise ValueError(f"Lp pooling needs p >= 1 (or inf), got {p}")
        if dims not in _AVG:
            raise ValueError(f"Lp pooling works on 1-, 2- or 3-D maps, not {dims}-D")
        self.p, self.dims, self.eps = float(p), dims, eps
        self.kernel_size, self.stride = kernel_size, stride if stride is not None else kernel_size

    def forward(self, x: Tensor) -> Tensor:
        a = x.abs()
        if math.isinf(self.p):
            return _MAX[self.dims](a, self.kernel_size, self.stride)
        if self.p == 1:
            return _AVG[self.dims](a, self.kernel_size, self.stride)
        mean = _AVG[self.dims](a.pow(self.p), self.kernel_size, self.stride)
        return mean.clamp_min(self.eps ** self.p).pow(1.0 / self.p)  # the clamp keeps d/dx finite at 0

    def extra_repr(self) -> str:
        return f"p={self.p:g}, kernel_size={self.kernel_size}, stride={self.stride}, dims={self.dims}"
