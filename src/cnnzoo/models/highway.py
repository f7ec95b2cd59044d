"""Highway networks (Srivastava, Greff, Schmidhuber 2015, "Training Very Deep Networks"; seed 003
"Что ещё?"): deep plain stacks whose layers carry their input through a learned gate,
y = H(x) T(x) + x (1 - T(x)) (`layers.highway`), the precursor of ResNet's identity shortcuts.

The CIFAR-10 networks of §4.1 are convolutional: 3x3 highway layers in stages of equal width,
max pooling between the stages, global pooling and a softmax layer. Written as data below.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from torch import Tensor, nn

from ..layers.attention import attention
from ..layers.highway import HighwayConv2d
from ..registry import register_model
from .base import FeatureInfo, ZooModel, check_common_args, global_pool
from .card import CIFAR10_MEAN, CIFAR10_STD, ModelCard, Paper

PAPER = Paper("Training Very Deep Networks", "R. K. Srivastava, K. Greff, J. Schmidhuber", 2015, "1507.06228")


@dataclass(frozen=True)
class Stage:
    width: int  # channels of the stage (a 1x1 convolution changes the width on entry)
    layers: int  # highway layers in the stage


# 1 stem conv + 3 x (1x1 width change + 5 highway) + fc = 20 weighted layers (the paper's 19-layer
# network counts no width changes; its exact widths are in its supplement, not reproduced here)
HIGHWAY_CIFAR = (Stage(32, 5), Stage(64, 5), Stage(128, 5))


class HighwayNet(ZooModel):
    """A convolutional highway network: 3x3 conv stem -> stages of `HighwayConv2d` layers (a 1x1
    conv + BN + ReLU sets each stage's width, 2x2 max pooling between stages) -> global average
    pooling -> fc. Transform-gate biases start at -1 (§2.2).

    Deviations from the paper:
    - batch norm inside H (the paper predates its general use in such stacks);
    - the widths are ours (the paper's CIFAR widths follow FitNets [Romero et al.]);
    - global average pooling before one fc (any input size runs).
    The SE slot follows each stage.
    """

    classifier_path = "fc"

    def __init__(self, *, stages: tuple[Stage, ...] = HIGHWAY_CIFAR, num_classes: int = 10, in_chans: int = 3,
                 gate_bias: float = -1.0, drop_rate: float = 0.0, se_reduction: int | None = None) -> None:
        super().__init__()
        check_common_args(num_classes=num_classes, in_chans=in_chans, drop_rate=drop_rate)
        first = stages[0].width
        self.stem = nn.Sequential(nn.Conv2d(in_chans, first, 3, padding=1, bias=False), nn.BatchNorm2d(first),
                                  nn.ReLU(inplace=True))  # (N, w0, H, W)
        self.stages = nn.Sequential()
        infos, chs, reduction = [], first, 1
        for i, st in enumerate(stages):
            layers: list[nn.Module] = [nn.MaxPool2d(2)] if i else []
            reduction *= 2 if i else 1
            if st.width != chs:
                layers += [nn.Conv2d(chs, st.width, 1, bias=False), nn.BatchNorm2d(st.width), nn.ReLU(inplace=True)]
            layers += [HighwayConv2d(st.width, gate_bias=gate_bias) for _ in range(st.layers)]
            layers.append(attention(st.width, se_reduction))
            self.stages.append(nn.Sequential(*layers))  # (N, width, H / 2^i, W / 2^i)
            infos.append(FeatureInfo(f"stages.{i}", st.width, reduction))
            chs = st.width
        self.drop = nn.Dropout(drop_rate)
        self.fc = nn.Linear(chs, num_classes)
        self.num_classes, self.in_chans = num_classes, in_chans
        self.num_features = self.head_hidden_size = chs
        self.feature_info = tuple(infos)

    def forward_features(self, x: Tensor) -> Tensor:  # (N, C, H, W) -> (N, 128, H/4, W/4)
        return self.stages(self.stem(x))

    def forward_head(self, x: Tensor, *, pre_logits: bool = False) -> Tensor:
        x = self.drop(global_pool(x))  # (N, 128)
        return x if pre_logits else self.fc(x)

    def gates(self) -> list[Tensor]:
        """The transform-gate biases of every highway layer (to watch them move from -1)."""
        return [m.gate.bias for m in self.modules() if isinstance(m, HighwayConv2d)]


register_model("highway_cifar", partial(HighwayNet), ModelCard(
    paper=PAPER, input_size=(3, 32, 32), min_size=4, mean=CIFAR10_MEAN, std=CIFAR10_STD, num_classes=10,
    notes="convolutional highway network for CIFAR-10 (§4.1): 3 stages of 5 gated 3x3 layers, 32/64/128 "
          "channels; gate biases start at -1"))

__all__ = ["HIGHWAY_CIFAR", "HighwayNet", "Stage"]
