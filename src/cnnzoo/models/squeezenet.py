"""SqueezeNet (Iandola, Han, Moskewicz, Ashraf, Dally, Keutzer 2016), seed 002's table (paper Table 1).

    layer     output size  filter / stride  s1x1  e1x1  e3x3  parameters
    conv1     111x111x96   7x7/2 (x96)                          14,208
    maxpool1  55x55x96     3x3/2
    fire2     55x55x128                      16    64    64     11,920
    fire3     55x55x128                      16    64    64     12,432
    fire4     55x55x256                      32   128   128     45,344
    maxpool4  27x27x256    3x3/2
    fire5     27x27x256                      32   128   128     49,440
    fire6     27x27x384                      48   192   192    104,880
    fire7     27x27x384                      48   192   192    111,024
    fire8     27x27x512                      64   256   256    188,992
    maxpool8  13x13x512    3x3/2
    fire9     13x13x512                      64   256   256    197,184
    conv10    13x13x1000   1x1/1 (x1000)                       513,000
    avgpool10 1x1x1000     13x13/1
    total                                                    1,248,424

The output sizes are those of a 227x227 input (the released model's crop): the table's
"224x224x3" input row does not give its own 111x111 conv1 row. SqueezeNet 1.1 (the authors'
repository, no paper) has a 3x3/2 conv1 with 64 filters and moves the pooling layers earlier
(after conv1, fire3, fire5): 2.4x fewer operations at the same accuracy.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Literal

from torch import Tensor, nn

from ..layers.fire import Fire
from ..registry import register_model
from .base import FeatureInfo, ZooModel, global_pool
from .card import ModelCard, Paper, Weights
from .pretrained import StateDict, register_weight_mapping

PAPER = Paper("SqueezeNet: AlexNet-level accuracy with 50x fewer parameters and <0.5MB model size",
              "F. N. Iandola, S. Han, M. W. Moskewicz, K. Ashraf, W. J. Dally, K. Keutzer", 2016, "1602.07360")


@dataclass(frozen=True)
class Conv:
    """A convolution row: "filter size / stride" k x k / stride (x filters), followed by ReLU."""

    name: str
    filters: int
    kernel: int
    stride: int


@dataclass(frozen=True)
class MaxPool:
    """A 3x3/2 max-pooling row."""

    name: str


@dataclass(frozen=True)
class FireRow:
    """A fire module row with the paper's s1x1 (# 1x1 squeeze), e1x1, e3x3 (# 1x1 / 3x3 expand)."""

    name: str
    s1x1: int
    e1x1: int
    e3x3: int


Row = Conv | MaxPool | FireRow

# Table 1 of the paper (seed 002); conv10 and avgpool10 are the head, sized by num_classes.
SQUEEZENET_1_0: tuple[Row, ...] = (
    Conv("conv1", 96, 7, 2),
    MaxPool("maxpool1"),
    FireRow("fire2", 16, 64, 64),
    FireRow("fire3", 16, 64, 64),
    FireRow("fire4", 32, 128, 128),
    MaxPool("maxpool4"),
    FireRow("fire5", 32, 128, 128),
    FireRow("fire6", 48, 192, 192),
    FireRow("fire7", 48, 192, 192),
    FireRow("fire8", 64, 256, 256),
    MaxPool("maxpool8"),
    FireRow("fire9", 64, 256, 256),
)
# SqueezeNet v1.1 (github.com/forresti/SqueezeNet, SqueezeNet_v1.1/train_val.prototxt).
SQUEEZENET_1_1: tuple[Row, ...] = (
    Conv("conv1", 64, 3, 2),
    MaxPool("maxpool1"),
    FireRow("fire2", 16, 64, 64),
    FireRow("fire3", 16, 64, 64),
    MaxPool("maxpool3"),
    FireRow("fire4", 32, 128, 128),
    FireRow("fire5", 32, 128, 128),
    MaxPool("maxpool5"),
    FireRow("fire6", 48, 192, 192),
    FireRow("fire7", 48, 192, 192),
    FireRow("fire8", 64, 256, 256),
    FireRow("fire9", 64, 256, 256),
)
TABLES = {"1_0": SQUEEZENET_1_0, "1_1": SQUEEZENET_1_1}
Version = Literal["1_0", "1_1"]


class SqueezeNet(ZooModel):
    """SqueezeNet: conv1, eight fire modules with three max-pooling layers, conv10, global average pool.

    Faithful to the paper: the layers and widths of Table 1 (1,248,424 parameters with 1000
    classes); ReLU after every convolution, conv10 included (§3.3); no fully connected layer:
    conv10 (1x1, one filter per class) and a global average pool are the classifier; dropout 0.5
    after fire9; max-pooling as Caffe computes it (output size rounded up: `ceil_mode=True`);
    initialisation as the released model (Caffe "xavier" fan-in uniform, conv10 N(0, 0.01),
    zero biases). `bypass=True` adds the simple bypass of §6 around fire3/5/7/9.

    Deviations from the paper: any input size >= `min_size` works (the paper's avgpool10 is
    13x13; here it is global); the classifier has `num_classes` filters.
    `head_hidden_size` is 512: the pre-logits vector is the global average of fire9's output
    (conv10 is 1x1 and linear, so it commutes with the pooling; its ReLU does not, so logits are
    computed as the paper does: conv10, ReLU, then pooling).
    """

    classifier_path = "conv10"

    def __init__(self, *, num_classes: int = 1000, in_chans: int = 3, version: Version = "1_0",
                 drop_rate: float = 0.5, bypass: bool = False, se_reduction: int | None = None) -> None:
        super().__init__()
        if version not in TABLES:
            raise ValueError(f"SqueezeNet version must be one of {sorted(TABLES)}, got {version!r}")
        if not 0.0 <= drop_rate < 1.0:
            raise ValueError(f"drop_rate must be in [0, 1), got {drop_rate}")
        self.num_classes, self.in_chans = num_classes, in_chans
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        infos: list[FeatureInfo] = []
        chs, reduction = in_chans, 1
        for row in TABLES[version]:
            if isinstance(row, MaxPool):
                if layers:  # the map before each pooling layer ends a stage
                    infos.append(FeatureInfo(f"features.{next(reversed(layers))}", chs, reduction))
                layers[row.name] = nn.MaxPool2d(3, stride=2, ceil_mode=True)
                reduction *= 2
            elif isinstance(row, Conv):
                layers[row.name] = nn.Sequential(OrderedDict(  # no padding, as in Caffe: 227 -> 111
                    conv=nn.Conv2d(chs, row.filters, row.kernel, stride=row.stride), act=nn.ReLU(inplace=True)))
                chs, reduction = row.filters, reduction * row.stride
            else:
                # §6: the simple bypass goes around the fire modules whose input and output widths agree
                fire = Fire(chs, row.s1x1, row.e1x1, row.e3x3, se_reduction=se_reduction,
                            bypass=bypass and chs == row.e1x1 + row.e3x3)
                layers[row.name] = fire
                chs = fire.out_chs
        infos.append(FeatureInfo(f"features.{next(reversed(layers))}", chs, reduction))
        self.features = nn.Sequential(layers)  # 1.0 at 227: (N, 512, 13, 13)
        self.drop9 = nn.Dropout(drop_rate)  # §3.3: dropout 50% after fire9
        self.conv10 = nn.Conv2d(chs, num_classes, 1) if num_classes else nn.Identity()  # (N, classes, 13, 13)
        self.relu10 = nn.ReLU()  # not in place: with num_classes=0 it would write on fire9's map
        self.num_features = self.head_hidden_size = chs
        self.feature_info = tuple(infos)
        self._init_weights()

    def _init_weights(self) -> None:
        if next(self.parameters()).is_meta:  # nothing to fill (and meta normal_ imports torch._dynamo: seconds)
            return
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                if m is self.conv10:
                    nn.init.normal_(m.weight, std=0.01)
                else:  # Caffe's "xavier" filler: U(-sqrt(3 / fan_in), sqrt(3 / fan_in))
                    nn.init.kaiming_uniform_(m.weight, nonlinearity="linear")
                nn.init.zeros_(m.bias)

    def forward_features(self, x: Tensor) -> Tensor:  # (N, C, 227, 227) -> (N, 512, 13, 13)
        return self.features(x)

    def forward_head(self, x: Tensor, *, pre_logits: bool = False) -> Tensor:
        if pre_logits:
            return global_pool(x)  # (N, 512)
        x = self.relu10(self.conv10(self.drop9(x)))  # (N, classes, 13, 13)
        return global_pool(x)  # avgpool10: (N, classes)


def torchvision_mapping(version: Version) -> Callable[[StateDict], StateDict]:
    """torchvision's `features.<index>` -> our row names, `classifier.1` -> `conv10`."""
    names: dict[str, str] = {}
    index = 0
    for row in TABLES[version]:  # torchvision's Sequential: conv, ReLU, pool, fire, ...
        names[str(index)] = f"{row.name}.conv" if isinstance(row, Conv) else row.name
        index += 2 if isinstance(row, Conv) else 1

    def rename(key: str) -> str:
        if key.startswith("classifier.1."):
            return "conv10." + key.removeprefix("classifier.1.")
        m = re.match(r"features\.(\d+)\.(.*)", key)
        return f"features.{names[m[1]]}.{m[2]}" if m and m[1] in names else key

    return lambda state: {rename(k): v for k, v in state.items()}


register_weight_mapping("squeezenet1_0", library="torchvision")(torchvision_mapping("1_0"))
register_weight_mapping("squeezenet1_1", library="torchvision")(torchvision_mapping("1_1"))

# min_size: the smallest input for which the three 3x3/2 poolings (rounding up) still fit
_CARD = dict(paper=PAPER, input_size=(3, 227, 227))

register_model("squeezenet1_0", SqueezeNet, ModelCard(
    **_CARD, min_size=21, params=1_248_424, top1_err=42.5, top5_err=19.7,
    weights=(Weights("torchvision", "squeezenet1_0", "IMAGENET1K_V1"),),
    notes="SqueezeNet 1.0, the paper's Table 1 (50x fewer parameters than AlexNet at its accuracy; "
          "published errors of the uncompressed model, Table 2)"))
register_model("squeezenet1_1", partial(SqueezeNet, version="1_1"), ModelCard(
    **_CARD, min_size=17,
    weights=(Weights("torchvision", "squeezenet1_1", "IMAGENET1K_V1"),),
    notes="SqueezeNet 1.1 of the authors' repository (no paper): 3x3/2 conv1 with 64 filters, pooling "
          "after conv1, fire3, fire5; 2.4x fewer operations than 1.0 at the same accuracy (repository README)"))
register_model("squeezenet1_0_bypass", partial(SqueezeNet, bypass=True), ModelCard(
    **_CARD, min_size=21, params=1_248_424, top1_err=39.6, top5_err=17.5,
    notes="SqueezeNet 1.0 with the simple bypass of §6 (identity shortcuts around fire3/5/7/9; Table 3)"))
