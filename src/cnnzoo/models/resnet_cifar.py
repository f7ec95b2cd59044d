"""The CIFAR-10 ResNets of He et al. 2015 (§4.2, Table 6) and their plain twins.

§4.2: "The first layer is 3x3 convolutions. Then we use a stack of 6n layers with 3x3
convolutions on the feature maps of sizes {32, 16, 8} respectively, with 2n layers for each
feature map size. The numbers of filters are {16, 32, 64} respectively. The subsampling is
performed by convolutions with a stride of 2. The network ends with a global average pooling,
a 10-way fully-connected layer, and softmax. There are totally 6n+2 stacked weighted layers."

    output map size   32x32   16x16   8x8
    # layers          1+2n    2n      2n
    # filters         16      32      64

Shortcuts are identities everywhere, with option A (zero-padding) where the dimensions grow:
the residual networks have exactly the parameters of their plain twins.
"""

from __future__ import annotations

from functools import partial

from ..layers.residual import BasicBlock, BlockDesign, Shortcut
from ..registry import register_model
from .card import ModelCard
from .resnet import PAPER, STEMS, ResidualNetwork, stage_table

CIFAR_WIDTHS = (16, 32, 64)  # filters of the three stages (§4.2)
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)

# Table 6: depth 6n+2 -> (published parameters, CIFAR-10 test error %, best of 5 runs for 110)
TABLE6: dict[int, tuple[int, float]] = {
    20: (270_000, 8.75), 32: (460_000, 7.51), 44: (660_000, 7.17), 56: (850_000, 6.97), 110: (1_700_000, 6.43)}


def cifar_blocks_per_stage(depth: int) -> int:
    """n of the paper's 6n+2 layers (3 stages of n basic blocks of 2 layers, first conv, fc)."""
    if depth < 8 or (depth - 2) % 6:
        raise ValueError(f"CIFAR ResNet depth must be 6n+2 with n >= 1 (20, 32, 44, 56, 110, ...), got {depth}")
    return (depth - 2) // 6


class CifarResNet(ResidualNetwork):
    """He et al. 2015's CIFAR-10 network of 6n+2 layers; `shortcut="none"` is its plain twin.

    3x3 conv (16) -> 3 stages of n basic blocks with 16/32/64 filters (stride 2 in the first
    conv of stages 2 and 3) -> global average pooling -> 10-way fc. BN after every conv, ReLU
    after the addition, option A shortcuts (parameter-free: 1,700,000-parameter ResNet-110).

    Deviations from the paper:
    - option A pads the new channels at the end (the paper does not say where the zeros go);
    - weights are initialised as He et al. [13] (the paper's choice) with PyTorch's fc default;
    - any input size runs (global pooling); `min_size` is the total stride, 4; the paper's is 32x32.
    Skipping blocks at test time (Veit et al. 2016): `model.blocks()[i].skip = True`.
    """

    def __init__(self, *, depth: int, num_classes: int = 10, in_chans: int = 3, shortcut: Shortcut = "A",
                 se_reduction: int | None = None) -> None:
        n = cifar_blocks_per_stage(depth)
        super().__init__(stages=stage_table((n, n, n), CIFAR_WIDTHS), block=BasicBlock, stem=STEMS["cifar"],
                         design=BlockDesign(shortcut=shortcut, se_reduction=se_reduction),
                         num_classes=num_classes, in_chans=in_chans)
        self.depth = depth


_CARD = dict(paper=PAPER, input_size=(3, 32, 32), min_size=4, mean=CIFAR10_MEAN, std=CIFAR10_STD,
             num_classes=10)

for _depth, (_params, _err) in TABLE6.items():
    _best = " best of 5 runs (mean 6.61 +- 0.16)" if _depth == 110 else ""
    register_model(f"resnet{_depth}", partial(CifarResNet, depth=_depth), ModelCard(
        **_CARD, params=_params,
        notes=f"CIFAR-10 ResNet-{_depth} (§4.2, option A shortcuts): {_err}% CIFAR-10 test error (Table 6){_best}"))
    register_model(f"plain{_depth}", partial(CifarResNet, depth=_depth, shortcut="none"), ModelCard(
        **_CARD, params=_params,
        notes=f"CIFAR-10 plain-{_depth}: ResNet-{_depth} without shortcuts, same parameters "
              "(errors only as curves, Fig. 6 left: deeper plain nets train worse)"))

# Shallower members of the family, not in Table 6: small enough to train on a CPU in minutes
# (`cnnzoo experiment degradation` compares depths 8 and 20 by default).
for _depth in (8, 14):
    register_model(f"resnet{_depth}", partial(CifarResNet, depth=_depth), ModelCard(
        **_CARD, notes=f"CIFAR-10 ResNet-{_depth} (§4.2's 6n+2 design with n={(_depth - 2) // 6}; not in Table 6)"))
    register_model(f"plain{_depth}", partial(CifarResNet, depth=_depth, shortcut="none"), ModelCard(
        **_CARD, notes=f"CIFAR-10 plain-{_depth}: ResNet-{_depth} without shortcuts (not in the paper)"))
