"""Inception-ResNet-v1 and -v2 (Szegedy, Ioffe, Vanhoucke, Alemi 2016, Fig. 15) and SE-Inception-ResNet-v2.

    Inception-ResNet-v1                           Inception-ResNet-v2
    stem (Fig. 14)       -> 35x35x256             stem (Fig. 3)        -> 35x35x384
    5 x IR-A (Fig. 10)      35x35x256             5 x IR-A (Fig. 16)      35x35x384
    Reduction-A (Fig. 7) -> 17x17x896             Reduction-A (Fig. 7) -> 17x17x1152
      k, l, m, n = 192, 192, 256, 384 (Table 1)     k, l, m, n = 256, 256, 384, 384
    10 x IR-B (Fig. 11)     17x17x896             10 x IR-B (Fig. 17)     17x17x1152 (figure: 1154)
    Reduction-B (Fig. 12)-> 8x8x1792              Reduction-B (Fig. 18)-> 8x8x2144 (figure: 2146)
    5 x IR-C (Fig. 13)      8x8x1792              5 x IR-C (Fig. 19)      8x8x2144 (figure: 2048)
    average pooling, dropout (keep 0.8), softmax

`inception_resnet_v2_timm` is the network the authors released (TF-slim) and timm ports: another
stem and widths (35x35x320, 17x17x1088, 8x8x2080), 10/20/10 blocks and a final 1x1 conv to 1536.
"""

from __future__ import annotations

import re
from functools import partial

from ..layers.inception_v3_modules import Conv, Mixed, Pool, Repeat, Residual, Row
from ..registry import register_model
from .card import INCEPTION_MEAN, INCEPTION_STD, ModelCard, Weights
from .inception_base import InceptionNet
from .inception_v3 import SE_PAPER, row_layers
from .inception_v4 import PAPER, REDUCTION_A, STEM, V
from .pretrained import StateDict, register_weight_mapping

# §3.3: "scaling down the residuals before adding them ... scaling factors between 0.1 and 0.3".
# The values of the authors' release (timm's inception_resnet_v2), used for every variant here.
SCALE_A, SCALE_B, SCALE_C = 0.17, 0.10, 0.20


def reduction_b(figure: str, b0: int, b1: int, b2: tuple[int, int]) -> Mixed:
    """Reduction-B of Inception-ResNet (17x17 -> 8x8): three 1x1 256 -> 3x3/2 branches and max pooling."""
    return Mixed(figure, (
        ("branch0", (Conv(256), Conv(b0, 3, stride=2, **V))),
        ("branch1", (Conv(256), Conv(b1, 3, stride=2, **V))),
        ("branch2", (Conv(256), Conv(b2[0], 3), Conv(b2[1], 3, stride=2, **V))),
        ("branch3", (Pool("max", stride=2),)),
    ))


def block_a(figure: str, w1: int, w2: int) -> Residual:
    """Inception-ResNet-A (35x35): 1x1 32 | 1x1 32 -> 3x3 32 | 1x1 32 -> 3x3 w1 -> 3x3 w2."""
    return Residual(figure, (
        ("branch0", (Conv(32),)),
        ("branch1", (Conv(32), Conv(32, 3))),
        ("branch2", (Conv(32), Conv(w1, 3), Conv(w2, 3))),
    ), SCALE_A)


def block_bc(figure: str, b0: int, b1: tuple[int, int, int], k: int, scale: float, *, act: bool = True) -> Residual:
    """Inception-ResNet-B / -C: 1x1 b0 | 1x1 -> 1xk -> kx1 (k = 7 on the 17x17 grid, 3 on 8x8)."""
    return Residual(figure, (
        ("branch0", (Conv(b0),)),
        ("branch1", (Conv(b1[0]), Conv(b1[1], (1, k)), Conv(b1[2], (k, 1)))),
    ), scale, act)


STEM_V1 = (  # Fig. 14: (N, 3, 299, 299) -> (N, 256, 35, 35)
    Row("Conv2d_1a_3x3", Conv(32, 3, stride=2, **V)),  # (N, 32, 149, 149)
    Row("Conv2d_2a_3x3", Conv(32, 3, **V)),  # (N, 32, 147, 147)
    Row("Conv2d_2b_3x3", Conv(64, 3)),  # (N, 64, 147, 147)
    Row("MaxPool_3a_3x3", Pool("max", stride=2)),  # (N, 64, 73, 73)
    Row("Conv2d_3b_1x1", Conv(80, 1)),  # (N, 80, 73, 73)
    Row("Conv2d_4a_3x3", Conv(192, 3, **V)),  # (N, 192, 71, 71)
    Row("Conv2d_4b_3x3", Conv(256, 3, stride=2, **V)),  # (N, 256, 35, 35)
)

def figure_15(stem: tuple[Row, ...], a: Residual, red_a: Mixed, b: Residual, red_b: Mixed,
              c: Residual) -> tuple[Row, ...]:
    """Fig. 15, the schema of both networks: stem, 5 x A, Reduction-A, 10 x B, Reduction-B, 5 x C."""
    return (*stem, Row("blocks_a", Repeat(a, 5)), Row("reduction_a", red_a), Row("blocks_b", Repeat(b, 10)),
            Row("reduction_b", red_b), Row("blocks_c", Repeat(c, 5)))


INCEPTION_RESNET_V1 = figure_15(
    STEM_V1,  # (N, 256, 35, 35)
    block_a("figure 10", 32, 32),  # (N, 256, 35, 35)
    REDUCTION_A["inception_resnet_v1"].module(),  # (N, 896, 17, 17)
    block_bc("figure 11", 128, (128, 128, 128), 7, SCALE_B),  # (N, 896, 17, 17)
    reduction_b("figure 12", 384, 256, (256, 256)),  # (N, 1792, 8, 8)
    block_bc("figure 13", 192, (192, 192, 192), 3, SCALE_C),  # (N, 1792, 8, 8)
)

INCEPTION_RESNET_V2 = figure_15(
    STEM,  # Fig. 3, (N, 384, 35, 35)
    block_a("figure 16", 48, 64),  # (N, 384, 35, 35)
    REDUCTION_A["inception_resnet_v2"].module(),  # (N, 1152, 17, 17)
    block_bc("figure 17", 192, (128, 160, 192), 7, SCALE_B),  # (N, 1152, 17, 17)
    reduction_b("figure 18", 384, 288, (288, 320)),  # (N, 2144, 8, 8)
    block_bc("figure 19", 192, (192, 224, 256), 3, SCALE_C),  # (N, 2144, 8, 8)
)

# The released Inception-ResNet-v2 (TF-slim; timm's module names).
INCEPTION_RESNET_V2_TIMM = (
    Row("conv2d_1a", Conv(32, 3, stride=2, **V)),  # (N, 32, 149, 149)
    Row("conv2d_2a", Conv(32, 3, **V)),  # (N, 32, 147, 147)
    Row("conv2d_2b", Conv(64, 3)),  # (N, 64, 147, 147)
    Row("maxpool_3a", Pool("max", stride=2)),  # (N, 64, 73, 73)
    Row("conv2d_3b", Conv(80, 1)),  # (N, 80, 73, 73)
    Row("conv2d_4a", Conv(192, 3, **V)),  # (N, 192, 71, 71)
    Row("maxpool_5a", Pool("max", stride=2)),  # (N, 192, 35, 35)
    Row("mixed_5b", Mixed("Inception v3 figure 5", (  # (N, 320, 35, 35)
        ("branch0", (Conv(96),)),
        ("branch1", (Conv(48), Conv(64, 5))),
        ("branch2", (Conv(64), Conv(96, 3), Conv(96, 3))),
        ("branch3", (Pool("avg"), Conv(64))),
    ))),
    Row("repeat", Repeat(block_a("figure 16", 48, 64), 10)),  # (N, 320, 35, 35)
    Row("mixed_6a", REDUCTION_A["inception_resnet_v2"].module()),  # (N, 1088, 17, 17)
    Row("repeat_1", Repeat(block_bc("figure 17", 192, (128, 160, 192), 7, SCALE_B), 20)),  # (N, 1088, 17, 17)
    Row("mixed_7a", reduction_b("figure 18", 384, 288, (288, 320))),  # (N, 2080, 8, 8)
    Row("repeat_2", Repeat(block_bc("figure 19", 192, (192, 224, 256), 3, SCALE_C), 9)),  # (N, 2080, 8, 8)
    Row("block8", block_bc("figure 19", 192, (192, 224, 256), 3, 1.0, act=False)),  # unscaled, no ReLU
    Row("conv2d_7b", Conv(1536, 1)),  # (N, 1536, 8, 8)
)


class InceptionResNet(InceptionNet):
    """Inception-ResNet (Fig. 15): a stem, 5 Inception-ResNet-A, Reduction-A, 10 Inception-ResNet-B,
    Reduction-B, 5 Inception-ResNet-C, average pooling, dropout (keep 0.8), linear classifier.

    Each residual block: branches of conv-BN-ReLU, concatenated, a linear 1x1 convolution (bias, no
    BN) back to the input width, scaled (§3.3) and added to the input, then ReLU. Batch-norm is
    on the traditional layers only, not on the summations (§3.2).

    Deviations from the paper / choices it leaves open:
    - residual scales 0.17 (A), 0.10 (B), 0.20 (C), the released model's; §3.3 says 0.1-0.3;
    - Inception-ResNet-v2's figures are inconsistent: Fig. 17 expands to 1154 channels but its
      input (Reduction-A: 384 + 384 + 384) has 1152, Fig. 19 expands to 2048 but its input
      (Reduction-B: 1152 + 384 + 288 + 320) has 2144. A residual sum needs equal widths, so the
      1x1 convolutions expand to 1152 and 2144;
    - 3x3 average pooling excludes the zero padding (TF "SAME" pooling, timm); BN epsilon 0.001;
    - inputs other than 299x299 work down to 75x75.

    §3.1 puts Inception-ResNet-v1 at "roughly the computational cost of Inception-v3" (here 6.21e9
    against 5.71e9 mult-adds) and v2 at "the raw cost of Inception-v4" (12.25e9); the v2 of the
    figures, 5/10/5 blocks, counts 9.26e9, the released one (10/20/10 blocks) 13.16e9.

    `rows` picks the network (`INCEPTION_RESNET_V1`, `INCEPTION_RESNET_V2`, or the released
    `INCEPTION_RESNET_V2_TIMM` with its own stem, 10/20/10 blocks, an unscaled last block without
    ReLU and a 1x1 conv to 1536). `se_reduction=r` puts an SE block on the residual branch of every
    block (before the addition) and on every Inception / Reduction module's output.
    """

    def __init__(self, *, rows: tuple[Row, ...] = INCEPTION_RESNET_V2, num_classes: int = 1000, in_chans: int = 3,
                 drop_rate: float = 0.2, se_reduction: int | None = None) -> None:
        super().__init__(layers=row_layers(rows, in_chans, se_reduction=se_reduction, count_include_pad=False),
                         num_classes=num_classes, in_chans=in_chans, drop_rate=drop_rate)


@register_weight_mapping("inception_resnet_v2_timm", library="timm")
def _from_timm(state: StateDict) -> StateDict:
    """timm's names are ours but for the residual 1x1 convs (`conv2d` -> `expand`) and `classif` -> `fc`."""
    return {re.sub(r"^classif\.", "fc.", re.sub(r"\.conv2d\.", ".expand.", k)): v for k, v in state.items()}


_CARD = dict(input_size=(3, 299, 299), min_size=75, mean=INCEPTION_MEAN, std=INCEPTION_STD)

register_model("inception_resnet_v1", partial(InceptionResNet, rows=INCEPTION_RESNET_V1), ModelCard(
    paper=PAPER, **_CARD, top1_err=21.3, top5_err=5.5,
    notes="Figs. 10-15, Table 1; no library version; the paper publishes no parameter or mult-add count; "
          "errors: Table 2, single crop"))
register_model("inception_resnet_v2", partial(InceptionResNet, rows=INCEPTION_RESNET_V2), ModelCard(
    paper=PAPER, **_CARD, top1_err=19.9, top5_err=4.9,
    notes="Figs. 3, 7, 15-19 with the v2 widths made consistent (1152, 2144); no published weights; "
          "errors: Table 2, single crop"))
register_model("inception_resnet_v2_timm", partial(InceptionResNet, rows=INCEPTION_RESNET_V2_TIMM), ModelCard(
    paper=PAPER, **_CARD, top1_err=19.9, top5_err=4.9,
    weights=(Weights("timm", "inception_resnet_v2", "tf_in1k"),),
    notes="the authors' released IR-v2 (timm): v3-like stem, widths 320/1088/2080, 10/20/10 blocks, "
          "1x1 conv to 1536; errors: the paper's IR-v2 (Table 2)"))
register_model("se_inception_resnet_v2", partial(InceptionResNet, rows=INCEPTION_RESNET_V2, se_reduction=16), ModelCard(
    paper=SE_PAPER, **_CARD, mult_adds=11.76e9, top1_err=19.80, top5_err=4.79,
    notes="inception_resnet_v2 with SE blocks (r = 16) on every residual branch and module output; "
          "SE paper Table 2 (single crop; its IR-v2 re-implementation's layout is not given: 11.76 G vs 9.26 G here)"))
