"""MobileNet v1 (Howard, Zhu, Chen, Kalenichenko, Wang, Weyand, Andreetto, Adam 2017), seed 002's table (Table 1).

    type / stride   filter shape          input size
    Conv / s2       3x3x3x32              224x224x3
    Conv dw / s1    3x3x32 dw             112x112x32
    Conv / s1       1x1x32x64             112x112x32
    Conv dw / s2    3x3x64 dw             112x112x64
    Conv / s1       1x1x64x128            56x56x64
    Conv dw / s1    3x3x128 dw            56x56x128
    Conv / s1       1x1x128x128           56x56x128
    Conv dw / s2    3x3x128 dw            56x56x128
    Conv / s1       1x1x128x256           28x28x128
    Conv dw / s1    3x3x256 dw            28x28x256
    Conv / s1       1x1x256x256           28x28x256
    Conv dw / s2    3x3x256 dw            28x28x256
    Conv / s1       1x1x256x512           14x14x256
    5x Conv dw / s1 3x3x512 dw            14x14x512
       Conv / s1    1x1x512x512           14x14x512
    Conv dw / s2    3x3x512 dw            14x14x512
    Conv / s1       1x1x512x1024          7x7x512
    Conv dw / s2    3x3x1024 dw           7x7x1024     (stride 1 in fact: see `MobileNetV1`)
    Conv / s1       1x1x1024x1024         7x7x1024
    Avg Pool / s1   Pool 7x7              7x7x1024
    FC / s1         1024x1000             1x1x1024
    Softmax / s1    Classifier            1x1x1000

Totals at width multiplier 1.0 and 224x224: 4.2M parameters, 569M mult-adds (Table 8).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial
from typing import Literal

from torch import Tensor, nn

from ..layers.depthwise import DepthwiseSeparable, TableConv
from ..registry import register_model
from .base import FeatureInfo, ZooModel, global_pool
from .card import INCEPTION_MEAN, INCEPTION_STD, ModelCard, Paper, Weights
from .pretrained import StateDict, register_weight_mapping

PAPER = Paper("MobileNets: Efficient Convolutional Neural Networks for Mobile Vision Applications",
              "A. G. Howard, M. Zhu, B. Chen, D. Kalenichenko, W. Wang, T. Weyand, M. Andreetto, H. Adam",
              2017, "1704.04861")


@dataclass(frozen=True)
class Separable:
    """A "Conv dw / s<stride>" row and the "Conv / s1" 1x1 row after it, `repeat` times (the table's "5x")."""

    stride: int  # of the 3x3 depthwise convolution
    filters: int  # output channels of the 1x1 pointwise convolution at width multiplier 1
    repeat: int = 1


STEM_FILTERS, STEM_STRIDE = 32, 2  # Table 1, first row: Conv / s2, 3x3x3x32
TABLE_1: tuple[Separable, ...] = (
    Separable(1, 64),
    Separable(2, 128),
    Separable(1, 128),
    Separable(2, 256),
    Separable(1, 256),
    Separable(2, 512),
    Separable(1, 512, repeat=5),
    Separable(2, 1024),
    Separable(1, 1024),  # the table's "Conv dw / s2" on a 7x7 map whose output is 7x7: a typo for s1
)
HEAD_FEATURES = 1024  # "Avg Pool / s1, Pool 7x7" on 7x7x1024, then "FC / s1, 1024x1000"

Activation = Literal["relu", "relu6"]
_ACTIVATIONS = {"relu": nn.ReLU, "relu6": nn.ReLU6}


def scale_width(filters: int, width_mult: float, min_filters: int = 8) -> int:
    """alpha * filters, truncated, at least 8 (§4.2; the authors' TF-slim `depth` rule)."""
    return max(min_filters, int(filters * width_mult))


class MobileNetV1(ZooModel):
    """MobileNet v1: a 3x3/2 convolution, 13 depthwise separable convolutions, global pool, FC.

    Faithful to the paper: every convolution, depthwise and pointwise, is followed by BN and
    ReLU (Fig. 3); downsampling by stride-2 depthwise convolutions; the width multiplier alpha
    (`width_mult`, §4.2) thins every layer, the first included (alpha * M, truncated, at least 8
    channels, as the authors' code); any input resolution (the resolution multiplier rho of
    §4.3 is just the input size: 224, 192, 160, 128 in Table 7).

    Deviations from the paper:
    - the second-to-last depthwise convolution has stride 1: Table 1 prints "Conv dw / s2" but
      its input and the next row's are both 7x7, and 569M mult-adds need stride 1;
    - the pooling is global (the table's is 7x7), so any input size works;
    - `activation="relu6"` (the authors' TF-slim release and timm) is offered besides the
      paper's ReLU: `mobilenet_v1_timm`.
    Stages (`blocks.<i>`) end where the next stride-2 row starts, as timm's.
    """

    classifier_path = "classifier"

    def __init__(self, *, num_classes: int = 1000, in_chans: int = 3, width_mult: float = 1.0,
                 activation: Activation = "relu", se_reduction: int | None = None) -> None:
        super().__init__()
        if not width_mult > 0:
            raise ValueError(f"width_mult (alpha) must be > 0, got {width_mult}")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
        act = _ACTIVATIONS[activation]
        self.num_classes, self.in_chans = num_classes, in_chans
        chs = scale_width(STEM_FILTERS, width_mult)
        self.stem = TableConv(in_chans, chs, 3, stride=STEM_STRIDE, act=act)  # (N, 32a, 112, 112)
        reduction = STEM_STRIDE
        stages: list[list[nn.Module]] = []
        infos: list[FeatureInfo] = []
        for row in TABLE_1:
            for i in range(row.repeat):
                stride = row.stride if i == 0 else 1
                if stride > 1 or not stages:  # a stride-2 row starts a new stage
                    if stages:
                        infos.append(FeatureInfo(f"blocks.{len(stages) - 1}", chs, reduction))
                    stages.append([])
                    reduction *= stride
                out = scale_width(row.filters, width_mult)
                stages[-1].append(DepthwiseSeparable(chs, out, stride=stride, act=act, se_reduction=se_reduction))
                chs = out
        infos.append(FeatureInfo(f"blocks.{len(stages) - 1}", chs, reduction))
        self.blocks = nn.Sequential(*(nn.Sequential(*stage) for stage in stages))  # (N, 1024a, 7, 7)
        self.classifier = nn.Linear(chs, num_classes) if num_classes else nn.Identity()
        self.num_features = self.head_hidden_size = chs
        self.feature_info = tuple(infos)
        self.width_mult = width_mult

    def forward_features(self, x: Tensor) -> Tensor:  # (N, C, 224, 224) -> (N, 1024a, 7, 7)
        return self.blocks(self.stem(x))

    def forward_head(self, x: Tensor, *, pre_logits: bool = False) -> Tensor:
        x = global_pool(x)  # Avg Pool: (N, 1024a)
        return x if pre_logits else self.classifier(x)  # FC: (N, classes)


# timm's EfficientNet-style names -> ours: conv_stem/bn1 -> stem, conv_dw/bn1 -> dw, conv_pw/bn2 -> pw.
_TIMM_RENAMES = (
    (re.compile(r"^conv_stem\."), "stem.conv."),
    (re.compile(r"^bn1\."), "stem.bn."),
    (re.compile(r"^(blocks\.\d+\.\d+)\.conv_dw\."), r"\1.dw.conv."),
    (re.compile(r"^(blocks\.\d+\.\d+)\.bn1\."), r"\1.dw.bn."),
    (re.compile(r"^(blocks\.\d+\.\d+)\.conv_pw\."), r"\1.pw.conv."),
    (re.compile(r"^(blocks\.\d+\.\d+)\.bn2\."), r"\1.pw.bn."),
)


@register_weight_mapping("mobilenet_v1_timm", library="timm")
def from_timm(state: StateDict) -> StateDict:
    def rename(key: str) -> str:
        for pattern, repl in _TIMM_RENAMES:
            key, n = pattern.subn(repl, key)
            if n:
                break
        return key

    return {rename(k): v for k, v in state.items()}


# min_size 1: 3x3 convolutions padded by 1 with stride 2 map 1x1 to 1x1.
_CARD = dict(paper=PAPER, min_size=1)

register_model("mobilenet_v1", MobileNetV1, ModelCard(
    **_CARD, params=4_200_000, mult_adds=569e6, top1_err=29.4,
    notes="1.0 MobileNet-224 (Tables 1, 6, 8: 70.6% top-1; 192/160/128 inputs: 418M/290M/186M mult-adds, "
          "69.1/67.2/64.4% top-1, Table 7)"))
register_model("mobilenet_v1_075", partial(MobileNetV1, width_mult=0.75), ModelCard(
    **_CARD, params=2_600_000, mult_adds=325e6, top1_err=31.6, notes="0.75 MobileNet-224 (Table 6)"))
register_model("mobilenet_v1_050", partial(MobileNetV1, width_mult=0.5), ModelCard(
    **_CARD, params=1_300_000, mult_adds=149e6, top1_err=36.3, notes="0.5 MobileNet-224 (Table 6)"))
register_model("mobilenet_v1_025", partial(MobileNetV1, width_mult=0.25), ModelCard(
    **_CARD, params=500_000, mult_adds=41e6, top1_err=49.4, notes="0.25 MobileNet-224 (Table 6)"))
register_model("mobilenet_v1_timm", partial(MobileNetV1, activation="relu6"), ModelCard(
    **_CARD, mean=INCEPTION_MEAN, std=INCEPTION_STD,
    weights=(Weights("timm", "mobilenetv1_100", "ra4_e3600_r224_in1k"),),
    notes="timm's mobilenetv1_100: the paper's 1.0 MobileNet-224 with ReLU6 (as the authors' TF-slim code) "
          "instead of ReLU; same 4,231,976 parameters"))
