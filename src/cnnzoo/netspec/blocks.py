"""The modules a table row becomes (the zoo's blocks are used where they exist: Inception,
Fire, SqueezeExcite)."""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
from torch import Tensor, nn

from .parser import SpecError


BATCH_NORMS: dict[int, type[nn.Module]] = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}  # by map dims


class Conv(nn.Sequential):
    """One convolution row: Conv1d/2d/3d (`conv`) -> batch norm (`bn`, with `bn`) -> activation (`act`)."""

    def __init__(self, conv: nn.Conv1d | nn.Conv2d | nn.Conv3d, bn: bool, act: nn.Module | None) -> None:
        layers: OrderedDict[str, nn.Module] = OrderedDict(conv=conv)
        if bn:
            layers["bn"] = BATCH_NORMS[len(conv.kernel_size)](conv.out_channels)
        if act is not None:
            layers["act"] = act
        super().__init__(layers)


class Separable(nn.Sequential):
    """A depthwise KxK convolution row then a pointwise 1x1 one (MobileNet's Fig. 3 when each has
    `bn relu`): `depthwise`, `pointwise`, each a `Conv`."""

    def __init__(self, depthwise: Conv, pointwise: Conv) -> None:
        super().__init__(OrderedDict(depthwise=depthwise, pointwise=pointwise))


class FullyConnected(nn.Module):
    """A fully connected row: (flatten) -> Linear (`fc`) -> BatchNorm1d (`bn`) -> activation (`act`).

    On a map it flattens first; it then only fits the map size it was built for, and says so
    (with the row and both shapes) when it is run at another input size.
    """

    def __init__(self, linear: nn.Linear, bn: bool, act: nn.Module | None, *,
                 expected_map: tuple[int, ...] | None, where: str, spec_input: str) -> None:
        super().__init__()
        self.fc = linear
        self.bn = nn.BatchNorm1d(linear.out_features) if bn else None
        self.act = act
        self.expected_map, self.where, self.spec_input = expected_map, where, spec_input

    def forward(self, x: Tensor) -> Tensor:  # (N, C, H, W) or (N, F) -> (N, out)
        if x.dim() > 2:
            if self.expected_map is not None and tuple(x.shape[1:]) != self.expected_map:
                got, want = tuple(x.shape[1:]), self.expected_map
                raise SpecError(
                    f"{self.where}: input is {map_text(got)} = {math.prod(got)} features but the layer was built for "
                    f"{map_text(want)} = {math.prod(want)} (the spec's input {self.spec_input}); run the network at "
                    "that input size, or put `gap` before the first fc so that any size works")
            x = torch.flatten(x, 1)
        x = self.fc(x)
        if self.bn is not None:
            x = self.bn(x)
        return self.act(x) if self.act is not None else x


def map_text(shape: tuple[int, ...]) -> str:
    """(C, H, W) -> "HxWxC" as the tables print a map ((C, L) -> "LxC", (C, D, H, W) -> "DxHxWxC")."""
    return "x".join(map(str, (*shape[1:], shape[0])))


class GlobalAvgPool(nn.Module):
    """`gap`: average over every spatial axis -> (N, C)."""

    def forward(self, x: Tensor) -> Tensor:  # (N, C, *spatial) -> (N, C)
        if x.dim() == 4:
            return torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)
        return x.mean(tuple(range(2, x.dim())))


class Branches(nn.Module):
    """Parallel branches on one input, joined (seed 002's layer catalogue: concatenation, split,
    element-wise sum / product / maximum):

    - concat: y = cat(b_1(x), ..., b_n(x)) along channels;
    - add / mul / max: y = b_1(x) + ... (element-wise; the branches must agree in shape);
    - split: x is cut along channels into parts (`sizes`), b_i takes part i, outputs concatenated.
    An empty branch is the identity."""

    def __init__(self, join: str, branches: list[nn.Sequential], sizes: list[int] | None = None) -> None:
        super().__init__()
        self.join, self.sizes = join, sizes
        self.branches = nn.ModuleList(branches)

    def forward(self, x: Tensor) -> Tensor:
        if self.join == "split":
            assert self.sizes is not None
            return torch.cat([b(part) for b, part in zip(self.branches, torch.split(x, self.sizes, 1), strict=True)], 1)
        outs = [b(x) for b in self.branches]
        if self.join == "concat":
            return torch.cat(outs, 1)
        y = outs[0]
        for o in outs[1:]:
            y = y + o if self.join == "add" else y * o if self.join == "mul" else torch.maximum(y, o)
        return y

    def extra_repr(self) -> str:
        return f"join={self.join}" + (f", sizes={self.sizes}" if self.sizes else "")


class Softmax(nn.Identity):
    """The table's `softmax` row: kept as a marker and not applied, because the loss
    (cross-entropy on logits) applies it."""


class Residual(nn.Module):
    """y = act(branch(x) + shortcut(x)), ResNet's block (He et al. 2015, Fig. 2). The shortcut is
    the identity when the branch keeps the shape, else a 1x1 convolution with the branch's stride
    (+ BN when the branch uses BN): the paper's option B."""

    def __init__(self, branch: nn.Sequential, shortcut: nn.Module, act: nn.Module | None) -> None:
        super().__init__()
        self.branch, self.shortcut = branch, shortcut
        self.act = act if act is not None else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:  # (N, C, H, W) -> (N, C', H / s, W / s)
        return self.act(self.branch(x) + self.shortcut(x))

    def paper_columns(self) -> dict[str, int | str]:
        """The branch as ResNet's table writes a block: {"blocks": "[3x3, 64; 3x3, 64]"}."""
        parts = []
        for m in self.branch.modules():
            if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
                dw = ", dw" if m.groups > 1 and m.groups == m.in_channels else ""
                parts.append(f"{'x'.join(map(str, m.kernel_size))}, {m.out_channels}{dw}")
        return {"blocks": f"[{'; '.join(parts)}]"}
