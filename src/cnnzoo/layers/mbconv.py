"""The mobile inverted bottleneck (MBConv) with squeeze-and-excitation, and stochastic depth.

MBConv (Sandler et al. 2018, MobileNetV2 §3.3; Tan et al. 2019, MnasNet) as EfficientNet uses it
(Tan & Le 2019, arXiv 1905.11946, §4 and Table 1):

    x (N, C_in, H, W)
    -> expand  1x1 conv to t*C_in, BN, SiLU           (absent when t = 1: "MBConv1")
    -> dw      k x k depthwise conv, stride s, BN, SiLU
    -> se      squeeze-and-excitation, squeeze width C_in / 4 (of the block's *input*), SiLU inside
    -> project 1x1 conv to C_out, BN, no activation  (linear bottleneck)
    -> + x     when s = 1 and C_in = C_out, the branch dropped per sample by stochastic depth

Stochastic depth (Huang et al. 2016, arXiv 1603.09382), as EfficientNet §5.2 uses it ("stochastic
depth with survival probability 0.8"): in training, each sample's residual branch is kept with
probability 1 - p and rescaled by 1 / (1 - p); in evaluation it is the identity.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .attention import AttentionSlot, SqueezeExcite
from .conv import ConvNormAct


class StochasticDepth(nn.Module):
    """Drops the whole residual branch of each sample with probability `p` (training only).

    Kept samples are scaled by 1 / (1 - p) so the expected output equals the evaluation output.
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"stochastic depth drop probability must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:  # (N, ...) -> (N, ...)
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = torch.empty((x.shape[0],) + (1,) * (x.dim() - 1), dtype=x.dtype, device=x.device)
        return x * mask.bernoulli_(keep).div_(keep)  # (N, 1, 1, 1) in {0, 1/keep}

    def extra_repr(self) -> str:
        return f"p={self.p:.4g}"


class MBConv(nn.Module):
    """Mobile inverted bottleneck with SE (EfficientNet's "MBConv{t}, k{k}x{k}" rows of Table 1).

    `expand_ratio` is t, `se_ratio` the squeeze width as a fraction of `in_chs` (0.25 in
    EfficientNet; None: no SE, an empty `AttentionSlot` in its place, as EfficientNet-Lite),
    `drop_path` the stochastic-depth drop probability of this block, `act` the activation of the
    expand and depthwise convs (SiLU; ReLU6 in EfficientNet-Lite), `tf_same` TensorFlow's "SAME"
    padding of the strided depthwise conv. BN defaults are EfficientNet's: epsilon 1e-3 and
    momentum 0.01 (§5.2: "batch norm momentum 0.99" in TensorFlow's convention).
    """

    def __init__(self, in_chs: int, out_chs: int, *, expand_ratio: int, kernel_size: int, stride: int = 1,
                 se_ratio: float | None = 0.25, drop_path: float = 0.0, eps: float = 1e-3, momentum: float = 0.01,
                 act: type[nn.Module] = nn.SiLU, tf_same: bool = False) -> None:
        super().__init__()
        if expand_ratio < 1:
            raise ValueError(f"MBConv expand_ratio must be >= 1, got {expand_ratio}")
        if stride not in (1, 2):
            raise ValueError(f"MBConv stride must be 1 or 2, got {stride}")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"MBConv kernel_size must be odd, got {kernel_size}")
        if se_ratio is not None and not 0.0 < se_ratio <= 1.0:
            raise ValueError(f"MBConv se_ratio must be in (0, 1], got {se_ratio}")
        hidden = in_chs * expand_ratio
        self.in_chs, self.out_chs, self.stride = in_chs, out_chs, stride
        self.expand_ratio, self.kernel_size = expand_ratio, kernel_size
        if expand_ratio != 1:
            self.expand = ConvNormAct(in_chs, hidden, 1, eps=eps, act=act)  # (N, t*C_in, H, W)
        self.dw = ConvNormAct(hidden, hidden, kernel_size, stride=stride, groups=hidden,
                              eps=eps, act=act, tf_same=tf_same)  # (N, t*C_in, H/s, W/s)
        self.se = AttentionSlot(hidden) if se_ratio is None else \
            SqueezeExcite(hidden, squeeze_channels=max(1, int(in_chs * se_ratio)), act=nn.SiLU)
        self.project = ConvNormAct(hidden, out_chs, 1, eps=eps, act=None)  # (N, C_out, H/s, W/s)
        self.has_residual = stride == 1 and in_chs == out_chs
        self.stochastic_depth = StochasticDepth(drop_path if self.has_residual else 0.0)
        set_bn_momentum(self, momentum)

    def forward(self, x: Tensor) -> Tensor:  # (N, C_in, H, W) -> (N, C_out, H/s, W/s)
        y = self.expand(x) if self.expand_ratio != 1 else x
        y = self.project(self.se(self.dw(y)))
        if self.has_residual:
            y = self.stochastic_depth(y) + x
        return y

    def paper_columns(self) -> dict[str, int | str]:
        """The "Operator" column of EfficientNet's Table 1, e.g. "MBConv6, k5x5"."""
        k = self.kernel_size
        return {"operator": f"MBConv{self.expand_ratio}, k{k}x{k}"}


def set_bn_momentum(module: nn.Module, momentum: float) -> None:
    """Give every BatchNorm of `module` this running-average momentum (ConvNormAct builds
    PyTorch's default 0.1)."""
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.momentum = momentum
