"""Inception v3 / v4 / Inception-ResNet modules written as data, and the networks built from them.

A module is a tuple of named branches; a branch is a sequence of operations, each a `Conv`
(conv -> BN -> ReLU), a `Pool`, or a `Split` (parallel convolutions on one input, concatenated:
the expanded filter banks of Szegedy et al. 2015 Fig. 7). The branch outputs are concatenated
(`Mixed`) or, in Inception-ResNet, projected by a linear 1x1 convolution, scaled and added to the
module's input (`Residual`). A network is a tuple of `Row(name, layer)`; `build_rows` turns it into
named modules. For example the 35x35 module of Inception v3 (Szegedy et al. 2015, Fig. 5 as released):

    Mixed("figure 5", (
        ("branch1x1", (Conv(64),)),
        ("branch5x5", (Conv(48), Conv(64, 5))),
        ("branch3x3dbl", (Conv(64), Conv(96, 3), Conv(96, 3))),
        ("branch_pool", (Pool("avg"), Conv(32))),
    ))

Module names follow the data: a branch of one operation is that layer itself (`branch1x1.conv`),
a longer branch an `nn.Sequential` (`branch5x5.0.conv`, `branch5x5.1.conv`), a split inside a branch
a `Split` list (`branch3x3.1.0.conv`). That keeps the weight mappings from torchvision/timm short.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from .attention import attention
from .conv import ConvNormAct


# -- the data --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Conv:
    """conv k x k (or kh x kw) / stride -> BN -> ReLU with `out` filters; `valid`: no padding
    (the "V" of the Inception-v4 paper's figures), otherwise "same" padding."""

    out: int
    k: int | tuple[int, int] = 1
    stride: int = 1
    valid: bool = False

    @property
    def kernel(self) -> tuple[int, int]:
        return (self.k, self.k) if isinstance(self.k, int) else self.k

    def __str__(self) -> str:  # "3x3/2 V 384", as the papers' figures label their boxes
        kh, kw = self.kernel
        return f"{kh}x{kw}{f'/{self.stride}' if self.stride > 1 else ''}{' V' if self.valid else ''} {self.out}"


@dataclass(frozen=True)
class Pool:
    """3x3 max or average pooling; stride 1 keeps the size (padding 1), stride 2 is valid."""

    kind: Literal["max", "avg"]
    k: int = 3
    stride: int = 1

    def __str__(self) -> str:
        return f"{self.kind} pool {self.k}x{self.k}{f'/{self.stride}' if self.stride > 1 else ''}"


@dataclass(frozen=True)
class Split:
    """Parallel convolutions on the same input, concatenated (a filter bank "expanded" in width)."""

    convs: tuple[Conv, ...]

    def __str__(self) -> str:
        return "{" + " + ".join(map(str, self.convs)) + "}"


Op = Conv | Pool | Split
Branch = tuple[str, tuple[Op, ...]]  # (module name, operations in order)


@dataclass(frozen=True)
class Mixed:
    """Branches concatenated along channels. `slot`: an SE attention slot follows the concatenation
    (every Inception and reduction module; not the concatenations of the v4 stem)."""

    figure: str  # where the paper draws it, e.g. "figure 5"
    branches: tuple[Branch, ...]
    slot: bool = True


@dataclass(frozen=True)
class Residual:
    """Inception-ResNet block: branches -> concat -> linear 1x1 conv back to the input width (with
    bias, no BN, Szegedy et al. 2016 §3.2) -> x `scale` (§3.3) -> + input -> ReLU (unless `act=False`)."""

    figure: str
    branches: tuple[Branch, ...]
    scale: float
    act: bool = True


@dataclass(frozen=True)
class Repeat:
    """`n` copies of a block that keeps its input's shape, built as a `Stack`."""

    block: Mixed | Residual
    n: int


Layer = Conv | Pool | Mixed | Residual | Repeat


@dataclass(frozen=True)
class Row:
    """One row of a network's table: the module name and what it is."""

    name: str
    layer: Layer


@dataclass(frozen=True)
class BuildOptions:
    """Choices that are not part of a row: BN epsilon, whether average pooling counts the zero padding
    (torchvision's v3: yes; TF/timm's v4 and Inception-ResNet: no), and the SE reduction of the slots."""

    eps: float = 1e-3
    count_include_pad: bool = True
    se_reduction: int | None = None


# -- the modules -----------------------------------------------------------------------------
class SplitConcat(nn.ModuleList):
    """Runs every child on the same input and concatenates the results along channels."""

    def forward(self, x: Tensor) -> Tensor:  # (N, C, H, W) -> (N, sum of children's channels, H, W)
        return torch.cat([m(x) for m in self], 1)


class _Branches(nn.Module):
    """Holds named branches as children and concatenates their outputs."""

    def __init__(self, in_chs: int, branches: tuple[Branch, ...], options: BuildOptions) -> None:
        super().__init__()
        self.branch_names = tuple(name for name, _ in branches)
        self.branch_chs = 0
        self.stride = 1
        for name, ops in branches:
            module, out_chs, stride = build_branch(ops, in_chs, options)
            self.add_module(name, module)
            self.branch_chs += out_chs
            self.stride = max(self.stride, stride)

    def concat(self, x: Tensor) -> Tensor:  # (N, C, H, W) -> (N, branch_chs, H / stride, W / stride)
        return torch.cat([getattr(self, name)(x) for name in self.branch_names], 1)

    def branch_summary(self, branches: tuple[Branch, ...]) -> str:
        return " | ".join(", ".join(map(str, ops)) for _, ops in branches)


class InceptionModule(_Branches):
    """Parallel branches concatenated (Szegedy et al. 2015 Figs. 5-7, 10; 2016 Figs. 3-8), then an
    `AttentionSlot` (where the SE paper, Fig. 2, puts the SE block of an SE-Inception module)."""

    def __init__(self, in_chs: int, spec: Mixed, options: BuildOptions) -> None:
        super().__init__(in_chs, spec.branches, options)
        self.spec = spec
        self.out_chs = self.branch_chs
        self.attn = attention(self.out_chs, options.se_reduction) if spec.slot else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:  # (N, in, H, W) -> (N, out, H / stride, W / stride)
        return self.attn(self.concat(x))

    def paper_columns(self) -> dict[str, int | str]:
        return {"patch size/stride or remarks": f"as in {self.spec.figure}",
                "branches": self.branch_summary(self.spec.branches)}


class InceptionResNetBlock(_Branches):
    """x -> ReLU(x + scale * attn(expand(concat(branches(x))))) (Szegedy et al. 2016, Figs. 10-13,
    16, 17, 19; scaling §3.3). The SE slot sits on the residual branch before the addition, where the
    SE paper (Fig. 3) puts it in residual blocks."""

    def __init__(self, in_chs: int, spec: Residual, options: BuildOptions) -> None:
        super().__init__(in_chs, spec.branches, options)
        if self.stride != 1:
            raise ValueError(f"an Inception-ResNet block must keep the grid size; "
                             f"{spec.figure} has stride {self.stride}")
        self.spec = spec
        self.out_chs = in_chs
        self.scale = spec.scale
        self.expand = nn.Conv2d(self.branch_chs, in_chs, 1)  # "1x1 Conv (linear)": bias, no BN, no ReLU
        self.attn = attention(in_chs, options.se_reduction)
        self.act = nn.ReLU(inplace=True) if spec.act else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:  # (N, C, H, W) -> (N, C, H, W)
        residual = self.attn(self.expand(self.concat(x)))
        return self.act(residual * self.scale + x)

    def paper_columns(self) -> dict[str, int | str]:
        remarks = f"as in {self.spec.figure}, residual scale {self.scale:g}" + ("" if self.spec.act else ", no ReLU")
        return {"patch size/stride or remarks": remarks,
                "branches": self.branch_summary(self.spec.branches) + f" -> 1x1 {self.out_chs} linear"}


class Stack(nn.Sequential):
    """`Repeat(block, n)` built: n shape-keeping blocks in sequence, one row of the paper's schema
    ("5 x Inception-resnet-A", Szegedy et al. 2016 Fig. 15)."""

    def paper_columns(self) -> dict[str, int | str]:
        first = self[0].paper_columns()
        key = "patch size/stride or remarks"
        return {**first, key: f"{len(self)} x {first[key].removeprefix('as in ')}"}


# -- building --------------------------------------------------------------------------------
def _conv(spec: Conv, in_chs: int, options: BuildOptions) -> ConvNormAct:
    return ConvNormAct(in_chs, spec.out, spec.kernel, stride=spec.stride, padding=0 if spec.valid else None,
                       eps=options.eps)


def _pool(spec: Pool, options: BuildOptions) -> nn.Module:
    padding = (spec.k - 1) // 2 if spec.stride == 1 else 0
    if spec.kind == "max":
        return nn.MaxPool2d(spec.k, spec.stride, padding)
    return nn.AvgPool2d(spec.k, spec.stride, padding, count_include_pad=options.count_include_pad)


def build_branch(ops: tuple[Op, ...], in_chs: int, options: BuildOptions) -> tuple[nn.Module, int, int]:
    """(module, output channels, stride) of one branch; a one-operation branch is that layer alone."""
    layers: list[nn.Module] = []
    chs, stride = in_chs, 1
    for op in ops:
        if isinstance(op, Conv):
            layers.append(_conv(op, chs, options))
            chs, stride = op.out, stride * op.stride
        elif isinstance(op, Pool):
            layers.append(_pool(op, options))
            stride *= op.stride
        else:
            layers.append(SplitConcat(_conv(c, chs, options) for c in op.convs))
            chs, stride = sum(c.out for c in op.convs), stride * max(c.stride for c in op.convs)
    return (layers[0] if len(layers) == 1 else nn.Sequential(*layers)), chs, stride


def build_layer(layer: Layer, in_chs: int, options: BuildOptions) -> tuple[nn.Module, int, int]:
    """(module, output channels, stride) of one row's layer."""
    if isinstance(layer, Conv | Pool):
        return build_branch((layer,), in_chs, options)
    if isinstance(layer, Mixed):
        module = InceptionModule(in_chs, layer, options)
        return module, module.out_chs, module.stride
    if isinstance(layer, Residual):
        block = InceptionResNetBlock(in_chs, layer, options)
        return block, in_chs, 1
    blocks = [build_layer(layer.block, in_chs, options) for _ in range(layer.n)]
    if any(chs != in_chs or stride != 1 for _, chs, stride in blocks):
        raise ValueError(f"Repeat needs a shape-keeping block; {layer.block.figure} changes the shape")
    return Stack(*(m for m, _, _ in blocks)), in_chs, 1


def build_rows(rows: tuple[Row, ...], in_chans: int, options: BuildOptions) -> list[tuple[str, nn.Module, int, int]]:
    """Build a network's table row by row: (name, module, output channels, stride) per row."""
    built = []
    chs = in_chans
    for row in rows:
        module, chs, stride = build_layer(row.layer, chs, options)
        built.append((row.name, module, chs, stride))
    return built


def conv_paths(branch: Branch) -> Iterator[tuple[str, int, int | None]]:
    """(our module path, 0-based operation index, member index inside a Split or None) of every
    convolution of a branch; mappings use it to spell the libraries' names for the same layers."""
    name, ops = branch
    for i, op in enumerate(ops):
        path = name if len(ops) == 1 else f"{name}.{i}"
        if isinstance(op, Conv):
            yield path, i, None
        elif isinstance(op, Split):
            for m in range(len(op.convs)):
                yield f"{path}.{m}", i, m
