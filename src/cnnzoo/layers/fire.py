"""SqueezeNet's Fire module (Iandola et al. 2016, "SqueezeNet", arXiv 1602.07360, §3.2, Fig. 1).

A *squeeze* layer of s1x1 1x1 filters feeds an *expand* layer of e1x1 1x1 and e3x3 3x3 filters
whose outputs are concatenated (e1x1 + e3x3 channels); every convolution has a bias and is
followed by a ReLU (§3.3). The paper keeps s1x1 < e1x1 + e3x3 so that the squeeze layer limits
the number of input channels of the 3x3 filters (strategy 2 of §3.1).

`bypass=True` adds the module's input to its output (§6, "simple bypass"); it needs the same
number of input and output channels, which is why the paper only bypasses fire3/5/7/9.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .attention import attention


class Fire(nn.Module):
    """squeeze (1x1, s1x1) -> ReLU -> [expand1x1 (1x1, e1x1) | expand3x3 (3x3, e3x3)] -> ReLU -> concat.

    Module names are torchvision's (`squeeze`, `expand1x1`, `expand3x3`), so its weights load by
    name. The SE slot (`se`) sits on the concatenated output, before a bypass addition.
    """

    def __init__(self, in_chs: int, s1x1: int, e1x1: int, e3x3: int, *, bypass: bool = False,
                 se_reduction: int | None = None) -> None:
        super().__init__()
        for name, value in (("in_chs", in_chs), ("s1x1", s1x1), ("e1x1", e1x1), ("e3x3", e3x3)):
            if value < 1:
                raise ValueError(f"Fire: {name} must be >= 1, got {value}")
        out_chs = e1x1 + e3x3
        if bypass and in_chs != out_chs:
            raise ValueError(f"Fire: a simple bypass needs e1x1 + e3x3 == in_chs, got {out_chs} != {in_chs}")
        self.squeeze = nn.Conv2d(in_chs, s1x1, 1)
        self.squeeze_activation = nn.ReLU(inplace=True)
        self.expand1x1 = nn.Conv2d(s1x1, e1x1, 1)
        self.expand1x1_activation = nn.ReLU(inplace=True)
        self.expand3x3 = nn.Conv2d(s1x1, e3x3, 3, padding=1)
        self.expand3x3_activation = nn.ReLU(inplace=True)
        self.se = attention(out_chs, se_reduction)
        self.bypass = bypass
        self.in_chs, self.out_chs = in_chs, out_chs
        self.s1x1, self.e1x1, self.e3x3 = s1x1, e1x1, e3x3

    def forward(self, x: Tensor) -> Tensor:  # (N, in, H, W) -> (N, e1x1 + e3x3, H, W)
        s = self.squeeze_activation(self.squeeze(x))  # (N, s1x1, H, W)
        out = torch.cat([self.expand1x1_activation(self.expand1x1(s)),
                         self.expand3x3_activation(self.expand3x3(s))], 1)
        out = self.se(out)
        return out + x if self.bypass else out

    def paper_columns(self) -> dict[str, int | str]:
        """The SqueezeNet table's columns for this row (Table 1)."""
        return {"s1x1": self.s1x1, "e1x1": self.e1x1, "e3x3": self.e3x3}

    def extra_repr(self) -> str:
        return "bypass=True" if self.bypass else ""
