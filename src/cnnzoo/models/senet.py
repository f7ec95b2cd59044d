"""Squeeze-and-excitation networks (Hu, Shen, Sun 2017): SE-ResNet, SE-ResNeXt, SENet-154.

The SE block (layers/attention.py) sits on each residual branch before the addition (Fig. 3),
reduction r = 16. Table 1 writes it as a row of the bracket: SE-ResNet-50's conv2 is
[1x1, 64; 3x3, 64; 1x1, 256; fc, [16, 256]] x 3.

SENet-154 (appendix): SE-ResNeXt-152 (64x4d) modified as follows, all built here:
(a) the first 1x1 conv of each bottleneck has half the channels; (b) the 7x7 first conv is
three 3x3 convs (64, 64, 128, the first with stride 2); (c) the 1x1 stride-2 downsampling
projection is a 3x3 stride-2 conv; (d) dropout 0.2 before the classifier. Label smoothing
and freezing BN in the last epochs, (e) and (f), are training choices (the trainer's).
"""

from __future__ import annotations

from functools import partial
from typing import Literal

from ..layers.residual import BlockDesign, Bottleneck
from ..models.pretrained import StateDict, register_weight_mapping
from ..registry import register_model
from .card import ModelCard, Paper, Weights
from .resnet import STEMS, TABLE1_DEPTHS, TABLE1_WIDTHS, ResidualNetwork, stage_table

PAPER = Paper("Squeeze-and-Excitation Networks", "J. Hu, L. Shen, G. Sun", 2017, "1709.01507")


class SENet(ResidualNetwork):
    """A ResNet / ResNeXt of bottlenecks with an SE block in every residual branch.

    Faithful to the paper and its released (Caffe) models in: SE after the branch's last BN,
    before the addition, with reduction 16 and biased FC layers; the stem's 3x3/2 max-pool in
    Caffe's ceil mode without padding; the stride-2 in the first 1x1 of SE-ResNet bottlenecks
    and in the 3x3 of SE-ResNeXt / SENet-154 ones; SENet-154's modifications (module docstring).

    Deviations from the paper:
    - any input of at least 3x3 runs (global pooling; Caffe's unpadded max-pool needs a 2x2
      map); `min_size` is the total stride, 32 (ResNet's docstring says why); the paper trains at 224
      (SENet-154's published best is also evaluated at 320);
    - no dropout in SE-ResNet/SE-ResNeXt (the paper names it only for SENet-154; timm's
      legacy models apply 0.2 to all, which changes nothing in eval mode).
    """

    def __init__(self, *, depths: tuple[int, ...], groups: int = 1, base_width: int = 64, stride_in_1x1: bool = False,
                 first_ratio: float = 1.0, down_kernel: int = 1, stem: Literal["7x7_caffe", "3x3x3"] = "7x7_caffe",
                 drop_rate: float = 0.0, se_reduction: int = 16, num_classes: int = 1000, in_chans: int = 3) -> None:
        if stem not in ("7x7_caffe", "3x3x3"):
            raise ValueError(f"stem must be '7x7_caffe' or '3x3x3', got {stem!r}")
        design = BlockDesign(stride_in_1x1=stride_in_1x1, groups=groups, base_width=base_width,
                             first_ratio=first_ratio, down_kernel=down_kernel, se_reduction=se_reduction)
        super().__init__(stages=stage_table(depths, TABLE1_WIDTHS), block=Bottleneck, design=design,
                         stem=STEMS[stem], num_classes=num_classes, in_chans=in_chans, drop_rate=drop_rate)


@register_weight_mapping("se_resnet50", "se_resnet101", "se_resnet152", "se_resnext50_32x4d",
                         "se_resnext101_32x4d", "senet154", library="timm")
def from_timm_legacy(state: StateDict) -> StateDict:
    """timm `legacy_se*` names -> ours: layer0 is our stem, se_module our se, last_linear our fc."""
    out = {}
    for key, value in state.items():
        key = key.replace(".se_module.", ".se.")
        for old, new in (("layer0.", "stem."), ("last_linear.", "fc.")):
            key = new + key.removeprefix(old) if key.startswith(old) else key
        out[key] = value
    return out


_CARD = dict(paper=PAPER, input_size=(3, 224, 224), min_size=32)
_ERR = "errors: Table 2, ImageNet val, 224x224 single crop"


def _legacy(name: str) -> tuple[Weights, ...]:
    return (Weights("timm", f"legacy_{name.replace('se_', 'se', 1)}", "in1k"),)


_SE_RESNET = partial(SENet, stride_in_1x1=True)  # SE-ResNet: the released Caffe models' bottleneck
_SE_RESNEXT = partial(SENet, groups=32, base_width=4)

# name: (builder, parameters = timm legacy count, Table 2 GFLOPs (mult-adds), top-1, top-5)
_TABLE2 = {
    "se_resnet50": (partial(_SE_RESNET, depths=TABLE1_DEPTHS[50]), 28_088_024, 3.87e9, 23.29, 6.62),
    "se_resnet101": (partial(_SE_RESNET, depths=TABLE1_DEPTHS[101]), 49_326_872, 7.60e9, 22.38, 6.07),
    "se_resnet152": (partial(_SE_RESNET, depths=TABLE1_DEPTHS[152]), 66_821_848, 11.32e9, 21.57, 5.73),
    "se_resnext50_32x4d": (partial(_SE_RESNEXT, depths=TABLE1_DEPTHS[50]), 27_559_896, 4.25e9, 21.10, 5.49),
    "se_resnext101_32x4d": (partial(_SE_RESNEXT, depths=TABLE1_DEPTHS[101]), 48_955_416, 8.00e9, 20.70, 5.01),
}
for _name, (_builder, _params, _flops, _top1, _top5) in _TABLE2.items():
    register_model(_name, _builder, ModelCard(
        **_CARD, params=_params, mult_adds=_flops, top1_err=_top1, top5_err=_top5, weights=_legacy(_name),
        notes=f"as timm's legacy_{_name.replace('se_', 'se', 1)} (the released Caffe model); {_ERR}"))

register_model("senet154", partial(SENet, depths=TABLE1_DEPTHS[152], groups=64, base_width=4, first_ratio=0.5,
                                   down_kernel=3, stem="3x3x3", drop_rate=0.2), ModelCard(
    **_CARD, params=115_088_984, top1_err=18.68, top5_err=4.47, weights=(Weights("timm", "legacy_senet154", "in1k"),),
    notes="SE-ResNeXt-152 (64x4d) with the appendix's changes, as timm's legacy_senet154; "
          "error: the paper's state-of-the-art comparison, 224x224 single crop"))
