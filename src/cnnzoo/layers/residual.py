"""Residual blocks and their shortcuts: ResNet, pre-activation ResNet, ResNeXt, SENet.

    post-activation (He et al. 2015, Fig. 2 and 5):   y = relu(se(F(x)) + shortcut(x))
    pre-activation  (He et al. 2016, Fig. 4(e)):      y = se(F(bn_relu(x))) + shortcut(x)

Shortcut options (2015 paper §3.3, Table 3), the `shortcut` field of `BlockDesign`:

    "A"     identity; where the shape changes, subsample by the stride and pad the new
            channels with zeros: parameter-free (the paper's CIFAR networks, §4.2)
    "B"     identity; where the shape changes, a projection: 1x1 conv with the stride + BN
    "C"     a projection in every block
    "none"  no shortcut: the block is two (three) layers of the *plain* network (§4.1)

Every block marks the SE position with `se`, an `AttentionSlot` on the residual branch before
the addition (SE paper Fig. 3), so `add_squeeze_excite` works on any ResNet.

Bypassing blocks (Veit, Wilber, Belongie 2016, "Residual networks behave like ensembles of
relatively shallow networks", seed 000 §3.6): `block.skip = True` makes the block compute as if
its residual branch F were zero — it returns relu(shortcut(x)) (post-activation) or
shortcut(x) (pre-activation). A block of a plain network (no shortcut) can be skipped only where
its input and output shapes agree; it then returns its input, i.e. the layer pair is deleted.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

import torch.nn.functional as F
from torch import Tensor, nn

from .attention import SqueezeExcite, attention

Shortcut = Literal["A", "B", "C", "none"]
SHORTCUTS: tuple[str, ...] = ("A", "B", "C", "none")


@dataclass(frozen=True)
class BlockDesign:
    """How a network builds its residual blocks (the same for every block of the network)."""

    shortcut: Shortcut = "B"
    # bottleneck: stride in the first 1x1 (Caffe, 2015 paper) or in the 3x3 (torchvision v1.5, ResNeXt)
    stride_in_1x1: bool = False
    groups: int = 1  # cardinality C of the bottleneck's 3x3 (ResNeXt)
    base_width: int = 64  # d, the width of one group in the first stage (ResNeXt "32x4d": 4)
    first_ratio: float = 1.0  # width of the first 1x1 relative to the 3x3 (SENet-154 halves it: 0.5)
    down_kernel: int = 1  # kernel of the stride-2 projections (SENet-154: 3)
    se_reduction: int | None = None  # fill every AttentionSlot with an SE block of this reduction

    def __post_init__(self) -> None:
        if self.shortcut not in SHORTCUTS:
            raise ValueError(f"shortcut must be one of {SHORTCUTS}, got {self.shortcut!r}")
        if self.groups < 1 or self.base_width < 1:
            raise ValueError(f"groups and base_width must be >= 1, got {self.groups} and {self.base_width}")
        if not 0 < self.first_ratio <= 1:
            raise ValueError(f"first_ratio must be in (0, 1], got {self.first_ratio}")
        if self.down_kernel not in (1, 3):
            raise ValueError(f"down_kernel must be 1 or 3, got {self.down_kernel}")
        if self.se_reduction is not None and self.se_reduction < 1:
            raise ValueError(f"se_reduction must be >= 1 or None, got {self.se_reduction}")


class ZeroPadShortcut(nn.Module):
    """Option A: x[:, :, ::stride, ::stride] with zero channels appended up to `out_chs`."""

    def __init__(self, in_chs: int, out_chs: int, stride: int) -> None:
        super().__init__()
        self.in_chs, self.out_chs, self.stride = in_chs, out_chs, stride

    def forward(self, x: Tensor) -> Tensor:  # (N, in, H, W) -> (N, out, ceil(H/s), ceil(W/s))
        if self.stride > 1:
            x = x[:, :, ::self.stride, ::self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.out_chs - self.in_chs))

    def extra_repr(self) -> str:
        return f"{self.in_chs}, {self.out_chs}, stride={self.stride}"


def make_shortcut(kind: Shortcut, in_chs: int, out_chs: int, stride: int, *, down_kernel: int = 1,
                  norm: bool = True) -> nn.Module | None:
    """The shortcut module of a block, or None for an identity (or absent) shortcut.

    Projections are `nn.Sequential(conv, bn)` ("downsample.0", "downsample.1", torchvision's
    names); `norm=False` (pre-activation blocks) drops the BN: the conv alone, as "downsample.0".
    """
    changes = stride != 1 or in_chs != out_chs
    if kind == "none" or (kind in ("A", "B") and not changes):
        return None
    if kind == "A":
        if out_chs < in_chs:
            raise ValueError(f"option A shortcuts cannot reduce channels ({in_chs} -> {out_chs})")
        return ZeroPadShortcut(in_chs, out_chs, stride)
    k = down_kernel if stride > 1 else 1
    layers: list[nn.Module] = [nn.Conv2d(in_chs, out_chs, k, stride=stride, padding=k // 2, bias=False)]
    if norm:
        layers.append(nn.BatchNorm2d(out_chs))
    return nn.Sequential(*layers)


def _conv(in_chs: int, out_chs: int, k: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_chs, out_chs, k, stride=stride, padding=k // 2, groups=groups, bias=False)


class ResidualBlock(nn.Module):
    """Shared part of the blocks: the shortcut, the SE slot, `skip`, the paper's bracket.

    Subclasses build `conv1..`, `bn1..` (torchvision's names), then call `_attach(design)`
    (which adds `se`, `relu` and `downsample` after them, in forward order), and implement
    `branch(x)`, the residual function F without the SE block.
    """

    expansion = 1  # output channels / bracket width
    preactivated = False  # pre-activation block (2016 paper)?

    def __init__(self, in_chs: int, width: int, *, stride: int, design: BlockDesign) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride}")
        self.in_chs, self.width, self.out_chs, self.stride = in_chs, width, width * self.expansion, stride
        self.residual = design.shortcut != "none"
        self._skip = False

    def _attach(self, design: BlockDesign) -> None:
        self.se = attention(self.out_chs, design.se_reduction)  # (N, out, H/s, W/s), before the addition
        self.relu = nn.ReLU(inplace=True)
        self.downsample = make_shortcut(design.shortcut, self.in_chs, self.out_chs, self.stride,
                                        down_kernel=design.down_kernel, norm=not self.preactivated)

    @property
    def skip(self) -> bool:
        """Bypass the residual branch: the block returns what it would with F(x) = 0."""
        return self._skip

    @skip.setter
    def skip(self, value: bool) -> None:
        if value and not self.residual and (self.stride != 1 or self.in_chs != self.out_chs):
            raise ValueError(f"a plain block changing the shape ({self.in_chs} -> {self.out_chs} channels, "
                             f"stride {self.stride}) cannot be skipped: it has no shortcut")
        self._skip = bool(value)

    def branch(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def convs(self) -> list[str]:
        """The bracket rows of the paper's table, one per conv: "3x3, 64"."""
        raise NotImplementedError

    def bracket(self) -> str:
        """The block as in the papers' tables: "1x1, 64; 3x3, 64; 1x1, 256" (+ "fc, [16, 256]" with SE)."""
        rows = self.convs()
        if isinstance(self.se, SqueezeExcite):  # SE paper Table 1 writes the two FCs as fc, [C/r, C]
            rows.append(f"fc, [{self.se.hidden}, {self.se.channels}]")
        return "; ".join(rows)

    def extra_repr(self) -> str:
        return "skip=True" if self._skip else ""


class PostActBlock(ResidualBlock):
    """y = relu(se(F(x)) + shortcut(x)): the 2015 paper's blocks (relu(F(x)) for plain ones)."""

    def forward(self, x: Tensor) -> Tensor:  # (N, in, H, W) -> (N, out, H/stride, W/stride)
        shortcut = x if self.downsample is None else self.downsample(x)
        if self._skip:
            return F.relu(shortcut)
        out = self.se(self.branch(x))
        if self.residual:
            out = out + shortcut
        return self.relu(out)


class BasicBlock(PostActBlock):
    """Two 3x3 convs (Fig. 5 left: ResNet-18/34, CIFAR ResNets); the stride is in the first."""

    def __init__(self, in_chs: int, width: int, *, stride: int = 1, design: BlockDesign = BlockDesign()) -> None:
        _basic_checks(design)
        super().__init__(in_chs, width, stride=stride, design=design)
        self.conv1 = _conv(in_chs, width, 3, stride)  # (N, w, H/s, W/s)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = _conv(width, width, 3)  # (N, w, H/s, W/s)
        self.bn2 = nn.BatchNorm2d(width)
        self._attach(design)

    def branch(self, x: Tensor) -> Tensor:
        return self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))

    def convs(self) -> list[str]:
        return [f"3x3, {self.width}", f"3x3, {self.width}"]


class Bottleneck(PostActBlock):
    """1x1 reduce, 3x3 (grouped for ResNeXt), 1x1 expand x4 (Fig. 5 right, ResNeXt Fig. 3(c)).

    3x3 width = int(width * base_width / 64) * groups (ResNeXt Table 1: C=32, d=4 -> 128 in
    conv2); the first 1x1 has first_ratio times that. The stride sits in the first 1x1
    (`stride_in_1x1`, the 2015 paper's Caffe models) or in the 3x3.
    """

    expansion = 4

    def __init__(self, in_chs: int, width: int, *, stride: int = 1, design: BlockDesign = BlockDesign()) -> None:
        super().__init__(in_chs, width, stride=stride, design=design)
        mid, reduce = _bottleneck_widths(width, design)
        s1, s3 = (stride, 1) if design.stride_in_1x1 else (1, stride)
        self.groups = design.groups
        self.conv1 = _conv(in_chs, reduce, 1, s1)  # (N, reduce, ., .)
        self.bn1 = nn.BatchNorm2d(reduce)
        self.conv2 = _conv(reduce, mid, 3, s3, groups=design.groups)  # (N, mid, H/s, W/s)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv3 = _conv(mid, self.out_chs, 1)  # (N, 4 width, H/s, W/s)
        self.bn3 = nn.BatchNorm2d(self.out_chs)
        self._attach(design)

    def branch(self, x: Tensor) -> Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        return self.bn3(self.conv3(x))

    def convs(self) -> list[str]:
        return _bottleneck_rows(self)


class PreActBlock(ResidualBlock):
    """y = se(F(bn_relu(x))) + shortcut: the 2016 paper's full pre-activation unit (Fig. 4(e)).

    `preact=False` leaves out the leading BN-ReLU: the network's first block, whose input is
    already normalised and activated by the stem (seed 001's neon code: `first=True`; Kaiming
    He's resnet-pre-act.lua shares the stem's BN-ReLU the same way). A shortcut other than the
    identity takes the pre-activated input (the paper's appendix: "these projection shortcuts
    are also with pre-activation"); projections are a bias-free 1x1 conv without BN.
    """

    preactivated = True

    def __init__(self, in_chs: int, width: int, *, stride: int, design: BlockDesign, preact: bool) -> None:
        super().__init__(in_chs, width, stride=stride, design=design)
        self.preact = preact
        self.bn1 = nn.BatchNorm2d(in_chs) if preact else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:  # (N, in, H, W) -> (N, out, H/stride, W/stride)
        pre = self.relu(self.bn1(x)) if self.preact else x
        shortcut = x if self.downsample is None else self.downsample(pre)
        if self._skip:
            return shortcut
        out = self.se(self.branch(pre))
        return out + shortcut if self.residual else out


class PreActBasicBlock(PreActBlock):
    """BN-ReLU-3x3-BN-ReLU-3x3 (2016 paper, Fig. 4(e), basic form: CIFAR ResNet-110)."""

    def __init__(self, in_chs: int, width: int, *, stride: int = 1, design: BlockDesign = BlockDesign(),
                 preact: bool = True) -> None:
        _basic_checks(design)
        super().__init__(in_chs, width, stride=stride, design=design, preact=preact)
        self.conv1 = _conv(in_chs, width, 3, stride)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv2 = _conv(width, width, 3)
        self._attach(design)

    def branch(self, x: Tensor) -> Tensor:  # x is already pre-activated
        return self.conv2(self.relu(self.bn2(self.conv1(x))))

    def convs(self) -> list[str]:
        return [f"3x3, {self.width}", f"3x3, {self.width}"]


class PreActBottleneck(PreActBlock):
    """BN-ReLU-1x1-BN-ReLU-3x3-BN-ReLU-1x1 (2016 paper: ResNet-164 on CIFAR, ImageNet nets)."""

    expansion = 4

    def __init__(self, in_chs: int, width: int, *, stride: int = 1, design: BlockDesign = BlockDesign(),
                 preact: bool = True) -> None:
        super().__init__(in_chs, width, stride=stride, design=design, preact=preact)
        mid, reduce = _bottleneck_widths(width, design)
        s1, s3 = (stride, 1) if design.stride_in_1x1 else (1, stride)
        self.groups = design.groups
        self.conv1 = _conv(in_chs, reduce, 1, s1)
        self.bn2 = nn.BatchNorm2d(reduce)
        self.conv2 = _conv(reduce, mid, 3, s3, groups=design.groups)
        self.bn3 = nn.BatchNorm2d(mid)
        self.conv3 = _conv(mid, self.out_chs, 1)
        self._attach(design)

    def branch(self, x: Tensor) -> Tensor:  # x is already pre-activated
        x = self.conv1(x)
        x = self.conv2(self.relu(self.bn2(x)))
        return self.conv3(self.relu(self.bn3(x)))

    def convs(self) -> list[str]:
        return _bottleneck_rows(self)


def _basic_checks(design: BlockDesign) -> None:
    if design.groups != 1 or design.base_width != 64 or design.first_ratio != 1.0:
        raise ValueError("basic blocks have no groups, base_width or first_ratio: use a bottleneck block")


def _bottleneck_widths(width: int, design: BlockDesign) -> tuple[int, int]:
    mid = int(width * design.base_width / 64) * design.groups
    return mid, max(1, int(mid * design.first_ratio))


def _bottleneck_rows(block: Bottleneck | PreActBottleneck) -> list[str]:
    group = f", C={block.groups}" if block.groups > 1 else ""
    return [f"1x1, {block.conv1.out_channels}", f"3x3, {block.conv2.out_channels}{group}",
            f"1x1, {block.out_chs}"]


class ResidualStage(nn.Sequential):
    """The blocks of one row of the paper's table (conv2_x ... conv5_x)."""

    def paper_columns(self) -> dict[str, int | str]:
        """The stage's bracket, e.g. {"blocks": "[1x1, 64; 3x3, 64; 1x1, 256] x 3"}."""
        first: ResidualBlock = self[0]
        return {"blocks": f"[{first.bracket()}] x {len(self)}"}


@dataclass(frozen=True)
class Stem:
    """The layers before the first stage: one (kernel, channels, stride) row per conv, then a pool.

    Each conv is followed by BN-ReLU, except the last when `norm_act=False` (timm's
    pre-activation layout, where the first block normalises). `pool` is the 3x3/2 max-pool:
    "pad" (padding 1, as torchvision), "ceil" (no padding, ceil mode: Caffe, the released SENets)
    or "none" (CIFAR).
    """

    convs: tuple[tuple[int, int, int], ...]
    pool: Literal["pad", "ceil", "none"] = "pad"
    norm_act: bool = True

    @property
    def out_chs(self) -> int:
        return self.convs[-1][1]

    @property
    def conv_stride(self) -> int:
        stride = 1
        for _, _, s in self.convs:
            stride *= s
        return stride

    @property
    def stride(self) -> int:
        return self.conv_stride * (1 if self.pool == "none" else 2)

    def build(self, in_chans: int) -> tuple[nn.Sequential, nn.Module]:
        """(stem convs as `conv1, bn1, relu1, conv2, ...`, the max-pool)."""
        layers: dict[str, nn.Module] = {}
        for i, (k, out, s) in enumerate(self.convs, start=1):
            layers[f"conv{i}"] = _conv(in_chans, out, k, s)
            if self.norm_act or i < len(self.convs):
                layers[f"bn{i}"] = nn.BatchNorm2d(out)
                layers[f"relu{i}"] = nn.ReLU(inplace=True)
            in_chans = out
        pool: nn.Module = {"pad": lambda: nn.MaxPool2d(3, 2, padding=1),
                           "ceil": lambda: nn.MaxPool2d(3, 2, ceil_mode=True),
                           "none": nn.Identity}[self.pool]()
        return nn.Sequential(OrderedDict(layers)), pool
