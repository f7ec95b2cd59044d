"""DenseNet (Huang, Liu, van der Maaten, Weinberger 2016), seed 002's table (paper Table 1).

    layers                output   DenseNet-121  -169  -201  -264   (k = 32, 224x224 input)
    convolution           112x112  7x7 conv, stride 2
    pooling               56x56    3x3 max pool, stride 2
    dense block (1)       56x56    [1x1 conv; 3x3 conv] x  6     6     6     6
    transition layer (1)  56x56    1x1 conv
                          28x28    2x2 average pool, stride 2
    dense block (2)       28x28    [1x1 conv; 3x3 conv] x 12    12    12    12
    transition layer (2)  14x14    1x1 conv; 2x2 average pool, stride 2
    dense block (3)       14x14    [1x1 conv; 3x3 conv] x 24    32    48    64
    transition layer (3)  7x7      1x1 conv; 2x2 average pool, stride 2
    dense block (4)       7x7      [1x1 conv; 3x3 conv] x 16    32    32    48
    classification        1x1      7x7 global average pool; 1000D fully-connected, softmax

Every model is a DenseNet-BC (§3): bottleneck layers (the "1x1 conv" of each bracket has 4k
filters, the "3x3 conv" k) and transitions that halve the number of maps (compression 0.5).
The CIFAR DenseNet-BC of Table 2 has three dense blocks of (L - 4) / 6 layers on 32x32, 16x16
and 8x8 maps after a 3x3 convolution with 2k filters. Only L=100, k=12 is registered; Table 2's
larger ones (15.3M and 25.6M parameters, 5 and 9 G mult-adds: each would add seconds to every
test run over the registry) are one override away:

    create_model("densenet_bc_100", growth_rate=TABLE_2_BC[250], block_config=cifar_blocks(250))
    create_model("densenet_bc_100", growth_rate=TABLE_2_BC[190], block_config=cifar_blocks(190))
"""

from __future__ import annotations

import re
from collections import OrderedDict
from functools import partial
from typing import Literal

from torch import Tensor, nn

from ..layers.dense_block import DenseBlock, Transition
from ..registry import register_model
from .base import FeatureInfo, ZooModel, global_pool, he_init
from .card import CIFAR10_MEAN, CIFAR10_STD, ModelCard, Paper, Weights
from .pretrained import StateDict, register_weight_mapping

PAPER = Paper("Densely Connected Convolutional Networks",
              "G. Huang, Z. Liu, L. van der Maaten, K. Q. Weinberger", 2016, "1608.06993")

# Table 1: layers in dense blocks (1)-(4) of the ImageNet DenseNets (growth rate k = 32).
TABLE_1: dict[str, tuple[int, ...]] = {
    "DenseNet-121": (6, 12, 24, 16),
    "DenseNet-169": (6, 12, 32, 32),
    "DenseNet-201": (6, 12, 48, 32),
    "DenseNet-264": (6, 12, 64, 48),
}
# DenseNet-161 (k = 48) is not in the paper; the authors released it with the ImageNet models.
DENSENET_161 = (6, 12, 36, 24)
# Table 2, the CIFAR DenseNet-BC rows: depth L -> growth rate k (0.8M / 15.3M / 25.6M parameters;
# C10+ errors 4.51 / 3.62 / 3.46 %, C100+ 22.27 / 17.60 / 17.18 %).
TABLE_2_BC: dict[int, int] = {100: 12, 250: 24, 190: 40}

Stem = Literal["imagenet", "cifar"]


def cifar_blocks(depth: int) -> tuple[int, int, int]:
    """Layers per block of a CIFAR DenseNet-BC of depth L (§3, "Implementation Details").

    L counts the first convolution, two convolutions per bottleneck layer, the two transition
    convolutions and the classifier: L = 1 + 3 * 2n + 2 + 1, so n = (L - 4) / 6.
    """
    if depth < 10 or (depth - 4) % 6:
        raise ValueError(f"a CIFAR DenseNet-BC has depth 6n + 4 (n >= 1): 10, 16, ..., 100, ...; got {depth}")
    n = (depth - 4) // 6
    return n, n, n


class DenseNet(ZooModel):
    """DenseNet-BC: a stem, dense blocks joined by compressing transitions, BN-ReLU, global pool, FC.

    Faithful to the paper: bottleneck dense layers BN-ReLU-Conv1x1(bn_size * k)-BN-ReLU-Conv3x3(k)
    (bn_size = 4, §3 "Bottleneck layers"); transitions BN-ReLU-Conv1x1(floor(theta m))-AvgPool 2x2/2
    (theta = `compression` = 0.5); the first convolution has 2k filters (7x7/2 followed by 3x3/2
    max pooling on ImageNet, 3x3/1 on CIFAR); dropout after every convolution but the first when
    `drop_rate` > 0 (§4.2: 0.2 on the non-augmented data sets, none on ImageNet); He
    initialisation (fan-out, as the authors' Torch code).

    Deviations from the paper:
    - a BN-ReLU (`norm5`/`relu5`, `norm4`/`relu4` on CIFAR) precedes the global pooling: the
      table does not show it, but the authors' released code and models have it (the dense
      layers are pre-activation, so the last block's output is not normalised otherwise);
    - the pooling is global (any input size >= `min_size` works; the table's is 7x7);
    - no memory-efficient (checkpointed) concatenation: features are concatenated per layer.
    Note: Table 1's DenseNet-264 column has 1 + 2 x 130 + 3 + 1 = 265 weighted layers (the name is
    one off); it is built as the table says.
    Module names are torchvision's, so its weights load by name.
    """

    classifier_path = "classifier"

    def __init__(self, *, num_classes: int = 1000, in_chans: int = 3, growth_rate: int = 32,
                 block_config: tuple[int, ...] = TABLE_1["DenseNet-121"], bn_size: int = 4,
                 compression: float = 0.5, stem: Stem = "imagenet", drop_rate: float = 0.0,
                 se_reduction: int | None = None) -> None:
        super().__init__()
        if growth_rate < 1 or bn_size < 1:
            raise ValueError(f"growth_rate and bn_size must be >= 1, got {growth_rate} and {bn_size}")
        if not block_config or min(block_config) < 1:
            raise ValueError(f"block_config must list at least one block of >= 1 layers, got {block_config}")
        if not 0.0 < compression <= 1.0:
            raise ValueError(f"compression (theta) must be in (0, 1], got {compression}")
        if stem not in ("imagenet", "cifar"):
            raise ValueError(f"stem must be 'imagenet' or 'cifar', got {stem!r}")
        if not 0.0 <= drop_rate < 1.0:
            raise ValueError(f"drop_rate must be in [0, 1), got {drop_rate}")
        self.num_classes, self.in_chans = num_classes, in_chans
        chs = 2 * growth_rate  # §3: the first convolution has 2k output channels
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        infos: list[FeatureInfo] = []
        if stem == "imagenet":
            layers["conv0"] = nn.Conv2d(in_chans, chs, 7, stride=2, padding=3, bias=False)  # (N, 2k, 112, 112)
            layers["norm0"] = nn.BatchNorm2d(chs)
            layers["relu0"] = nn.ReLU(inplace=True)
            infos.append(FeatureInfo("features.relu0", chs, 2))
            layers["pool0"] = nn.MaxPool2d(3, stride=2, padding=1)  # (N, 2k, 56, 56)
            reduction = 4
        else:
            layers["conv0"] = nn.Conv2d(in_chans, chs, 3, padding=1, bias=False)  # (N, 2k, 32, 32)
            reduction = 1
        for i, num_layers in enumerate(block_config, start=1):
            block = DenseBlock(num_layers, chs, growth_rate, bn_size=bn_size, drop_rate=drop_rate,
                               se_reduction=se_reduction)
            layers[f"denseblock{i}"] = block  # (N, chs + num_layers * k, H, W)
            chs = block.out_chs
            if i < len(block_config):
                infos.append(FeatureInfo(f"features.denseblock{i}", chs, reduction))
                out = max(1, int(compression * chs))  # floor(theta * m)
                layers[f"transition{i}"] = Transition(chs, out, drop_rate=drop_rate)  # (N, out, H/2, W/2)
                chs, reduction = out, reduction * 2
        last = len(block_config) + 1
        layers[f"norm{last}"] = nn.BatchNorm2d(chs)
        layers[f"relu{last}"] = nn.ReLU(inplace=True)
        infos.append(FeatureInfo(f"features.relu{last}", chs, reduction))
        self.features = nn.Sequential(layers)  # DenseNet-121 at 224: (N, 1024, 7, 7)
        self.classifier = nn.Linear(chs, num_classes) if num_classes else nn.Identity()
        self.num_features = self.head_hidden_size = chs
        self.feature_info = tuple(infos)
        self._init_weights()

    def _init_weights(self) -> None:
        he_init(self)
        if isinstance(self.classifier, nn.Linear) and not self.classifier.bias.is_meta:
            nn.init.zeros_(self.classifier.bias)

    def forward_features(self, x: Tensor) -> Tensor:  # (N, C, 224, 224) -> (N, F, 7, 7)
        return self.features(x)

    def forward_head(self, x: Tensor, *, pre_logits: bool = False) -> Tensor:
        x = global_pool(x)  # (N, F)
        return x if pre_logits else self.classifier(x)


# torchvision's published files still use the names of its first release ("norm.1", "conv.2").
_LEGACY = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.([12])\.(.*)$")


@register_weight_mapping("densenet121", "densenet161", "densenet169", "densenet201", library="torchvision")
@register_weight_mapping("densenet121", "densenet161", "densenet169", "densenet201", library="timm")
def from_library(state: StateDict) -> StateDict:
    """torchvision's and timm's names are ours; only the legacy `norm.1` -> `norm1` renaming."""
    return {_LEGACY.sub(r"\1\2.\3", k): v for k, v in state.items()}


def _weights(name: str, *timm_tags: str) -> tuple[Weights, ...]:
    return (Weights("torchvision", name, "IMAGENET1K_V1"), *(Weights("timm", name, t) for t in timm_tags))


# The smallest input whose four stride-2 reductions after the stem still leave a 1x1 map.
_IMAGENET = dict(paper=PAPER, min_size=29)
_CIFAR = dict(paper=PAPER, input_size=(3, 32, 32), min_size=4, mean=CIFAR10_MEAN, std=CIFAR10_STD, num_classes=10)

register_model("densenet121", partial(DenseNet, block_config=TABLE_1["DenseNet-121"]), ModelCard(
    **_IMAGENET, top1_err=25.02, top5_err=7.71, weights=_weights("densenet121", "ra_in1k", "tv_in1k"),
    notes="DenseNet-121 (k=32) of Table 1; single-crop errors of Table 3 (10-crop: 23.61 / 6.66)"))
register_model("densenet169", partial(DenseNet, block_config=TABLE_1["DenseNet-169"]), ModelCard(
    **_IMAGENET, top1_err=23.80, top5_err=6.85, weights=_weights("densenet169", "tv_in1k"),
    notes="DenseNet-169 (k=32) of Table 1; single-crop errors of Table 3 (10-crop: 22.08 / 5.92)"))
register_model("densenet201", partial(DenseNet, block_config=TABLE_1["DenseNet-201"]), ModelCard(
    **_IMAGENET, top1_err=22.58, top5_err=6.34, weights=_weights("densenet201", "tv_in1k"),
    notes="DenseNet-201 (k=32) of Table 1; single-crop errors of Table 3 (10-crop: 21.46 / 5.54)"))
register_model("densenet264", partial(DenseNet, block_config=TABLE_1["DenseNet-264"]), ModelCard(
    **_IMAGENET, top1_err=22.15, top5_err=6.12,
    notes="DenseNet-264 (k=32) of Table 1, no library weights (timm's densenet264d has a deep stem); "
          "single-crop errors of Table 3 (10-crop: 20.80 / 5.29)"))
register_model("densenet161", partial(DenseNet, growth_rate=48, block_config=DENSENET_161), ModelCard(
    **_IMAGENET, weights=_weights("densenet161", "tv_in1k"),
    notes="DenseNet-161 (k=48, 96 stem filters): not in the paper, released with its ImageNet models"))
register_model("densenet_bc_100", partial(DenseNet, growth_rate=TABLE_2_BC[100], block_config=cifar_blocks(100),
                                          stem="cifar", num_classes=10), ModelCard(
    **_CIFAR, params=800_000,
    notes="CIFAR DenseNet-BC (L=100, k=12), Table 2: 0.8M parameters; errors C10 5.92, C10+ 4.51, "
          "C100 24.15, C100+ 22.27, SVHN 1.76 (dropout 0.2 without augmentation)"))
