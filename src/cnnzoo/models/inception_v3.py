"""Inception v3 (Szegedy, Vanhoucke, Ioffe, Shlens, Wojna 2015) and SE-Inception-v3 (Hu et al. 2017).

Table 1 of the paper, as the authors released it (TF-slim `inception_v3`, = torchvision's layout):

    type                 patch size/stride or remarks   input size   here
    conv                 3x3/2                          299x299x3    Conv2d_1a_3x3  32
    conv                 3x3/1                          149x149x32   Conv2d_2a_3x3  32
    conv padded          3x3/1                          147x147x32   Conv2d_2b_3x3  64
    pool                 3x3/2                          147x147x64   maxpool1
    conv                 3x3/1                          73x73x64     Conv2d_3b_1x1  80 (1x1 as released)
    conv                 3x3/2                          71x71x80     Conv2d_4a_3x3 192 (3x3/1 V as released)
    conv                 3x3/1                          35x35x192    maxpool2 (3x3/2 as released)
    3 x Inception        as in figure 5                 35x35x288    Mixed_5b..5d
    5 x Inception        as in figure 6                 17x17x768    Mixed_6a (figure 10 reduction) + 6b..6e
    2 x Inception        as in figure 7                 8x8x1280     Mixed_7a (reduction) + 7b, 7c
    pool                 8x8                            8x8x2048     global average pooling
    linear               logits                         1x1x2048     fc
    softmax              classifier                     1x1x1000

The auxiliary classifier (§7, Fig. 8) sits on the last 17x17 map (Mixed_6e).
"""

from __future__ import annotations

from functools import partial

from ..layers.inception_aux import INCEPTION_V3_AUX
from ..layers.inception_v3_modules import BuildOptions, Conv, Mixed, Pool, Row, Split, build_rows, conv_paths
from ..registry import register_model
from .card import INCEPTION_MEAN, INCEPTION_STD, ModelCard, Paper, Weights
from .inception_base import AuxHeads, InceptionNet, Layer
from .pretrained import StateDict, register_weight_mapping

PAPER = Paper("Rethinking the Inception Architecture for Computer Vision",
              "C. Szegedy, V. Vanhoucke, S. Ioffe, J. Shlens, Z. Wojna", 2015, "1512.00567")
SE_PAPER = Paper("Squeeze-and-Excitation Networks", "J. Hu, L. Shen, G. Sun", 2017, "1709.01507")

# The auxiliary classifier (§7: "on top of the last 17x17 layer", BN-auxiliary) and its loss
# weight: the paper gives none; the authors' released training script (TF-slim
# train_image_classifier.py) weighs the AuxLogits loss by 0.4.
AUX = AuxHeads((("AuxLogits", "Mixed_6e"),), INCEPTION_V3_AUX, weight=0.4)


def fig5(pool_proj: int) -> Mixed:
    """35x35 module (Fig. 5), as released: a 5x5 branch beside the two-3x3 branch."""
    return Mixed("figure 5", (
        ("branch1x1", (Conv(64),)),
        ("branch5x5", (Conv(48), Conv(64, 5))),
        ("branch3x3dbl", (Conv(64), Conv(96, 3), Conv(96, 3))),
        ("branch_pool", (Pool("avg"), Conv(pool_proj))),
    ))


def fig6(c7: int) -> Mixed:
    """17x17 module (Fig. 6): n x n factorised into 1 x n and n x 1 with n = 7 (§3.2)."""
    return Mixed("figure 6", (
        ("branch1x1", (Conv(192),)),
        ("branch7x7", (Conv(c7), Conv(c7, (1, 7)), Conv(192, (7, 1)))),
        ("branch7x7dbl", (Conv(c7), Conv(c7, (7, 1)), Conv(c7, (1, 7)), Conv(c7, (7, 1)), Conv(192, (1, 7)))),
        ("branch_pool", (Pool("avg"), Conv(192))),
    ))


FIG7 = Mixed("figure 7", (  # 8x8 module with expanded filter banks (Fig. 7)
    ("branch1x1", (Conv(320),)),
    ("branch3x3", (Conv(384), Split((Conv(384, (1, 3)), Conv(384, (3, 1)))))),
    ("branch3x3dbl", (Conv(448), Conv(384, 3), Split((Conv(384, (1, 3)), Conv(384, (3, 1)))))),
    ("branch_pool", (Pool("avg"), Conv(192))),
))

REDUCTION_35 = Mixed("figure 10", (  # 35x35x288 -> 17x17x768 (§6, Fig. 10)
    ("branch3x3", (Conv(384, 3, stride=2, valid=True),)),
    ("branch3x3dbl", (Conv(64), Conv(96, 3), Conv(96, 3, stride=2, valid=True))),
    ("branch_pool", (Pool("max", stride=2),)),
))

REDUCTION_17 = Mixed("figure 10", (  # 17x17x768 -> 8x8x1280
    ("branch3x3", (Conv(192), Conv(320, 3, stride=2, valid=True))),
    ("branch7x7x3", (Conv(192), Conv(192, (1, 7)), Conv(192, (7, 1)), Conv(192, 3, stride=2, valid=True))),
    ("branch_pool", (Pool("max", stride=2),)),
))

INCEPTION_V3 = (
    Row("Conv2d_1a_3x3", Conv(32, 3, stride=2, valid=True)),  # (N, 32, 149, 149)
    Row("Conv2d_2a_3x3", Conv(32, 3, valid=True)),  # (N, 32, 147, 147)
    Row("Conv2d_2b_3x3", Conv(64, 3)),  # (N, 64, 147, 147)
    Row("maxpool1", Pool("max", stride=2)),  # (N, 64, 73, 73)
    Row("Conv2d_3b_1x1", Conv(80, 1)),  # (N, 80, 73, 73)
    Row("Conv2d_4a_3x3", Conv(192, 3, valid=True)),  # (N, 192, 71, 71)
    Row("maxpool2", Pool("max", stride=2)),  # (N, 192, 35, 35)
    Row("Mixed_5b", fig5(32)),  # (N, 256, 35, 35)
    Row("Mixed_5c", fig5(64)),  # (N, 288, 35, 35)
    Row("Mixed_5d", fig5(64)),  # (N, 288, 35, 35)
    Row("Mixed_6a", REDUCTION_35),  # (N, 768, 17, 17)
    Row("Mixed_6b", fig6(128)),
    Row("Mixed_6c", fig6(160)),
    Row("Mixed_6d", fig6(160)),
    Row("Mixed_6e", fig6(192)),  # (N, 768, 17, 17) -> auxiliary classifier
    Row("Mixed_7a", REDUCTION_17),  # (N, 1280, 8, 8)
    Row("Mixed_7b", FIG7),  # (N, 2048, 8, 8)
    Row("Mixed_7c", FIG7),  # (N, 2048, 8, 8)
)


def row_layers(rows: tuple[Row, ...], in_chans: int, *, se_reduction: int | None, count_include_pad: bool,
               eps: float = 1e-3) -> list[Layer]:
    """A table of `Row`s (layers/inception_v3_modules.py) as the named layers of an `InceptionNet`;
    Inception v3, v4 and Inception-ResNet are built from it."""
    if se_reduction is not None and se_reduction < 1:
        raise ValueError(f"se_reduction must be >= 1 (or None for no SE blocks), got {se_reduction}")
    return build_rows(rows, in_chans, BuildOptions(eps, count_include_pad, se_reduction))


class InceptionV3(InceptionNet):
    """Inception v3: the network of Table 1, the last row of Table 3 ("Inception-v2 BN-auxiliary").

    Faithful to the paper in: the Table 1 grids (299 -> 35x35x288 -> 17x17x768 -> 8x8x2048), the
    factorised 35x35 (Fig. 5), 17x17 (Fig. 6, n = 7) and 8x8 (Fig. 7) modules, the grid reductions
    by parallel stride-2 convolution and pooling (Fig. 10), batch-norm after every convolution, and
    one auxiliary classifier on the last 17x17 map with its layers batch-normed (BN-auxiliary, §7).
    The paper gives no filter counts; they are those of the authors' released model (TF-slim,
    = torchvision's layout), which this network reproduces exactly (weights map one to one).

    Deviations from the paper / choices it leaves open:
    - (release) the stem differs from Table 1's rows 5-7: 1x1 conv 80, 3x3 conv 192 valid, 3x3/2 max
      pool (Table 1: 3x3 conv 80, 3x3/2 conv 192, 3x3 conv 288);
    - (release) the 35x35 modules keep a 5x5 branch (1x1 48 -> 5x5 64) beside Fig. 5's two-3x3
      branch; Table 1's "5 x Inception (figure 6)" is the Fig. 10 reduction plus 4 Fig. 6 modules,
      its "2 x Inception (figure 7)" the second reduction plus 2 Fig. 7 modules; BN epsilon 0.001;
    - (torchvision) the 3x3 average pooling inside the modules counts the zero padding (TF's "SAME"
      pooling of the release does not); the paper does not say;
    - (release) dropout before the classifier, `drop_rate` 0.2 (keep probability 0.8; torchvision
      uses 0.5); the paper does not mention dropout for v3;
    - (release) the auxiliary loss weight is 0.4 (`AuxOutputs.aux_weight`), that of the authors'
      training script (TF-slim train_image_classifier.py); the paper states none. Label smoothing
      (§7) belongs to the trainer;
    - (ours) inputs other than 299x299 work (global average pooling); under 299 the auxiliary head
      averages the 17x17-grid map adaptively to 5x5, as the paper defines the head at 299 only, so
      that training works down to `min_size` = 75. At 299 it is exactly the paper's (and torchvision's).

    `se_reduction=r` puts a squeeze-and-excitation block (reduction r) on every Inception module's
    output (SE paper, Fig. 2): `se_inception_v3`.
    """

    def __init__(self, *, num_classes: int = 1000, in_chans: int = 3, aux_logits: bool = True,
                 drop_rate: float = 0.2, se_reduction: int | None = None) -> None:
        super().__init__(layers=row_layers(INCEPTION_V3, in_chans, se_reduction=se_reduction, count_include_pad=True),
                         num_classes=num_classes, in_chans=in_chans, drop_rate=drop_rate, aux=AUX,
                         aux_logits=aux_logits)  # (N, 2048, 8, 8); AuxLogits on (N, 768, 17, 17)


# -- weights ---------------------------------------------------------------------------------
def library_names(rows: tuple[Row, ...]) -> dict[str, str]:
    """torchvision's (= TF-slim's, = timm's inception_v3) module name -> ours, for every conv of the
    Mixed rows: a branch's convolutions are numbered from 1 (`branch7x7_2`), split members lettered
    (`branch3x3_2a`); a branch with a single convolution keeps the bare branch name."""
    names: dict[str, str] = {}
    for row in rows:
        if not isinstance(row.layer, Mixed):
            continue
        for branch in row.layer.branches:
            paths = list(conv_paths(branch))
            positions = sorted({i for _, i, _ in paths})
            for ours, i, member in paths:
                number = "" if len(positions) == 1 else f"_{positions.index(i) + 1}"
                letter = "" if member is None else "ab"[member]
                names[f"{row.name}.{branch[0]}{number}{letter}"] = f"{row.name}.{ours}"
    return names


_V3_NAMES = library_names(INCEPTION_V3)


@register_weight_mapping("inception_v3", library="torchvision")
@register_weight_mapping("inception_v3", library="timm")
def _from_torchvision(state: StateDict) -> StateDict:
    """Mixed_5b.branch5x5_1.conv.weight -> Mixed_5b.branch5x5.0.conv.weight; the rest is unchanged."""
    out = {}
    for key, value in state.items():
        module, _, leaf = key.rpartition(".")
        prefix, _, sub = module.rpartition(".") if module.endswith((".conv", ".bn")) else (module, "", "")
        out[".".join(p for p in (_V3_NAMES.get(prefix, prefix), sub, leaf) if p)] = value
    return out


# -- registry --------------------------------------------------------------------------------
_CARD = dict(input_size=(3, 299, 299), min_size=75, mean=INCEPTION_MEAN, std=INCEPTION_STD)

register_model("inception_v3", InceptionV3, ModelCard(
    paper=PAPER, **_CARD, mult_adds=5.0e9, top1_err=21.2, top5_err=5.6,
    weights=(Weights("torchvision", "inception_v3", "IMAGENET1K_V1"), Weights("timm", "inception_v3", "tf_in1k"),
             Weights("timm", "inception_v3", "tv_in1k")),
    notes="Table 1 network as released (= torchvision): BN-auxiliary head on 17x17, aux loss weight 0.4; "
          "paper: 'less than 25 million parameters', 5 billion mult-adds, errors single crop (Table 3); "
          "timm's weights have no auxiliary head (it keeps its initialisation when they are loaded)"))
register_model("se_inception_v3", partial(InceptionV3, se_reduction=16), ModelCard(
    paper=SE_PAPER, **_CARD,
    notes="Inception v3 with an SE block (r = 16) on every Inception module's output (SE paper Fig. 2); "
          "the SE paper publishes no SE-Inception-v3 numbers (Table 2 has SE-BN-Inception and SE-Inception-ResNet-v2)"))
