"""Convolution + normalisation + activation, the unit most families are built from."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from torch import Tensor, nn


class ConvNormAct(nn.Sequential):
    """Conv2d (no bias when a norm follows) -> BatchNorm2d -> activation, as `conv`, `bn`, `act`.

    `padding=None` gives "same" padding for odd kernels: (k - 1) // 2 * dilation.
    `norm=False` keeps the conv's bias and drops the norm (pre-BN families: AlexNet, VGG,
    GoogLeNet); `act=None` drops the activation (the last conv of a residual branch).
    """

    def __init__(self, in_chs: int, out_chs: int, kernel_size: int | tuple[int, int] = 3, *, stride: int = 1,
                 padding: int | tuple[int, int] | None = None, dilation: int = 1, groups: int = 1,
                 norm: bool = True, eps: float = 1e-5, act: Callable[[], nn.Module] | None = nn.ReLU) -> None:
        k = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
        if padding is None:
            padding = ((k[0] - 1) // 2 * dilation, (k[1] - 1) // 2 * dilation)
        conv = nn.Conv2d(in_chs, out_chs, k, stride=stride, padding=padding, dilation=dilation, groups=groups,
                         bias=not norm)
        layers: OrderedDict[str, nn.Module] = OrderedDict(conv=conv)
        if norm:
            layers["bn"] = nn.BatchNorm2d(out_chs, eps=eps)
        if act is not None:
            layers["act"] = _inplace(act())
        super().__init__(layers)
        self.in_chs, self.out_chs = in_chs, out_chs

    def forward(self, x: Tensor) -> Tensor:  # (N, in, H, W) -> (N, out, H/stride, W/stride)
        return super().forward(x)


def _inplace(module: nn.Module) -> nn.Module:
    if hasattr(module, "inplace"):
        module.inplace = True
    return module
