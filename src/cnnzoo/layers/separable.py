"""Depthwise separable convolution (Chollet 2016, "Xception", arXiv 1610.02357, §1.2).

A k x k convolution from C_in to C_out channels is factorised into a depthwise k x k
convolution (one filter per input channel, `groups=C_in`) and a pointwise 1x1 convolution
that mixes the channels: k*k*C_in + C_in*C_out weights instead of k*k*C_in*C_out.
Xception puts *no* non-linearity between the two (§4.7, Fig. 10: an intermediate ReLU or ELU
slows convergence and lowers accuracy), and its depth multiplier is 1 (no depth expansion).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Literal

from torch import Tensor, nn


class SeparableConv2d(nn.Module):
    """Depthwise k x k (`depthwise`) then pointwise 1x1 (`pointwise`), no bias, no activation between."""

    def __init__(self, in_chs: int, out_chs: int, kernel_size: int = 3, *, stride: int = 1,
                 padding: int | None = None, dilation: int = 1) -> None:
        super().__init__()
        if padding is None:
            padding = (kernel_size - 1) // 2 * dilation  # "same" for odd kernels
        self.depthwise = nn.Conv2d(in_chs, in_chs, kernel_size, stride=stride, padding=padding,
                                   dilation=dilation, groups=in_chs, bias=False)
        self.pointwise = nn.Conv2d(in_chs, out_chs, 1, bias=False)
        self.in_chs, self.out_chs = in_chs, out_chs

    def forward(self, x: Tensor) -> Tensor:  # (N, in, H, W) -> (N, out, H/stride, W/stride)
        return self.pointwise(self.depthwise(x))


class SeparableConvNormAct(nn.Sequential):
    """`SeparableConv2d` (`conv`) -> BatchNorm2d (`bn`), with a ReLU (`act`) before or after.

    Xception's residual modules use `activation="before"` (ReLU -> SeparableConv -> BN, Fig. 5);
    its exit flow's last two layers `activation="after"`. A ReLU that reads a block's input,
    which the shortcut also reads, must be built with `inplace=False`.
    """

    def __init__(self, in_chs: int, out_chs: int, kernel_size: int = 3, *,
                 activation: Literal["before", "after"] | None = "before", inplace: bool = True,
                 eps: float = 1e-5) -> None:
        if activation not in ("before", "after", None):
            raise ValueError(f"activation must be 'before', 'after' or None, got {activation!r}")
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        if activation == "before":
            layers["act"] = nn.ReLU(inplace=inplace)
        layers["conv"] = SeparableConv2d(in_chs, out_chs, kernel_size)
        layers["bn"] = nn.BatchNorm2d(out_chs, eps=eps)
        if activation == "after":
            layers["act"] = nn.ReLU(inplace=inplace)
        super().__init__(layers)
        self.in_chs, self.out_chs = in_chs, out_chs

    def forward(self, x: Tensor) -> Tensor:  # (N, in, H, W) -> (N, out, H, W)
        return super().forward(x)
