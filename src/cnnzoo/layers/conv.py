"""Convolution + normalisation + activation, the unit most families are built from."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable

from torch import Tensor, nn


class ConvNormAct(nn.Sequential):
    """Conv2d (no bias when a norm follows) -> BatchNorm2d -> activation, as `conv`, `bn`, `act`.

    `padding=None` gives "same" padding for odd kernels: (k - 1) // 2 * dilation.
    `norm=False` keeps the conv's bias and drops the norm (pre-BN families: AlexNet, VGG,
    GoogLeNet); `act=None` drops the activation (the last conv of a residual branch).
    `tf_same=True` pads strided convolutions as TensorFlow's "SAME" does (`Conv2dSameTF`), for
    weights trained in TensorFlow; stride-1 odd kernels pad the same either way.
    """

    def __init__(self, in_chs: int, out_chs: int, kernel_size: int | tuple[int, int] = 3, *, stride: int = 1,
                 padding: int | tuple[int, int] | None = None, dilation: int = 1, groups: int = 1,
                 norm: bool = True, eps: float = 1e-5, act: Callable[[], nn.Module] | None = nn.ReLU,
                 tf_same: bool = False) -> None:
        k = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
        if padding is None:
            padding = ((k[0] - 1) // 2 * dilation, (k[1] - 1) // 2 * dilation)
        conv_type = Conv2dSameTF if tf_same and stride > 1 else nn.Conv2d
        conv = conv_type(in_chs, out_chs, k, stride=stride, padding=0 if conv_type is Conv2dSameTF else padding,
                         dilation=dilation, groups=groups, bias=not norm)
        layers: OrderedDict[str, nn.Module] = OrderedDict(conv=conv)
        if norm:
            layers["bn"] = nn.BatchNorm2d(out_chs, eps=eps)
        if act is not None:
            layers["act"] = _inplace(act())
        super().__init__(layers)
        self.in_chs, self.out_chs = in_chs, out_chs

    def forward(self, x: Tensor) -> Tensor:  # (N, in, H, W) -> (N, out, H/stride, W/stride)
        return super().forward(x)


class Conv2dSameTF(nn.Conv2d):
    """A convolution padded as TensorFlow's "SAME": output size ceil(H / stride), the total
    padding max((ceil(H / s) - 1) * s + (k - 1) * d + 1 - H, 0) split with the extra pixel at the
    bottom/right. At stride 2 on even sizes PyTorch's symmetric k // 2 pads one pixel more on the
    top/left, shifting what every kernel sees: weights trained in TensorFlow (EfficientNet-Lite's
    release) need this to reproduce their logits. Same parameters and state-dict names as Conv2d.
    """

    def forward(self, x: Tensor) -> Tensor:  # (N, C, H, W) -> (N, out, ceil(H/s), ceil(W/s))
        pads = []
        for size, k, s, d in zip(reversed(x.shape[-2:]), reversed(self.kernel_size), reversed(self.stride),
                                 reversed(self.dilation), strict=True):  # width first, as F.pad wants
            total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(nn.functional.pad(x, pads))


def _inplace(module: nn.Module) -> nn.Module:
    if hasattr(module, "inplace"):
        module.inplace = True
    return module


class FullConv2d(nn.Conv2d):
    """A convolution whose kernel may cover its whole input (LeNet-5's C5: 5x5 kernels on 5x5
    maps). "C5 is labeled as a convolutional layer, instead of a fully-connected layer, because
    if LeNet-5's input were made bigger ... the feature map dimension would be larger than 1x1"
    (LeCun et al. 1998, §II.B): so it stays a convolution, and when its output is 1x1 it is
    computed as the matrix product it then is (4x faster on CPU than the convolution kernels,
    same numbers up to rounding). Same parameters and state-dict names as nn.Conv2d.
    """

    def forward(self, x: Tensor) -> Tensor:  # (N, C, k, k) -> (N, out, 1, 1); else as Conv2d
        if self.padding == (0, 0) and self.groups == 1 and self.padding_mode == "zeros" and self.stride == (1, 1) \
                and self.dilation == (1, 1):
            return full_conv2d(x, self.weight, self.bias)
        return super().forward(x)


def full_conv2d(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """A valid, stride-1 convolution; a matrix product when the kernel covers the whole input."""
    if x.shape[-2:] != weight.shape[-2:]:
        return nn.functional.conv2d(x, weight, bias)
    # flatten(1) and [..., None, None] keep the batch axis symbolic in traced graphs (ONNX export)
    out = nn.functional.linear(x.flatten(1), weight.flatten(1), bias)  # (N, out)
    return out[:, :, None, None]


def conv_block(in_chs: int, out_chs: int, kernel_size: int, *, stride: int = 1, padding: int = 0,
               groups: int = 1, batch_norm: bool = False) -> nn.Sequential:
    """Conv2d (with its bias, as the pre-BN papers and torchvision have it) -> [BatchNorm2d] -> ReLU,
    as `conv`, `bn`, `act` (the names of `layers.conv.ConvNormAct`, which drops the bias under BN)."""
    layers: OrderedDict[str, nn.Module] = OrderedDict(
        conv=nn.Conv2d(in_chs, out_chs, kernel_size, stride=stride, padding=padding, groups=groups))
    if batch_norm:
        layers["bn"] = nn.BatchNorm2d(out_chs)
    layers["act"] = nn.ReLU(inplace=True)
    return nn.Sequential(layers)
