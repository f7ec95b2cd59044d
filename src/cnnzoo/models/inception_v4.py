"""Inception-v4 (Szegedy, Ioffe, Vanhoucke, Alemi 2016, Figs. 3-9).

    stem (Fig. 3)              299x299x3 -> 35x35x384
    4 x Inception-A (Fig. 4)   35x35x384
    Reduction-A (Fig. 7)       -> 17x17x1024   k, l, m, n = 192, 224, 256, 384 (Table 1)
    7 x Inception-B (Fig. 5)   17x17x1024
    Reduction-B (Fig. 8)       -> 8x8x1536
    3 x Inception-C (Fig. 6)   8x8x1536
    average pooling, dropout (keep 0.8), softmax (Fig. 9)

The stem and Reduction-A are shared with Inception-ResNet (models/inception_resnet.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..layers.inception_v3_modules import Conv, Mixed, Pool, Row, Split
from ..registry import register_model
from .card import INCEPTION_MEAN, INCEPTION_STD, ModelCard, Paper, Weights
from .inception_base import InceptionNet
from .inception_v3 import row_layers
from .pretrained import StateDict, register_weight_mapping

PAPER = Paper("Inception-v4, Inception-ResNet and the Impact of Residual Connections on Learning",
              "C. Szegedy, S. Ioffe, V. Vanhoucke, A. Alemi", 2016, "1602.07261")

V = dict(valid=True)  # the figures' "V": valid (unpadded) convolution

# Fig. 3: the stem of Inception-v4 and Inception-ResNet-v2, (N, 3, 299, 299) -> (N, 384, 35, 35)
STEM = (
    Row("Conv2d_1a_3x3", Conv(32, 3, stride=2, **V)),  # (N, 32, 149, 149)
    Row("Conv2d_2a_3x3", Conv(32, 3, **V)),  # (N, 32, 147, 147)
    Row("Conv2d_2b_3x3", Conv(64, 3)),  # (N, 64, 147, 147)
    Row("Mixed_3a", Mixed("figure 3", (  # (N, 160, 73, 73)
        ("maxpool", (Pool("max", stride=2),)),
        ("conv", (Conv(96, 3, stride=2, **V),)),
    ), slot=False)),
    Row("Mixed_4a", Mixed("figure 3", (  # (N, 192, 71, 71)
        ("branch0", (Conv(64), Conv(96, 3, **V))),
        ("branch1", (Conv(64), Conv(64, (1, 7)), Conv(64, (7, 1)), Conv(96, 3, **V))),
    ), slot=False)),
    Row("Mixed_5a", Mixed("figure 3", (  # (N, 384, 35, 35)
        ("conv", (Conv(192, 3, stride=2, **V),)),
        ("maxpool", (Pool("max", stride=2),)),
    ), slot=False)),
)


@dataclass(frozen=True)
class ReductionA:
    """Table 1: the filter counts of Reduction-A (Fig. 7) in each network."""

    k: int  # 1x1 of the double-3x3 branch
    l: int  # noqa: E741  (the paper's name) its first 3x3
    m: int  # its 3x3/2
    n: int  # the single 3x3/2 branch

    def module(self) -> Mixed:  # (N, C, 35, 35) -> (N, C + n + m, 17, 17)
        return Mixed("figure 7", (
            ("branch0", (Conv(self.n, 3, stride=2, **V),)),
            ("branch1", (Conv(self.k), Conv(self.l, 3), Conv(self.m, 3, stride=2, **V))),
            ("branch2", (Pool("max", stride=2),)),
        ))


REDUCTION_A = {  # Table 1
    "inception_v4": ReductionA(k=192, l=224, m=256, n=384),
    "inception_resnet_v1": ReductionA(k=192, l=192, m=256, n=384),
    "inception_resnet_v2": ReductionA(k=256, l=256, m=384, n=384),
}

INCEPTION_A = Mixed("figure 4", (  # 35x35x384
    ("branch0", (Conv(96),)),
    ("branch1", (Conv(64), Conv(96, 3))),
    ("branch2", (Conv(64), Conv(96, 3), Conv(96, 3))),
    ("branch3", (Pool("avg"), Conv(96))),
))
INCEPTION_B = Mixed("figure 5", (  # 17x17x1024
    ("branch0", (Conv(384),)),
    ("branch1", (Conv(192), Conv(224, (1, 7)), Conv(256, (7, 1)))),
    ("branch2", (Conv(192), Conv(192, (7, 1)), Conv(224, (1, 7)), Conv(224, (7, 1)), Conv(256, (1, 7)))),
    ("branch3", (Pool("avg"), Conv(128))),
))
REDUCTION_B = Mixed("figure 8", (  # 17x17x1024 -> 8x8x1536
    ("branch0", (Conv(192), Conv(192, 3, stride=2, **V))),
    ("branch1", (Conv(256), Conv(256, (1, 7)), Conv(320, (7, 1)), Conv(320, 3, stride=2, **V))),
    ("branch2", (Pool("max", stride=2),)),
))
INCEPTION_C = Mixed("figure 6", (  # 8x8x1536
    ("branch0", (Conv(256),)),
    ("branch1", (Conv(384), Split((Conv(256, (1, 3)), Conv(256, (3, 1)))))),
    ("branch2", (Conv(384), Conv(448, (3, 1)), Conv(512, (1, 3)), Split((Conv(256, (1, 3)), Conv(256, (3, 1)))))),
    ("branch3", (Pool("avg"), Conv(256))),
))


def _stack(prefix: str, module: Mixed, n: int) -> tuple[Row, ...]:
    """n copies as rows named prefix + b, c, d... (the TF-slim scopes Mixed_5b, Mixed_5c, ...)."""
    return tuple(Row(f"{prefix}{chr(ord('b') + i)}", module) for i in range(n))


INCEPTION_V4 = (
    *STEM,  # (N, 384, 35, 35)
    *_stack("Mixed_5", INCEPTION_A, 4),  # (N, 384, 35, 35)
    Row("Mixed_6a", REDUCTION_A["inception_v4"].module()),  # (N, 1024, 17, 17)
    *_stack("Mixed_6", INCEPTION_B, 7),  # (N, 1024, 17, 17)
    Row("Mixed_7a", REDUCTION_B),  # (N, 1536, 8, 8)
    *_stack("Mixed_7", INCEPTION_C, 3),  # (N, 1536, 8, 8)
)


class InceptionV4(InceptionNet):
    """Inception-v4 (Fig. 9): the Fig. 3 stem, 4 Inception-A, Reduction-A, 7 Inception-B,
    Reduction-B, 3 Inception-C, average pooling, dropout (keep 0.8), linear classifier.

    Faithful to the paper's figures in every filter count, stride and "V" (valid) padding, batch-norm
    after every convolution (BN epsilon 0.001 as released). Equal to timm's `inception_v4` (the
    authors' TF-slim release), whose weights map one to one.

    Deviations from the paper / choices it leaves open:
    - where a figure stacks a 1x7 and a 7x1 (or 1x3 and 3x1) convolution, their order is the
      released model's (e.g. Inception-B's double branch starts with 7x1, Inception-C's second
      branch is 3x1 448 then 1x3 512); the figures' kernel-orientation convention is ambiguous;
    - the 3x3 average pooling of the modules excludes the zero padding (TF "SAME" pooling, timm);
    - inputs other than 299x299 work down to 75x75 (global average pooling instead of 8x8).

    `se_reduction=r` puts an SE block on every Inception and Reduction module's output.
    """

    def __init__(self, *, num_classes: int = 1000, in_chans: int = 3, drop_rate: float = 0.2,
                 se_reduction: int | None = None) -> None:
        super().__init__(layers=row_layers(INCEPTION_V4, in_chans, se_reduction=se_reduction, count_include_pad=False),
                         num_classes=num_classes, in_chans=in_chans, drop_rate=drop_rate)


# -- weights ---------------------------------------------------------------------------------
# timm keeps the 22 layers in `features` (features.0 ... features.21), names Inception-C's convs
# flat (branch1_0, branch1_1a, branch2_3b, ...) and the classifier `last_linear`.
_SPLIT_NAME = re.compile(r"\.branch(\d)_(\d)([ab]?)\.")


def _split_path(match: re.Match[str]) -> str:
    branch, op, member = match.groups()
    return f".branch{branch}.{op}{'.' + str('ab'.index(member)) if member else ''}."


@register_weight_mapping("inception_v4", library="timm")
def _from_timm(state: StateDict) -> StateDict:
    names = [row.name for row in INCEPTION_V4]
    out = {}
    for key, value in state.items():
        key = re.sub(r"^features\.(\d+)\.", lambda m: names[int(m.group(1))] + ".", key)
        key = _SPLIT_NAME.sub(_split_path, key)
        out[re.sub(r"^last_linear\.", "fc.", key)] = value
    return out


register_model("inception_v4", InceptionV4, ModelCard(
    paper=PAPER, input_size=(3, 299, 299), min_size=75, mean=INCEPTION_MEAN, std=INCEPTION_STD,
    top1_err=20.0, top5_err=5.0, weights=(Weights("timm", "inception_v4", "tf_in1k"),),
    notes="Figs. 3-9 (= timm / TF-slim release); the paper publishes no parameter or mult-add count; "
          "errors: Table 2, single crop"))
