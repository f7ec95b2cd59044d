"""ResNeXt (Xie, Girshick, Dollár, Tu, He 2016, "Aggregated Residual Transformations").

A ResNet bottleneck whose 3x3 conv is split into C groups (cardinality) of d channels each
(Fig. 3(c), the grouped-convolution form): "32x4d" is C = 32, d = 4, so the first stage's 3x3
is 128 wide. Table 1 (ResNeXt-50 32x4d, 25.0M parameters, 4.2 x 10^9 FLOPs = mult-adds):

    conv1  112x112  7x7, 64, stride 2
    conv2  56x56    3x3 max pool, stride 2; [1x1, 128; 3x3, 128, C=32; 1x1, 256] x 3
    conv3  28x28    [1x1, 256; 3x3, 256, C=32; 1x1, 512] x 4
    conv4  14x14    [1x1, 512; 3x3, 512, C=32; 1x1, 1024] x 6
    conv5  7x7      [1x1, 1024; 3x3, 1024, C=32; 1x1, 2048] x 3
           1x1      global average pool, 1000-d fc, softmax
"""

from __future__ import annotations

from functools import partial

from ..layers.residual import BlockDesign, Bottleneck
from ..models.pretrained import register_weight_mapping
from ..registry import register_model
from .card import ModelCard, Paper
from .resnet import (STEMS, TABLE1_DEPTHS, TABLE1_WIDTHS, ResidualNetwork, library_weights, rename_stem,
                     stage_table)

PAPER = Paper("Aggregated Residual Transformations for Deep Neural Networks",
              "S. Xie, R. Girshick, P. Dollár, Z. Tu, K. He", 2016, "1611.05431")


class ResNeXt(ResidualNetwork):
    """ResNeXt: ResNet-50/101 stages with aggregated (grouped) bottleneck transformations.

    Faithful to the paper in: Table 1's stages and widths (3x3 width = C * d * stage width / 64);
    the stride-2 in the 3x3 of the first block of conv3..conv5 (the authors' fb.resnet.torch
    code; torchvision's layout is the same); projection shortcuts (option B) where the shape
    changes; BN after every conv, ReLU after the addition.

    Deviations from the paper:
    - the stem's max-pool pads by 1 (torchvision's, whose weights load as they are);
    - any input size runs (global pooling); `min_size` is the total stride, 32 (ResNet's
      docstring says why); the paper trains at 224.
    """

    def __init__(self, *, depths: tuple[int, ...], cardinality: int = 32, base_width: int = 4,
                 num_classes: int = 1000, in_chans: int = 3, se_reduction: int | None = None) -> None:
        super().__init__(stages=stage_table(depths, TABLE1_WIDTHS), block=Bottleneck, stem=STEMS["7x7"],
                         design=BlockDesign(groups=cardinality, base_width=base_width, se_reduction=se_reduction),
                         num_classes=num_classes, in_chans=in_chans)


_NAMES = ("resnext50_32x4d", "resnext101_32x4d", "resnext101_32x8d", "resnext101_64x4d")
register_weight_mapping(*_NAMES, library="torchvision")(rename_stem)  # torchvision's names, stem aside
register_weight_mapping(*_NAMES, library="timm")(rename_stem)  # timm's resnet.py uses the same names

_CARD = dict(paper=PAPER, input_size=(3, 224, 224), min_size=32)
_ERR = "ImageNet val, 224x224 single crop"

register_model("resnext50_32x4d", partial(ResNeXt, depths=TABLE1_DEPTHS[50]), ModelCard(
    **_CARD, params=25_028_904, mult_adds=4.2e9, top1_err=22.2,
    weights=library_weights("resnext50_32x4d", "IMAGENET1K_V1", "IMAGENET1K_V2", timm_tag="a1h_in1k"),
    notes=f"Table 1's ResNeXt-50 (32x4d), as torchvision's (published: 25.0M parameters); error: Table 3, {_ERR}"))
register_model("resnext101_32x4d", partial(ResNeXt, depths=TABLE1_DEPTHS[101]), ModelCard(
    **_CARD, params=44_177_704, top1_err=21.2,
    notes=f"ResNeXt-101 (32x4d), as timm's resnext101_32x4d (no weights there); error: Table 3, {_ERR}"))
register_model("resnext101_64x4d", partial(ResNeXt, depths=TABLE1_DEPTHS[101], cardinality=64), ModelCard(
    **_CARD, params=83_455_272, top1_err=20.4, top5_err=5.3,
    weights=library_weights("resnext101_64x4d", "IMAGENET1K_V1", timm_tag="c1_in1k"),
    notes=f"ResNeXt-101 (64x4d), the paper's 2x-complexity model, as torchvision's; error: Table 4, {_ERR}"))
register_model("resnext101_32x8d", partial(ResNeXt, depths=TABLE1_DEPTHS[101], base_width=8), ModelCard(
    **_CARD, params=88_791_336,
    weights=library_weights("resnext101_32x8d", "IMAGENET1K_V1", "IMAGENET1K_V2", timm_tag="tv_in1k"),
    notes="ResNeXt-101 (32x8d): torchvision's variant, not a model of the paper (no published figures)"))
