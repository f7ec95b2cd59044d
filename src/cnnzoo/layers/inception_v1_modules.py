"""GoogLeNet's Inception module and auxiliary classifier (Szegedy et al. 2014, arXiv 1409.4842),
and the BN-Inception form of the module (Ioffe & Szegedy 2015, arXiv 1502.03167, Appendix).

    branch1: 1x1                                    ("#1x1")
    branch2: 1x1 reduce -> 3x3                      ("#3x3 reduce", "#3x3")
    branch3: 1x1 reduce -> 5x5                      ("#5x5 reduce", "#5x5")           GoogLeNet
             1x1 reduce -> 3x3 -> 3x3               ("double #3x3 reduce", "double #3x3")  BN-Inception
    branch4: 3x3/1 max (or avg) pool -> 1x1 proj    ("pool proj")
    concatenated along channels, then the SE slot (`attention`, the SE paper's place for
    Inception modules: on the module's output).

Module names follow torchvision's `Inception` / `InceptionAux` (`branch1`, `branch2.0`, ...,
`aux1.conv.conv`, `aux1.fc1`), so that its state dicts load without renaming.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .attention import attention
from .conv import ConvNormAct

Pool = Literal["max", "avg"]


class Inception(nn.Module):
    """Inception module with dimension reductions (Szegedy et al. 2014, Fig. 2b).

    `wide_kernels` is the "5x5" branch after its 1x1 reduction: `(5,)` in the paper, `(3,)` in
    torchvision's GoogLeNet, `(3, 3)` in BN-Inception (two stacked 3x3 convolutions with
    `n5x5` filters each). `n1x1=0` drops the 1x1 branch and `pool_proj=0` makes the pooling
    branch a pass-through (BN-Inception's stride-2 modules 3c and 4e). With `stride=2` the last
    convolution of branches 2 and 3 and the 3x3 pooling have stride 2 (all padded by 1, so the
    branches agree at any input size).
    """

    def __init__(self, in_chs: int, n1x1: int, n3x3_reduce: int, n3x3: int, n5x5_reduce: int, n5x5: int,
                 pool_proj: int, *, wide_kernels: Sequence[int] = (5,), pool: Pool = "max", stride: int = 1,
                 norm: bool = False, eps: float = 1e-5, se_reduction: int | None = None) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"Inception stride must be 1 or 2, got {stride}")
        if pool not in ("max", "avg"):
            raise ValueError(f"Inception pool must be 'max' or 'avg', got {pool!r}")

        def conv(cin: int, cout: int, k: int, s: int = 1) -> ConvNormAct:
            return ConvNormAct(cin, cout, k, stride=s, norm=norm, eps=eps)

        if n1x1:
            self.branch1 = conv(in_chs, n1x1, 1)  # (N, n1x1, H, W)
        self.branch2 = nn.Sequential(conv(in_chs, n3x3_reduce, 1), conv(n3x3_reduce, n3x3, 3, stride))
        wide = [conv(in_chs, n5x5_reduce, 1)]
        for i, k in enumerate(wide_kernels):  # the last one strides
            wide.append(conv(wide[-1].out_chs, n5x5, k, stride if i == len(wide_kernels) - 1 else 1))
        self.branch3 = nn.Sequential(*wide)
        pooling = nn.MaxPool2d(3, stride, padding=1) if pool == "max" else nn.AvgPool2d(3, stride, padding=1)
        self.branch4 = nn.Sequential(pooling, conv(in_chs, pool_proj, 1)) if pool_proj else nn.Sequential(pooling)
        self.out_chs = n1x1 + n3x3 + n5x5 + (pool_proj or in_chs)
        self.attention = attention(self.out_chs, se_reduction)  # SE slot on the module's output
        self.in_chs, self.stride, self.pool = in_chs, stride, pool
        self._columns = (n1x1, n3x3_reduce, n3x3, n5x5_reduce, n5x5, pool_proj)
        self._double = len(wide_kernels) == 2

    def forward(self, x: Tensor) -> Tensor:  # (N, in, H, W) -> (N, out, H/stride, W/stride)
        branches = [self.branch2(x), self.branch3(x), self.branch4(x)]
        if hasattr(self, "branch1"):
            branches.insert(0, self.branch1(x))
        return self.attention(torch.cat(branches, 1))

    def paper_columns(self) -> dict[str, int | str]:
        """This module's row of the paper's table (GoogLeNet Table 1, or BN-Inception Fig. 5)."""
        n1x1, r3, n3, r5, n5, proj = self._columns
        if not self._double:
            return {"#1x1": n1x1, "#3x3 reduce": r3, "#3x3": n3, "#5x5 reduce": r5, "#5x5": n5, "pool proj": proj}
        return {"#1x1": n1x1, "#3x3 reduce": r3, "#3x3": n3, "double #3x3 reduce": r5, "double #3x3": n5,
                "Pool +proj": f"{self.pool} + {proj if proj else 'pass through'}"}


AuxPool = Literal["paper", "adaptive"]


class InceptionAux(nn.Module):
    """GoogLeNet's auxiliary classifier (§5): 5x5/3 average pool -> 1x1 conv 128 + ReLU -> FC 1024
    + ReLU -> dropout 0.7 -> FC num_classes. (N, C, 14, 14) -> (N, 4*4*128) -> (N, num_classes).

    The FC expects the 4x4 map that 5x5/3 pooling makes of the 14x14 map at 224x224 input.
    `pool="paper"`: the 5x5/3 pooling where the map is at least 5x5, then adaptive average
    pooling to 4x4 (the identity at 224x224; it lets other input sizes train, down to maps
    smaller than the pooling window, which skip the 5x5/3 step). `pool="adaptive"`: adaptive
    average pooling to 4x4 only (torchvision's layout).
    """

    grid = 4  # the paper's 4x4x128 map before the FC

    is_aux_head = True  # training-only: `count_params(include_aux=False)` leaves it out

    def __init__(self, in_chs: int, num_classes: int, *, pool: AuxPool = "paper", norm: bool = False,
                 eps: float = 1e-5, drop_rate: float = 0.7) -> None:
        super().__init__()
        if pool not in ("paper", "adaptive"):
            raise ValueError(f"auxiliary pool must be 'paper' or 'adaptive', got {pool!r}")
        self.pool = pool
        self.conv = ConvNormAct(in_chs, 128, 1, norm=norm, eps=eps)  # (N, 128, 4, 4)
        self.fc1 = nn.Linear(128 * self.grid * self.grid, 1024)  # (N, 1024)
        self.dropout = nn.Dropout(drop_rate)
        self.fc2: nn.Module = nn.Linear(1024, num_classes) if num_classes else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        if self.pool == "paper" and min(x.shape[-2:]) >= 5:
            x = F.avg_pool2d(x, 5, stride=3)  # (N, C, 14, 14) -> (N, C, 4, 4) at 224x224
        x = F.adaptive_avg_pool2d(x, self.grid)  # (N, C, 4, 4)
        x = torch.flatten(self.conv(x), 1)  # (N, 2048)
        x = self.dropout(F.relu(self.fc1(x), inplace=True))  # (N, 1024)
        return self.fc2(x)  # (N, num_classes)


class SeparableStem(nn.Sequential):
    """A k x k convolution made depthwise-separable: depthwise k x k/s with depth multiplier `m`
    (`dw`, no bias) -> pointwise 1x1 (`conv`) -> [BN] -> ReLU, as BN-Inception's first layer
    (Ioffe & Szegedy 2015, Appendix: "separable convolution with depth multiplier 8").
    """

    def __init__(self, in_chs: int, out_chs: int, kernel_size: int = 7, *, stride: int = 2, multiplier: int = 8,
                 norm: bool = True, eps: float = 1e-5) -> None:
        pointwise = ConvNormAct(in_chs * multiplier, out_chs, 1, norm=norm, eps=eps)
        layers: OrderedDict[str, nn.Module] = OrderedDict(
            dw=nn.Conv2d(in_chs, in_chs * multiplier, kernel_size, stride=stride, padding=(kernel_size - 1) // 2,
                         groups=in_chs, bias=False))  # (N, 8 in, H/2, W/2)
        layers.update(pointwise.named_children())  # conv, [bn], act: (N, out, H/2, W/2)
        super().__init__(layers)
        self.in_chs, self.out_chs = in_chs, out_chs
