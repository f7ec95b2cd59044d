"""The modules a table row becomes (the zoo's blocks are used where they exist: Inception,
Fire, SqueezeExcite)."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import Tensor, nn

from .parser import SpecError


class Conv(nn.Sequential):
    """One convolution row: Conv2d (`conv`) -> BatchNorm2d (`bn`, with `bn`) -> activation (`act`)."""

    def __init__(self, conv: nn.Conv2d, bn: bool, act: nn.Module | None) -> None:
        layers: OrderedDict[str, nn.Module] = OrderedDict(conv=conv)
        if bn:
            layers["bn"] = nn.BatchNorm2d(conv.out_channels)
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
                 expected_map: tuple[int, int, int] | None, where: str, spec_input: str) -> None:
        super().__init__()
        self.fc = linear
        self.bn = nn.BatchNorm1d(linear.out_features) if bn else None
        self.act = act
        self.expected_map, self.where, self.spec_input = expected_map, where, spec_input

    def forward(self, x: Tensor) -> Tensor:  # (N, C, H, W) or (N, F) -> (N, out)
        if x.dim() > 2:
            if self.expected_map is not None and tuple(x.shape[1:]) != self.expected_map:
                c, h, w = x.shape[1:]
                ec, eh, ew = self.expected_map
                raise SpecError(
                    f"{self.where}: input is {h}x{w}x{c} = {c * h * w} features but the layer was built for "
                    f"{eh}x{ew}x{ec} = {ec * eh * ew} (the spec's input {self.spec_input}); run the network at "
                    "that input size, or put `gap` before the first fc so that any size works")
            x = torch.flatten(x, 1)
        x = self.fc(x)
        if self.bn is not None:
            x = self.bn(x)
        return self.act(x) if self.act is not None else x


class GlobalAvgPool(nn.Module):
    """`gap`: average over H and W -> (N, C)."""

    def forward(self, x: Tensor) -> Tensor:  # (N, C, H, W) -> (N, C)
        return torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)


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
            if isinstance(m, nn.Conv2d):
                kh, kw = m.kernel_size
                dw = ", dw" if m.groups > 1 and m.groups == m.in_channels else ""
                parts.append(f"{kh}x{kw}, {m.out_channels}{dw}")
        return {"blocks": f"[{'; '.join(parts)}]"}
