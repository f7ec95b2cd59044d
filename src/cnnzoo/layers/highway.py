"""Highway layers (Srivastava, Greff, Schmidhuber 2015, "Training Very Deep Networks", arXiv
1507.06228; seed 003 "Что ещё?"):

    y = H(x) * T(x) + x * (1 - T(x)),   T(x) = sigmoid(W_T x + b_T)       (Eq. 3, with C = 1 - T)

The transform gate T decides per unit how much of the new H(x) replaces the carried x. b_T
starts negative (-1 here; §2.2 suggests -1 to -3) so that a fresh network mostly carries its
input, which is what lets plain SGD train 100-layer highway networks (§3, Fig. 1). Input and
output have the same size; a plain layer changes the width between highway stages.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Highway(nn.Module):
    """A fully connected highway layer: (N, F) -> (N, F); H = relu(W_H x + b_H)."""

    def __init__(self, features: int, *, gate_bias: float = -1.0) -> None:
        super().__init__()
        self.transform = nn.Linear(features, features)  # H
        self.gate = nn.Linear(features, features)  # T
        nn.init.constant_(self.gate.bias, gate_bias)
        self.features, self.gate_bias = features, gate_bias

    def forward(self, x: Tensor) -> Tensor:
        h = torch.relu(self.transform(x))
        t = torch.sigmoid(self.gate(x))
        return x + t * (h - x)  # = h t + x (1 - t)


class HighwayConv2d(nn.Module):
    """A convolutional highway layer (the paper's CIFAR networks, §4.1): H and T are KxK
    convolutions with 'same' padding, so (N, C, H, W) -> (N, C, H, W); H = relu(BN(conv(x)))."""

    def __init__(self, channels: int, *, kernel_size: int = 3, gate_bias: float = -1.0, norm: bool = True) -> None:
        super().__init__()
        pad = kernel_size // 2
        self.transform = nn.Conv2d(channels, channels, kernel_size, padding=pad, bias=not norm)
        self.norm = nn.BatchNorm2d(channels) if norm else nn.Identity()
        self.gate = nn.Conv2d(channels, channels, kernel_size, padding=pad)
        nn.init.constant_(self.gate.bias, gate_bias)
        self.channels, self.gate_bias = channels, gate_bias

    def forward(self, x: Tensor) -> Tensor:
        h = torch.relu(self.norm(self.transform(x)))  # (N, C, H, W)
        t = torch.sigmoid(self.gate(x))  # (N, C, H, W) in (0, 1)
        return x + t * (h - x)
