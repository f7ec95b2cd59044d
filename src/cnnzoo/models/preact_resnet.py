"""Pre-activation ResNets (He, Zhang, Ren, Sun 2016, "Identity Mappings in Deep Residual Networks").

The full pre-activation unit (Fig. 4(e)): x_{l+1} = x_l + F(x_l), F = BN-ReLU-conv-BN-ReLU-conv
(bottleneck: three convs), with nothing after the addition, so the identity path runs clean
from any unit to any other. As in seed 001's neon code (`module_basic(first=True)`) and the
authors' resnet-pre-act.lua, the network's first unit has no BN-ReLU of its own (the stem ends
with one), and the network ends with BN-ReLU before global pooling.

    ImageNet  preact_resnet18..152: the 2015 paper's Table 1 stages with pre-activation units
    CIFAR-10  preact_resnet110 (basic units, 18 per stage, 16/32/64 filters, option A shortcuts)
              preact_resnet164 (bottleneck units, 18 per stage, 64/128/256 out, projections)
"""

from __future__ import annotations

import re
from functools import partial
from typing import Literal

import torch

from ..layers.residual import BlockDesign, PreActBasicBlock, PreActBlock, PreActBottleneck, Shortcut
from ..models.pretrained import StateDict, register_weight_mapping
from ..registry import register_model
from .card import CIFAR10_MEAN, CIFAR10_STD, ModelCard, Paper, Weights
from .resnet import CIFAR_WIDTHS, STEMS, TABLE1_DEPTHS, TABLE1_WIDTHS, ResidualNetwork, stage_table

PAPER = Paper("Identity Mappings in Deep Residual Networks", "K. He, X. Zhang, S. Ren, J. Sun", 2016, "1603.05027")

PreActStem = Literal["7x7", "7x7_bare", "cifar"]


class PreActResNet(ResidualNetwork):
    """ResNet of full pre-activation units (2016 paper, Fig. 4(e)); final BN-ReLU before pooling.

    Faithful to the paper (and the authors' resnet-pre-act.lua) in: BN-ReLU before every conv;
    no activation after the addition; the first unit uses the stem's BN-ReLU; shortcuts other
    than the identity take the pre-activated input ("projection shortcuts are also with
    pre-activation"); projections are bias-free 1x1 convs without BN; the stride-2 of a
    bottleneck sits in its first 1x1 (`stride_in_1x1`).

    Deviations from the paper:
    - ImageNet depths 18..101 are the 2015 paper's Table 1 stages with pre-activation units:
      the 2016 paper trains only 152 and 200 layers on ImageNet;
    - the 7x7 stem pools with padding 1 (torchvision's max-pool);
    - preact_resnet110 uses option A shortcuts, as the 2015 paper's ResNet-110 it is compared
      with (the paper does not restate the choice);
    - any input size runs (global pooling); `min_size` is the total stride (32, CIFAR: 4).

    Seed 001's neon code differs from the paper in two places, where this follows the paper and
    the authors' code: its projections take the block's raw input, and its first basic block
    has a 1x1 projection although the shape does not change.

    `stem="7x7_bare"`, `stride_in_1x1=False` is timm's `resnetv2` layout (`*_timm`): the stem is a
    bare conv and max-pool, and the first unit normalises the pooled map itself.
    """

    def __init__(self, *, depths: tuple[int, ...], block: type[PreActBlock] = PreActBottleneck,
                 widths: tuple[int, ...] = TABLE1_WIDTHS, stem: PreActStem = "7x7", num_classes: int = 1000,
                 in_chans: int = 3, shortcut: Shortcut = "B", stride_in_1x1: bool = True,
                 se_reduction: int | None = None) -> None:
        if not issubclass(block, PreActBlock):
            raise ValueError(f"PreActResNet takes PreActBasicBlock or PreActBottleneck, got {block.__name__}")
        if stem not in ("7x7", "7x7_bare", "cifar"):
            raise ValueError(f"stem must be '7x7', '7x7_bare' or 'cifar', got {stem!r}")
        super().__init__(stages=stage_table(depths, widths), block=block, stem=STEMS[stem],
                         design=BlockDesign(shortcut=shortcut, stride_in_1x1=stride_in_1x1, se_reduction=se_reduction),
                         num_classes=num_classes, in_chans=in_chans)


# -- weights: timm's resnetv2_18/34/50/101 -------------------------------------------------------
_TIMM_RENAMES = ((r"^stem\.conv\.", "stem.conv1."),
                 (r"^stages\.(\d+)\.blocks\.", lambda m: f"layer{int(m.group(1)) + 1}."),
                 (r"\.norm(\d)\.", r".bn\1."),
                 (r"\.downsample\.conv\.", ".downsample.0."),
                 (r"^head\.fc\.", "fc."))


@register_weight_mapping("preact_resnet18_timm", "preact_resnet34_timm", "preact_resnet50_timm",
                         "preact_resnet101_timm", library="timm")
def from_timm_resnetv2(state: StateDict) -> StateDict:
    """timm `resnetv2_*` names -> ours; its classifier is a 1x1 conv, ours a Linear."""
    out = {}
    for key, value in state.items():
        for pattern, repl in _TIMM_RENAMES:
            key = re.sub(pattern, repl, key)
        out[key] = torch.flatten(value, 1) if key == "fc.weight" else value
    return out


# -- variants ----------------------------------------------------------------------------------
_IMAGENET = dict(paper=PAPER, input_size=(3, 224, 224), min_size=32)
_CIFAR = dict(paper=PAPER, input_size=(3, 32, 32), min_size=4, mean=CIFAR10_MEAN, std=CIFAR10_STD,
              num_classes=10)
_NO_ERR = "(the paper reports ImageNet results for 152 and 200 layers only)"
# depth: (block, parameters by the table's arithmetic (tests/models/test_preact_resnet.py))
_PAPER_NETS = {18: (PreActBasicBlock, 11_687_720), 34: (PreActBasicBlock, 21_795_880),
               50: (PreActBottleneck, 25_549_352), 101: (PreActBottleneck, 44_541_480),
               152: (PreActBottleneck, 60_185_128)}
for _depth, (_block, _params) in _PAPER_NETS.items():
    register_model(f"preact_resnet{_depth}", partial(PreActResNet, block=_block, depths=TABLE1_DEPTHS[_depth]),
                   ModelCard(**_IMAGENET, params=_params,
                             notes=f"2015 Table 1's {_depth} layers with full pre-activation units {_NO_ERR}"))

# timm resnetv2 (BatchNorm): depth -> (parameters = timm's count, weight tag)
_TIMM_NETS = {18: (11_687_720, "ra4_e3600_r224_in1k"), 34: (21_795_880, "ra4_e3600_r224_in1k"),
              50: (25_549_352, "a1h_in1k"), 101: (44_541_480, "a1h_in1k")}
for _depth, (_params, _tag) in _TIMM_NETS.items():
    register_model(f"preact_resnet{_depth}_timm", partial(
        PreActResNet, block=_PAPER_NETS[_depth][0], depths=TABLE1_DEPTHS[_depth], stem="7x7_bare",
        stride_in_1x1=False), ModelCard(
        **_IMAGENET, params=_params, weights=(Weights("timm", f"resnetv2_{_depth}", _tag),),
        notes=f"timm's resnetv2_{_depth}: bare 7x7 stem, the first unit normalises after the max-pool, "
              "stride-2 in the 3x3 (paper layout: " f"preact_resnet{_depth})"))

register_model("preact_resnet110", partial(PreActResNet, block=PreActBasicBlock, depths=(18, 18, 18),
                                           widths=CIFAR_WIDTHS, stem="cifar", shortcut="A", num_classes=10),
               ModelCard(**_CIFAR, params=1_700_000,
                         notes="CIFAR-10 ResNet-110 with pre-activation units, option A shortcuts: "
                               "6.37% CIFAR-10 test error (Table 2; 6.61% with the original units)"))
register_model("preact_resnet164", partial(PreActResNet, block=PreActBottleneck, depths=(18, 18, 18),
                                           widths=CIFAR_WIDTHS, stem="cifar", num_classes=10),
               ModelCard(**_CIFAR, params=1_700_000,
                         notes="CIFAR-10 ResNet-164, bottleneck pre-activation units (resnet-pre-act.lua): "
                               "5.46% CIFAR-10 test error (Tables 2, 3; 5.93% with the original units)"))
