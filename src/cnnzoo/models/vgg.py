"""VGG (Simonyan & Zisserman 2014), configurations A, A-LRN, B, C, D, E of the paper's Table 1
(seed 000 Fig. 5, seed 002, seed 003).

Every configuration is five stages of 3x3 (C: also 1x1) convolutions, stride 1, "same" padding,
ReLU, each stage closed by a 2x2/2 max-pool; then FC-4096, FC-4096, FC-1000 and soft-max.
Table 2 gives the parameters (millions): A, A-LRN 133; B 133; C 134; D 138; E 144.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from functools import partial
from typing import Literal

from torch import Tensor, nn

from ..errors import ConfigError
from ..layers.conv import conv_block
from ..layers.fc_head import FCHeadNet
from ..layers.local_response_norm import LocalResponseNorm
from ..registry import register_model
from .base import FeatureInfo, check_common_args
from .card import ModelCard, Paper, Weights
from .pretrained import StateDict, register_weight_mapping

PAPER = Paper("Very Deep Convolutional Networks for Large-Scale Image Recognition", "K. Simonyan, A. Zisserman",
              2014, "1409.1556")

Config = Literal["A", "A-LRN", "B", "C", "D", "E"]

# Table 1 ("ConvNet configurations"), one tuple per stage as the paper writes its rows; every
# stage is followed by a "maxpool" row. "convK-N": K x K receptive field, N channels.
CONFIGS: dict[str, tuple[tuple[str, ...], ...]] = {
    "A": (("conv3-64",), ("conv3-128",), ("conv3-256", "conv3-256"), ("conv3-512", "conv3-512"),
          ("conv3-512", "conv3-512")),
    "A-LRN": (("conv3-64", "LRN"), ("conv3-128",), ("conv3-256", "conv3-256"), ("conv3-512", "conv3-512"),
              ("conv3-512", "conv3-512")),
    "B": (("conv3-64", "conv3-64"), ("conv3-128", "conv3-128"), ("conv3-256", "conv3-256"),
          ("conv3-512", "conv3-512"), ("conv3-512", "conv3-512")),
    "C": (("conv3-64", "conv3-64"), ("conv3-128", "conv3-128"), ("conv3-256", "conv3-256", "conv1-256"),
          ("conv3-512", "conv3-512", "conv1-512"), ("conv3-512", "conv3-512", "conv1-512")),
    "D": (("conv3-64", "conv3-64"), ("conv3-128", "conv3-128"), ("conv3-256", "conv3-256", "conv3-256"),
          ("conv3-512", "conv3-512", "conv3-512"), ("conv3-512", "conv3-512", "conv3-512")),
    "E": (("conv3-64", "conv3-64"), ("conv3-128", "conv3-128"),
          ("conv3-256", "conv3-256", "conv3-256", "conv3-256"), ("conv3-512", "conv3-512", "conv3-512", "conv3-512"),
          ("conv3-512", "conv3-512", "conv3-512", "conv3-512")),
}
FC_WIDTHS = (4096, 4096)  # FC-4096, FC-4096; FC-1000 is the classifier
POOLED_SIZE = 7  # the last map at 224x224: 7x7x512 = 25088 inputs of the first FC layer
# Table 2: number of parameters (in millions).
TABLE2_PARAMS_M = {"A": 133, "A-LRN": 133, "B": 133, "C": 134, "D": 138, "E": 144}
# Table 3: top-1 / top-5 val. error (%) at a single test scale, trained and tested at S = Q = 256.
TABLE3_ERRORS = {"A": (29.6, 10.4), "A-LRN": (29.7, 10.5), "B": (28.7, 9.9), "C": (28.1, 9.4),
                 "D": (27.0, 8.8), "E": (27.3, 9.0)}
_CONV = re.compile(r"conv(\d+)-(\d+)")


class VGGStage(nn.Sequential):
    """One block of Table 1: its convolutions (`conv1`, `conv2`, ...; `lrn` for A-LRN) and the max-pool."""

    def __init__(self, in_chs: int, rows: tuple[str, ...], *, batch_norm: bool) -> None:
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        chs, convs = in_chs, 0
        for row in rows:
            if row == "LRN":  # A-LRN: "LRN" after conv3-64, with Krizhevsky et al.'s parameters (§2.1)
                layers["lrn"] = LocalResponseNorm()
                continue
            size, chs_out = map(int, _CONV.fullmatch(row).groups())  # type: ignore[union-attr]
            convs += 1
            layers[f"conv{convs}"] = conv_block(chs, chs_out, size, padding=size // 2, batch_norm=batch_norm)
            chs = chs_out
        layers["pool"] = nn.MaxPool2d(2, 2)
        super().__init__(layers)
        self.rows, self.out_chs = rows, chs

    def forward(self, x: Tensor) -> Tensor:  # (N, in, H, W) -> (N, out, H/2, W/2)
        return super().forward(x)

    def paper_columns(self) -> dict[str, int | str]:
        """The stage's rows of Table 1, e.g. {"layers": "conv3-256, conv3-256, conv1-256, maxpool"}."""
        return {"layers": ", ".join((*self.rows, "maxpool"))}


class GlorotLinear(nn.Linear):
    """A Linear layer initialised once, by Glorot & Bengio's uniform rule with zero bias (the FC
    layers hold 90% of VGG's weights: initialising them twice doubles the build time)."""

    def reset_parameters(self) -> None:
        nn.init.xavier_uniform_(self.weight)
        if self.bias is not None:
            nn.init.zeros_(self.bias)


class VGG(FCHeadNet):
    """VGG configuration A, A-LRN, B, C, D or E of Table 1 (Simonyan & Zisserman 2014).

    Faithful to the paper in: the configurations' layers (C's 1x1 convolutions in the last three
    stages; A-LRN's normalisation after the first layer, with AlexNet's k=2, n=5, alpha=1e-4,
    beta=0.75); 3x3 convolutions with stride 1 and padding 1; 2x2/2 max-pooling; ReLU after every
    hidden layer; two FC-4096 layers with dropout 0.5 (§3.1) and the FC-1000 classifier; biases
    initialised to zero and weights by Glorot & Bengio's uniform rule (the paper's footnote to
    §3.1: it "is possible to initialise the weights without pre-training" that way).

    Deviations from the paper:
    - an adaptive average pooling to 7x7 before the first FC layer (torchvision's; the identity at
      224x224) lets any input of at least 32x32 work (the five max-pools halve it five times).
      It stands in for the paper's dense evaluation (§3.2), where the FC layers become 7x7 and
      1x1 convolutions applied over the whole uncropped image and the class score map is averaged;
    - `batch_norm=True` (the `_bn` variants) adds BatchNorm after every convolution, keeping the
      convolution's bias: this is torchvision's addition, not in the paper (which predates BN);
    - the cards' normalisation is torchvision's ImageNet mean/std so that its weights load as
      published; the paper only subtracts the mean RGB value (§2.1);
    - no multi-scale training, scale jittering or initialisation from configuration A's weights
      (the trainer's business, not the architecture's).
    """

    def __init__(self, *, num_classes: int = 1000, in_chans: int = 3, config: Config = "D", batch_norm: bool = False,
                 drop_rate: float = 0.5) -> None:
        super().__init__()
        check_common_args(num_classes=num_classes, in_chans=in_chans, drop_rate=drop_rate)
        if config not in CONFIGS:
            raise ConfigError(f"VGG config must be one of {', '.join(CONFIGS)}, got {config!r}")
        self.num_classes, self.in_chans, self.config = num_classes, in_chans, config

        stages, infos, chs = [], [], in_chans
        for i, rows in enumerate(CONFIGS[config]):
            stages.append(VGGStage(chs, rows, batch_norm=batch_norm))
            chs = stages[-1].out_chs
            infos.append(FeatureInfo(f"stages.{i}", chs, 2 ** (i + 1)))
        self.stages = nn.Sequential(*stages)  # (N, 512, 7, 7) at 224x224
        self.feature_info = tuple(infos)
        self._build_head(chs, pooled_size=POOLED_SIZE, widths=FC_WIDTHS, num_classes=num_classes, drop_rate=drop_rate,
                         dropout_first=False, linear=GlorotLinear)
        for m in self.stages.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward_features(self, x: Tensor) -> Tensor:  # (N, C, 224, 224) -> (N, 512, 7, 7)
        return self.stages(x)


def torchvision_names(config: str, batch_norm: bool) -> dict[str, str]:
    """torchvision's module prefixes -> ours, walking its flat `features` list as `make_layers` builds it."""
    names, index = {}, 0
    for s, rows in enumerate(CONFIGS[config]):
        convs = [r for r in rows if r != "LRN"]
        for j, _ in enumerate(convs, start=1):
            names[f"features.{index}."] = f"stages.{s}.conv{j}.conv."
            if batch_norm:
                names[f"features.{index + 1}."] = f"stages.{s}.conv{j}.bn."
            index += 3 if batch_norm else 2  # conv, [bn], relu
        index += 1  # max-pool
    names |= {"classifier.0.": "pre_logits.fc6.", "classifier.3.": "pre_logits.fc7.", "classifier.6.": "fc8."}
    return names


def _rename(state: StateDict, *, config: str, batch_norm: bool) -> StateDict:
    table = torchvision_names(config, batch_norm)
    out: StateDict = {}
    for key, value in state.items():
        prefix, _, param = key.rpartition(".")
        out[table.get(prefix + ".", prefix + ".") + param] = value
    return out


def _register(config: str, *, torchvision: str | None) -> None:
    """vgg_<config> and vgg_<config>_bn, plus torchvision's name (vgg16, vgg16_bn...) for the same network."""
    top1, top5 = TABLE3_ERRORS[config]
    for bn in (False, True):
        suffix = "_bn" if bn else ""
        names = ["vgg_" + config.lower().replace("-", "_") + suffix] + ([torchvision + suffix] if torchvision else [])
        card = ModelCard(
            paper=PAPER, params=TABLE2_PARAMS_M[config] * 1_000_000,
            top1_err=None if bn else top1, top5_err=None if bn else top5,
            weights=(Weights("torchvision", torchvision + suffix, "IMAGENET1K_V1"),) if torchvision else (),
            notes=f"configuration {config} of Table 1" + (f" (= {torchvision}{suffix})" if torchvision else "")
                  + (" with BatchNorm after every conv (torchvision's addition, not in the paper)" if bn else
                     f"; published error {top1}/{top5}% top-1/top-5 (Table 3, S = Q = 256)"))
        builder = partial(VGG, config=config, batch_norm=bn)  # one builder object for the aliases
        for name in names:
            register_model(name, builder, card)
        if torchvision:
            register_weight_mapping(*names, library="torchvision")(partial(_rename, config=config, batch_norm=bn))


_register("A", torchvision="vgg11")
_register("A-LRN", torchvision=None)
_register("B", torchvision="vgg13")
_register("C", torchvision=None)
_register("D", torchvision="vgg16")
_register("E", torchvision="vgg19")
