"""Xception (Chollet 2016, "Xception: Deep Learning with Depthwise Separable Convolutions",
arXiv 1610.02357), Figure 5: 36 convolution layers in 14 modules, all but the first and last
with linear residual connections.

    entry flow   299x299x3
                 Conv 32, 3x3, stride 2, ReLU; Conv 64, 3x3, ReLU
                 [SepConv 128, ReLU, SepConv 128, MaxPool 3x3/2]        + Conv 1x1/2
                 [ReLU, SepConv 256, ReLU, SepConv 256, MaxPool 3x3/2]  + Conv 1x1/2
                 [ReLU, SepConv 728, ReLU, SepConv 728, MaxPool 3x3/2]  + Conv 1x1/2   -> 19x19x728
    middle flow  [ReLU, SepConv 728, ReLU, SepConv 728, ReLU, SepConv 728] + identity, x 8
    exit flow    [ReLU, SepConv 728, ReLU, SepConv 1024, MaxPool 3x3/2] + Conv 1x1/2
                 SepConv 1536, ReLU; SepConv 2048, ReLU; global average pooling; logistic regression

Every convolution is followed by batch normalisation (not drawn in the figure); every SepConv is
3x3 with depth multiplier 1.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from functools import partial

from torch import Tensor, nn

from ..layers.attention import attention
from ..layers.conv import ConvNormAct
from ..layers.separable import SeparableConvNormAct
from ..registry import register_model
from .base import FeatureInfo, ZooModel, global_pool, he_init
from .card import INCEPTION_MEAN, INCEPTION_STD, ModelCard, Paper, Weights
from .pretrained import StateDict, register_weight_mapping

PAPER = Paper("Xception: Deep Learning with Depthwise Separable Convolutions", "F. Chollet", 2016, "1610.02357")


@dataclass(frozen=True)
class XModule:
    """One residual module of Figure 5."""

    widths: tuple[int, ...]  # output channels of its 3x3 SeparableConvs, in order
    downsample: bool  # ends with MaxPooling 3x3/2 and has a Conv 1x1/2 shortcut (else identity)
    relu_first: bool = True  # starts with a ReLU (the first one does not: Conv 64 ends with its ReLU)


STEM = (32, 64)  # Conv 32, 3x3, stride 2; Conv 64, 3x3 (unpadded, as the author's Keras code)
ENTRY_FLOW = (
    XModule((128, 128), downsample=True, relu_first=False),
    XModule((256, 256), downsample=True),
    XModule((728, 728), downsample=True),
)
MIDDLE_FLOW = (XModule((728, 728, 728), downsample=False),) * 8  # "repeated 8 times"
EXIT_FLOW = XModule((728, 1024), downsample=True)
EXIT_CONVS = (1536, 2048)  # SeparableConv, ReLU (no shortcut)


class XceptionModule(nn.Module):
    """[ReLU ->] (SeparableConv 3x3 -> BN) x n, separated by ReLUs [-> MaxPool 3x3/2], plus a
    shortcut (identity, or Conv 1x1/2 -> BN); an `AttentionSlot` before the addition."""

    def __init__(self, in_chs: int, spec: XModule, *, se_reduction: int | None = None) -> None:
        super().__init__()
        branch: OrderedDict[str, nn.Module] = OrderedDict()
        chs = in_chs
        for i, width in enumerate(spec.widths):
            # The first ReLU reads the module's input, which the shortcut still needs: not in place.
            act = "before" if i > 0 or spec.relu_first else None
            branch[f"sep{i + 1}"] = SeparableConvNormAct(chs, width, 3, activation=act, inplace=i > 0)
            chs = width
        if spec.downsample:
            branch["pool"] = nn.MaxPool2d(3, stride=2, padding=1)
        self.branch = nn.Sequential(branch)
        self.attention = attention(chs, se_reduction)  # SE paper: on the residual branch, before the sum
        self.shortcut = ConvNormAct(in_chs, chs, 1, stride=2, act=None) if spec.downsample else nn.Identity()
        self.in_chs, self.out_chs = in_chs, chs

    def forward(self, x: Tensor) -> Tensor:  # (N, in, H, W) -> (N, out, H/s, W/s), s = 2 if downsample
        return self.attention(self.branch(x)) + self.shortcut(x)


class Xception(ZooModel):
    """Xception of Figure 5 (see the module docstring): 22,855,952 parameters with 1000 classes,
    the paper's Table 3 count; the same network as timm's `legacy_xception`.

    Faithful to the paper in: the entry/middle/exit flows, separable convolutions without a
    non-linearity between depthwise and pointwise, BN after every convolution, residual Conv 1x1/2
    projections, no fully-connected layers before the logistic regression (the ImageNet model of
    Tables 1 and 3), dropout 0.5 before it (§4.3).

    Choices where the paper is silent (all as the author's Keras code, except the last two):
    - the two stem convolutions are unpadded (299 -> 149 -> 147); the SepConvs pad to keep size;
    - max-pooling 3x3/2 pads 1 on each side (Keras pads "same": asymmetrically on even sizes,
      the same output size);
    - BN uses PyTorch's defaults (eps 1e-5, momentum 0.1) like timm; Keras uses eps 1e-3;
    - convolution weights are initialised N(0, 2/fan_out) (He et al.), as timm.

    Deviations: any input size >= 7 works (global average pooling); `se_reduction` fills the
    attention slots with SE blocks (not in the paper).

    timm's `legacy_xception` has this layout exactly (its only differences are the default
    dropout of 0 and module names), so no `xception_timm` variant is registered.
    """

    classifier_path = "fc"

    def __init__(self, *, num_classes: int = 1000, in_chans: int = 3, dropout: float = 0.5,
                 se_reduction: int | None = None) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if se_reduction is not None and se_reduction < 1:
            raise ValueError(f"se_reduction must be >= 1 or None, got {se_reduction}")
        self.num_classes, self.in_chans = num_classes, in_chans
        module = partial(XceptionModule, se_reduction=se_reduction)
        self.conv1 = ConvNormAct(in_chans, STEM[0], 3, stride=2, padding=0)  # (N, 32, 149, 149)
        self.conv2 = ConvNormAct(STEM[0], STEM[1], 3, padding=0)  # (N, 64, 147, 147)
        chs, entry = STEM[1], []
        for spec in ENTRY_FLOW:  # (N, 128, 74, 74) -> (N, 256, 37, 37) -> (N, 728, 19, 19)
            entry.append(module(chs, spec))
            chs = spec.widths[-1]
        self.entry_flow = nn.Sequential(*entry)
        self.middle_flow = nn.Sequential(*(module(chs, spec) for spec in MIDDLE_FLOW))  # (N, 728, 19, 19)
        exit_flow: OrderedDict[str, nn.Module] = OrderedDict(module=module(chs, EXIT_FLOW))  # (N, 1024, 10, 10)
        chs = EXIT_FLOW.widths[-1]
        for i, width in enumerate(EXIT_CONVS):  # (N, 1536, 10, 10) -> (N, 2048, 10, 10)
            exit_flow[f"sep{i + 1}"] = SeparableConvNormAct(chs, width, 3, activation="after")
            chs = width
        self.exit_flow = nn.Sequential(exit_flow)
        self.num_features = self.head_hidden_size = chs
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(chs, num_classes) if num_classes else nn.Identity()
        self.feature_info = (
            FeatureInfo("conv2", STEM[1], 2),
            FeatureInfo("entry_flow.0", ENTRY_FLOW[0].widths[-1], 4),
            FeatureInfo("entry_flow.1", ENTRY_FLOW[1].widths[-1], 8),
            FeatureInfo("middle_flow", MIDDLE_FLOW[-1].widths[-1], 16),
            FeatureInfo("exit_flow", chs, 32),
        )
        he_init(self)

    def forward_features(self, x: Tensor) -> Tensor:  # (N, C, 299, 299) -> (N, 2048, 10, 10)
        x = self.conv2(self.conv1(x))
        return self.exit_flow(self.middle_flow(self.entry_flow(x)))

    def forward_head(self, x: Tensor, *, pre_logits: bool = False) -> Tensor:
        x = global_pool(x)  # (N, 2048)
        return x if pre_logits else self.fc(self.dropout(x))


register_model("xception", Xception, ModelCard(
    paper=PAPER, input_size=(3, 299, 299), min_size=7, mean=INCEPTION_MEAN, std=INCEPTION_STD,
    params=22_855_952, top1_err=21.0, top5_err=5.5, weights=(Weights("timm", "legacy_xception", "tf_in1k"),),
    notes="Figure 5 of the paper (= timm's legacy_xception): entry, 8 middle, exit flow of separable convs"))


# -- timm weights ----------------------------------------------------------------------------
def _timm_block(index: int) -> str:
    """timm's block1..block12 -> entry_flow.0-2, middle_flow.0-7, exit_flow.module."""
    entry, middle = len(ENTRY_FLOW), len(MIDDLE_FLOW)
    if index <= entry:
        return f"entry_flow.{index - 1}"
    if index <= entry + middle:
        return f"middle_flow.{index - entry - 1}"
    return "exit_flow.module"


@register_weight_mapping("xception", library="timm")
def _from_timm(state: StateDict) -> StateDict:
    """timm names its layers conv1/bn1, blockN.rep.{i} (ReLU, SeparableConv, BN, ... in one flat
    Sequential), blockN.skip/skipbn, conv3/bn3, conv4/bn4, fc; SeparableConv's depthwise part is
    `conv1`."""
    rep_re = re.compile(r"block(\d+)\.rep\.(\d+)\.(.+)")
    seps: dict[str, list[int]] = {}  # block -> rep indices of its SeparableConvs, in order
    for k in state:
        if (m := rep_re.fullmatch(k)) and m.group(3) == "pointwise.weight":
            seps.setdefault(m.group(1), []).append(int(m.group(2)))
    renames = {"conv1.": "conv1.conv.", "bn1.": "conv1.bn.", "conv2.": "conv2.conv.", "bn2.": "conv2.bn.",
               "conv3.": "exit_flow.sep1.conv.", "bn3.": "exit_flow.sep1.bn.",
               "conv4.": "exit_flow.sep2.conv.", "bn4.": "exit_flow.sep2.bn.", "fc.": "fc."}
    out: StateDict = {}
    for k, v in state.items():
        k = re.sub(r"\.conv1\.weight$", ".depthwise.weight", k)  # inside a SeparableConv
        if m := rep_re.fullmatch(k):
            block, i, rest = m.groups()
            i = int(i)
            if rest.startswith(("depthwise.", "pointwise.")):  # the SeparableConv
                out[f"{_timm_block(int(block))}.branch.sep{seps[block].index(i) + 1}.conv.{rest}"] = v
            else:  # the BN right after it
                out[f"{_timm_block(int(block))}.branch.sep{seps[block].index(i - 1) + 1}.bn.{rest}"] = v
        elif m := re.fullmatch(r"block(\d+)\.skip(bn)?\.(.+)", k):
            block, bn, rest = m.groups()
            out[f"{_timm_block(int(block))}.shortcut.{'bn' if bn else 'conv'}.{rest}"] = v
        else:  # an unknown key passes unchanged, and assign_state_dict reports it
            prefix = next((p for p in renames if k.startswith(p)), "")
            out[renames.get(prefix, "") + k.removeprefix(prefix)] = v
    return out
