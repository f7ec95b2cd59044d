"""DenseNet's dense blocks and transition layers (Huang et al. 2016, arXiv 1608.06993, §3).

Inside a dense block, layer l receives the concatenation of the block's input and the outputs
of layers 1..l-1 (Eq. 2) and adds k (the growth rate) feature maps. With the bottleneck of
DenseNet-B, its composite function H_l is BN-ReLU-Conv(1x1, 4k)-BN-ReLU-Conv(3x3, k).
A transition layer between two blocks is BN-ReLU-Conv(1x1) followed by 2x2 average pooling
with stride 2; with compression theta (DenseNet-C) it keeps floor(theta * m) of its m maps.

Module names are torchvision's (`denselayer1`, `norm1`, `conv1`, ...), so its weights load by
name. Dropout, when asked for, follows each convolution but the network's first (§4.2).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .attention import attention


class DenseLayer(nn.Module):
    """H_l of DenseNet-B: (N, in, H, W) -> (N, k, H, W) new maps, from the list of all earlier maps.

    The SE slot (`se`) sits on the k new maps, before they join the concatenation (the place
    of the residual branch's output in a ResNet block).
    """

    def __init__(self, in_chs: int, growth_rate: int, *, bn_size: int = 4, drop_rate: float = 0.0,
                 se_reduction: int | None = None) -> None:
        super().__init__()
        width = bn_size * growth_rate  # the bottleneck's 4k maps (§3, "Bottleneck layers")
        self.norm1 = nn.BatchNorm2d(in_chs)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(in_chs, width, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(width)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(width, growth_rate, 3, padding=1, bias=False)
        self.se = attention(growth_rate, se_reduction)
        self.drop_rate = drop_rate
        self.in_chs, self.out_chs = in_chs, growth_rate

    def _drop(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.drop_rate, self.training) if self.drop_rate > 0 else x

    def forward(self, features: list[Tensor]) -> Tensor:
        x = torch.cat(features, 1)  # (N, in, H, W): the block's input and every earlier layer's maps
        x = self._drop(self.conv1(self.relu1(self.norm1(x))))  # (N, 4k, H, W)
        x = self._drop(self.conv2(self.relu2(self.norm2(x))))  # (N, k, H, W)
        return self.se(x)


class DenseBlock(nn.ModuleDict):
    """`num_layers` dense layers; the output concatenates the input and every layer's k maps.

    (N, in, H, W) -> (N, in + num_layers * k, H, W).
    """

    def __init__(self, num_layers: int, in_chs: int, growth_rate: int, *, bn_size: int = 4,
                 drop_rate: float = 0.0, se_reduction: int | None = None) -> None:
        super().__init__({f"denselayer{i + 1}": DenseLayer(in_chs + i * growth_rate, growth_rate, bn_size=bn_size,
                                                           drop_rate=drop_rate, se_reduction=se_reduction)
                          for i in range(num_layers)})
        self.in_chs, self.out_chs = in_chs, in_chs + num_layers * growth_rate
        self.num_layers = num_layers

    def forward(self, x: Tensor) -> Tensor:
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)

    def paper_columns(self) -> dict[str, int | str]:
        """The cell of the DenseNet table (Table 1) for this block."""
        return {"layers": f"[1x1 conv; 3x3 conv] x {self.num_layers}"}


class Transition(nn.Module):
    """BN-ReLU-Conv(1x1) then 2x2 average pooling, stride 2: (N, in, H, W) -> (N, out, H/2, W/2)."""

    def __init__(self, in_chs: int, out_chs: int, *, drop_rate: float = 0.0) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(in_chs)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(in_chs, out_chs, 1, bias=False)
        self.pool = nn.AvgPool2d(2, stride=2)
        self.drop_rate = drop_rate
        self.in_chs, self.out_chs = in_chs, out_chs

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv(self.relu(self.norm(x)))  # (N, out, H, W)
        if self.drop_rate > 0:
            x = F.dropout(x, self.drop_rate, self.training)
        return self.pool(x)  # (N, out, H/2, W/2)

    def paper_columns(self) -> dict[str, int | str]:
        """The cells of the DenseNet table (Table 1) for this transition layer."""
        return {"layers": "1x1 conv; 2x2 average pool, stride 2"}
