"""EfficientNet-B0..B7 (Tan & Le 2019, "EfficientNet: Rethinking Model Scaling for Convolutional
Neural Networks", arXiv 1905.11946).

B0 is Table 1 (found by architecture search); B1..B7 scale it with one compound coefficient
(§3.3): width x w (channels rounded to a multiple of 8), depth x d (layers rounded up), input
resolution r, and a dropout rate rising from 0.2 to 0.5 (§5.2).

    stage  operator            resolution  #channels  #layers        (Table 1, B0)
    1      Conv3x3             224x224      32         1
    2      MBConv1, k3x3       112x112      16         1
    3      MBConv6, k3x3       112x112      24         2
    4      MBConv6, k5x5        56x56       40         2
    5      MBConv6, k3x3        28x28       80         3
    6      MBConv6, k5x5        14x14      112         3
    7      MBConv6, k5x5        14x14      192         4
    8      MBConv6, k3x3         7x7       320         1
    9      Conv1x1 & Pooling & FC  7x7    1280         1
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from torch import Tensor, nn

from ..layers.conv import ConvNormAct
from ..layers.mbconv import MBConv, set_bn_momentum
from ..registry import register_model
from .base import FeatureInfo, ZooModel, global_pool
from .card import ModelCard, Paper, Weights
from .pretrained import StateDict, register_weight_mapping

PAPER = Paper("EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks",
              "M. Tan, Q. V. Le", 2019, "1905.11946")


@dataclass(frozen=True)
class Stage:
    """One MBConv row (stages 2-8) of Table 1, for B0."""

    expand_ratio: int  # t of "MBConv{t}": the inverted bottleneck's expansion
    kernel: int  # k of "k{k}x{k}": the depthwise kernel
    stride: int  # of the row's first layer: where the next row's resolution is halved
    channels: int  # "#Channels"
    layers: int  # "#Layers"
    resolution: int  # "Resolution": the row's input size at 224x224 (checked against the strides)


B0_STAGES = (
    Stage(expand_ratio=1, kernel=3, stride=1, channels=16, layers=1, resolution=112),
    Stage(expand_ratio=6, kernel=3, stride=2, channels=24, layers=2, resolution=112),
    Stage(expand_ratio=6, kernel=5, stride=2, channels=40, layers=2, resolution=56),
    Stage(expand_ratio=6, kernel=3, stride=2, channels=80, layers=3, resolution=28),
    Stage(expand_ratio=6, kernel=5, stride=1, channels=112, layers=3, resolution=14),
    Stage(expand_ratio=6, kernel=5, stride=2, channels=192, layers=4, resolution=14),
    Stage(expand_ratio=6, kernel=3, stride=1, channels=320, layers=1, resolution=7),
)
STEM_CHANNELS = 32  # stage 1: Conv3x3, stride 2 (224 -> 112)
HEAD_CHANNELS = 1280  # stage 9: Conv1x1 & Pooling & FC
SE_RATIO = 0.25  # squeeze width = block input channels x 0.25
CHANNEL_DIVISOR = 8  # scaled channel counts are rounded to multiples of 8


@dataclass(frozen=True)
class Scaling:
    """The compound-scaling coefficients of one variant (§3.3, §4; the values are those of the
    authors' released code: the paper gives alpha = 1.2, beta = 1.1, gamma = 1.15 for B1 and says
    B2..B7 scale up with larger phi, without listing the multipliers)."""

    width_mult: float  # channels x w
    depth_mult: float  # layers x d, rounded up
    resolution: int  # input H = W
    dropout: float  # before the final FC (§5.2: "linearly increase dropout from 0.2 for B0 to 0.5 for B7")


SCALING = {
    "b0": Scaling(width_mult=1.0, depth_mult=1.0, resolution=224, dropout=0.2),
    "b1": Scaling(width_mult=1.0, depth_mult=1.1, resolution=240, dropout=0.2),
    "b2": Scaling(width_mult=1.1, depth_mult=1.2, resolution=260, dropout=0.3),
    "b3": Scaling(width_mult=1.2, depth_mult=1.4, resolution=300, dropout=0.3),
    "b4": Scaling(width_mult=1.4, depth_mult=1.8, resolution=380, dropout=0.4),
    "b5": Scaling(width_mult=1.6, depth_mult=2.2, resolution=456, dropout=0.4),
    "b6": Scaling(width_mult=1.8, depth_mult=2.6, resolution=528, dropout=0.5),
    "b7": Scaling(width_mult=2.0, depth_mult=3.1, resolution=600, dropout=0.5),
}


@dataclass(frozen=True)
class Published:
    """One row of Table 2 (the paper's final version, v5)."""

    top1: float  # ImageNet top-1 accuracy, percent
    top5: float
    params: int
    flops: float  # the paper's "FLOPS": multiply-adds


TABLE_2 = {
    "b0": Published(77.1, 93.3, 5_300_000, 0.39e9),
    "b1": Published(79.1, 94.4, 7_800_000, 0.70e9),
    "b2": Published(80.1, 94.9, 9_200_000, 1.0e9),
    "b3": Published(81.6, 95.7, 12_000_000, 1.8e9),
    "b4": Published(82.9, 96.4, 19_000_000, 4.2e9),
    "b5": Published(83.6, 96.7, 30_000_000, 9.9e9),
    "b6": Published(84.0, 96.8, 43_000_000, 19e9),
    "b7": Published(84.3, 97.0, 66_000_000, 37e9),
}


def round_channels(channels: int, width_mult: float, divisor: int = CHANNEL_DIVISOR) -> int:
    """channels x width_mult to the nearest multiple of `divisor`, never more than 10% below it."""
    scaled = channels * width_mult
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * scaled else rounded


def round_layers(layers: int, depth_mult: float) -> int:
    """layers x depth_mult, rounded up."""
    return int(math.ceil(layers * depth_mult))


class EfficientNet(ZooModel):
    """EfficientNet: Table 1's B0 scaled by (width_mult, depth_mult); see the module docstring.

    Faithful to the paper and the authors' released code in: the B0 table, compound scaling with
    channels rounded to multiples of 8 and layers rounded up, MBConv blocks with SE of squeeze
    width C_in/4, SiLU ("swish") everywhere, the residual only where stride is 1 and the width
    is kept, stochastic depth with drop probability 0.2 x (block index / number of blocks)
    (survival 0.8 at the last block, §5.2), dropout before the FC, BN momentum 0.99 (TensorFlow's
    convention: PyTorch momentum 0.01, §5.2) and BN epsilon 1e-3 (released code), the reference
    code's initialisation (convs N(0, 2/fan_out), FC U(+-1/sqrt(classes))).

    Deviations:
    - padding is symmetric (k // 2), as in PyTorch; the released TensorFlow code pads "same",
      which at stride 2 pads one pixel less on the top/left for even sizes (same output sizes,
      the kernels see the image shifted by one pixel);
    - `in_chans` other than 3 and any input size work (global pooling).

    `efficientnet_b0_tv`..`_b4_tv` are torchvision's B0..B4 (weights trained in PyTorch with
    BN epsilon 1e-5 and momentum 0.1); torchvision's B5..B7 are the paper's layout.
    """

    classifier_path = "fc"

    def __init__(self, *, num_classes: int = 1000, in_chans: int = 3, width_mult: float = 1.0,
                 depth_mult: float = 1.0, dropout: float = 0.2, drop_path_rate: float = 0.2,
                 bn_eps: float = 1e-3, bn_momentum: float = 0.01, se_ratio: float | None = SE_RATIO,
                 act: type[nn.Module] = nn.SiLU, fix_stem_head: bool = False, tf_same: bool = False) -> None:
        """`se_ratio=None` drops SE, `act` replaces SiLU, `fix_stem_head` keeps the stem's and
        head's widths and the first and last rows' depths unscaled, `tf_same` pads strided convs
        as TensorFlow's "SAME" (the options EfficientNet-Lite uses; see efficientnet_lite.py)."""
        super().__init__()
        if width_mult <= 0 or depth_mult <= 0:
            raise ValueError(f"width_mult and depth_mult must be > 0, got {width_mult} and {depth_mult}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if not 0.0 <= drop_path_rate < 1.0:
            raise ValueError(f"drop_path_rate must be in [0, 1), got {drop_path_rate}")
        self.num_classes, self.in_chans = num_classes, in_chans
        in_chs = STEM_CHANNELS if fix_stem_head else round_channels(STEM_CHANNELS, width_mult)
        self.stem = ConvNormAct(in_chans, in_chs, 3, stride=2, eps=bn_eps, act=act,
                                tf_same=tf_same)  # (N, 32w, H/2, W/2)
        depths = [row.layers if fix_stem_head and i in (0, len(B0_STAGES) - 1) else round_layers(row.layers, depth_mult)
                  for i, row in enumerate(B0_STAGES)]
        block = partial(MBConv, se_ratio=se_ratio, eps=bn_eps, act=act, tf_same=tf_same)
        self.stages, infos = self._build_stages(block, in_chs, width_mult, depths, drop_path_rate)  # (N, 320w, H/32, W/32)
        self.num_features = self.head_hidden_size = \
            HEAD_CHANNELS if fix_stem_head else round_channels(HEAD_CHANNELS, width_mult)
        self.head = ConvNormAct(infos[-1].num_chs, self.num_features, 1, eps=bn_eps, act=act)  # (N, 1280w, H/32, W/32)
        self.feature_info = (FeatureInfo("stem", in_chs, 2), *infos,
                             FeatureInfo("head", self.num_features, infos[-1].reduction))
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(self.num_features, num_classes) if num_classes else nn.Identity()
        set_bn_momentum(self, bn_momentum)
        self._init_weights()

    @staticmethod
    def _build_stages(block: Callable[..., MBConv], in_chs: int, width_mult: float, depths: list[int],
                      drop_path_rate: float) -> tuple[nn.Sequential, list[FeatureInfo]]:
        """Table 1's MBConv rows (stages 2-8); stochastic depth rises linearly with the block index."""
        total, index, reduction = sum(depths), 0, 2
        stages, infos = [], []
        for i, (row, depth) in enumerate(zip(B0_STAGES, depths, strict=True)):
            out_chs = round_channels(row.channels, width_mult)
            blocks = []
            for j in range(depth):  # the row's first layer strides and changes the width
                blocks.append(block(in_chs if j == 0 else out_chs, out_chs, expand_ratio=row.expand_ratio,
                                    kernel_size=row.kernel, stride=row.stride if j == 0 else 1,
                                    drop_path=drop_path_rate * index / total))
                index += 1
            stages.append(nn.Sequential(*blocks))
            reduction *= row.stride
            infos.append(FeatureInfo(f"stages.{i}", out_chs, reduction))
            in_chs = out_chs
        return nn.Sequential(*stages), infos

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                bound = 1.0 / math.sqrt(m.out_features)
                nn.init.uniform_(m.weight, -bound, bound)
                nn.init.zeros_(m.bias)

    def forward_features(self, x: Tensor) -> Tensor:  # (N, C, H, W) -> (N, 1280w, H/32, W/32)
        return self.head(self.stages(self.stem(x)))

    def forward_head(self, x: Tensor, *, pre_logits: bool = False) -> Tensor:
        x = global_pool(x)  # (N, 1280w)
        return x if pre_logits else self.fc(self.dropout(x))


# -- variants --------------------------------------------------------------------------------
TV_WEIGHTS = {
    "b0": ("IMAGENET1K_V1",), "b1": ("IMAGENET1K_V2", "IMAGENET1K_V1"), "b2": ("IMAGENET1K_V1",),
    "b3": ("IMAGENET1K_V1",), "b4": ("IMAGENET1K_V1",), "b5": ("IMAGENET1K_V1",),
    "b6": ("IMAGENET1K_V1",), "b7": ("IMAGENET1K_V1",),
}
TV_PYTORCH_BN = ("b0", "b1", "b2", "b3", "b4")  # torchvision builds these with BN eps 1e-5, momentum 0.1


def _card(v: str, *, torchvision_layout: bool) -> ModelCard:
    s, p = SCALING[v], TABLE_2[v]
    weights = tuple(Weights("torchvision", f"efficientnet_{v}", tag) for tag in TV_WEIGHTS[v]) \
        if torchvision_layout or v not in TV_PYTORCH_BN else ()
    if torchvision_layout:
        notes = (f"torchvision's EfficientNet-{v.upper()}: the paper's layout with PyTorch's BN "
                 f"defaults (eps 1e-5, momentum 0.1), for torchvision's weights")
    else:
        notes = (f"EfficientNet-{v.upper()} of the paper: B0 x (width {s.width_mult}, depth {s.depth_mult}), "
                 f"{s.resolution}x{s.resolution}, dropout {s.dropout}"
                 + (f"; torchvision's weights load into efficientnet_{v}_tv" if v in TV_PYTORCH_BN else ""))
    return ModelCard(paper=PAPER, input_size=(3, s.resolution, s.resolution), min_size=1, params=p.params,
                     mult_adds=p.flops, top1_err=round(100 - p.top1, 1), top5_err=round(100 - p.top5, 1),
                     weights=weights, notes=notes)


for _v, _s in SCALING.items():
    _variant = partial(EfficientNet, width_mult=_s.width_mult, depth_mult=_s.depth_mult, dropout=_s.dropout)
    register_model(f"efficientnet_{_v}", _variant, _card(_v, torchvision_layout=False))
    if _v in TV_PYTORCH_BN:
        register_model(f"efficientnet_{_v}_tv", partial(_variant, bn_eps=1e-5, bn_momentum=0.1),
                       _card(_v, torchvision_layout=True))


# -- torchvision weights -----------------------------------------------------------------------
_CONV_BN = {"0": "conv", "1": "bn"}  # torchvision's Conv2dNormActivation children


def _conv_bn(rest: str) -> str:
    index, _, tail = rest.partition(".")
    return f"{_CONV_BN[index]}.{tail}"


@register_weight_mapping(*(f"efficientnet_{v}_tv" for v in TV_PYTORCH_BN),
                         *(f"efficientnet_{v}" for v in SCALING if v not in TV_PYTORCH_BN), library="torchvision")
def _from_torchvision(state: StateDict) -> StateDict:
    """features.0 -> stem, features.{1..7}.{j}.block.{i} -> stages.{0..6}.{j}.{expand,dw,se,project},
    features.8 -> head, classifier.1 -> fc."""
    head = max(int(k.split(".")[1]) for k in state if k.startswith("features."))
    block_re = re.compile(r"features\.(\d+)\.(\d+)\.block\.(\d+)\.(.+)")
    parts: dict[tuple[str, str], set[str]] = {}  # (stage, block) -> indices inside `block`
    for k in state:
        if m := block_re.fullmatch(k):
            parts.setdefault(m.group(1, 2), set()).add(m.group(3))
    out: StateDict = {}
    for k, v in state.items():
        if m := block_re.fullmatch(k):
            s, b, i, rest = m.groups()
            names = ("expand", "dw", "se", "project")[4 - len(parts[s, b]):]  # MBConv1 has no expand
            name = names[int(i)]
            out[f"stages.{int(s) - 1}.{b}.{name}.{rest if name == 'se' else _conv_bn(rest)}"] = v
        elif k.startswith("classifier.1."):
            out["fc." + k.removeprefix("classifier.1.")] = v
        else:
            _, s, rest = k.split(".", 2)
            out[f"{'stem' if s == '0' else 'head' if int(s) == head else s}.{_conv_bn(rest)}"] = v
    return out


# -- efficientnet_pytorch weights (lukemelas/EfficientNet-PyTorch names; also EfficientNet-Lite's) ----
_EP_BLOCK = {"_expand_conv": "expand.conv", "_bn0": "expand.bn", "_depthwise_conv": "dw.conv", "_bn1": "dw.bn",
             "_se_reduce": "se.fc1", "_se_expand": "se.fc2", "_project_conv": "project.conv", "_bn2": "project.bn"}
_EP_TOP = {"_conv_stem": "stem.conv", "_bn0": "stem.bn", "_conv_head": "head.conv", "_bn1": "head.bn", "_fc": "fc"}


def efficientnet_pytorch_stages(state: StateDict) -> dict[int, tuple[int, int]]:
    """Flat block index -> (stage, index in stage): a stage starts where the projection's width
    changes (every row of Table 1 has its own width), so no depth table is needed."""
    widths = {int(m.group(1)): v.shape[0] for k, v in state.items()
              if (m := re.fullmatch(r"_blocks\.(\d+)\._project_conv\.weight", k))}
    places: dict[int, tuple[int, int]] = {}
    stage, first = -1, 0
    for n in sorted(widths):
        if n == 0 or widths[n] != widths[n - 1]:
            stage, first = stage + 1, n
        places[n] = (stage, n - first)
    return places


def from_efficientnet_pytorch(state: StateDict) -> StateDict:
    """_conv_stem/_bn0 -> stem, _blocks.{n}.<child> -> stages.{i}.{j}.<ours>, _conv_head/_bn1 -> head,
    _fc -> fc. Names it does not know pass through unchanged (and are then reported as unexpected)."""
    places = efficientnet_pytorch_stages(state)
    out: StateDict = {}
    for k, v in state.items():
        m = re.fullmatch(r"_blocks\.(\d+)\.(\w+)\.(.+)", k)
        if m and int(m.group(1)) in places and m.group(2) in _EP_BLOCK:
            i, j = places[int(m.group(1))]
            out[f"stages.{i}.{j}.{_EP_BLOCK[m.group(2)]}.{m.group(3)}"] = v
        else:
            top, _, rest = k.partition(".")
            out[f"{_EP_TOP[top]}.{rest}" if top in _EP_TOP else k] = v
    return out


register_weight_mapping(*(f"efficientnet_{v}" for v in SCALING), library="efficientnet_pytorch")(
    from_efficientnet_pytorch)
