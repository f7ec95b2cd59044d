"""MobileNet's depthwise separable convolution (Howard et al. 2017, arXiv 1704.04861, §3.1, Fig. 3).

A 3x3 depthwise convolution (one filter per channel) and a 1x1 pointwise convolution, *each*
followed by batch-norm and ReLU: 9 M + M N weights instead of 9 M N. This differs from
Xception's separable convolution (`layers/separable.py`), which has no BN or activation
between the two convolutions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from torch import Tensor, nn

from .attention import attention
from .conv import ConvNormAct


class TableConv(ConvNormAct):
    """A ConvNormAct (`conv`, `bn`, `act`) that names itself as a row of MobileNet's Table 1.

    `paper_columns()`: {"type / stride": "Conv dw / s1", "filter shape": "3x3x32 dw"}.
    """

    def paper_columns(self) -> dict[str, int | str]:
        conv = cast(nn.Conv2d, self.get_submodule("conv"))
        kh, kw = conv.kernel_size
        stride = f"s{conv.stride[0]}"
        if conv.groups > 1 and conv.groups == conv.in_channels == conv.out_channels:
            return {"type / stride": f"Conv dw / {stride}", "filter shape": f"{kh}x{kw}x{conv.in_channels} dw"}
        return {"type / stride": f"Conv / {stride}",
                "filter shape": f"{kh}x{kw}x{conv.in_channels // conv.groups}x{conv.out_channels}"}


class DepthwiseSeparable(nn.Module):
    """`dw` (3x3 depthwise, stride s, BN, act) then `pw` (1x1, BN, act): (N, M, H, W) -> (N, N_out, H/s, W/s).

    The SE slot (`se`) sits on the block's output (the SE paper's place for non-residual
    modules, as for Inception modules).
    """

    def __init__(self, in_chs: int, out_chs: int, *, stride: int = 1, act: Callable[[], nn.Module] = nn.ReLU,
                 se_reduction: int | None = None) -> None:
        super().__init__()
        self.dw = TableConv(in_chs, in_chs, 3, stride=stride, groups=in_chs, act=act)  # (N, M, H/s, W/s)
        self.pw = TableConv(in_chs, out_chs, 1, act=act)  # (N, N_out, H/s, W/s)
        self.se = attention(out_chs, se_reduction)
        self.in_chs, self.out_chs = in_chs, out_chs

    def forward(self, x: Tensor) -> Tensor:
        return self.se(self.pw(self.dw(x)))
