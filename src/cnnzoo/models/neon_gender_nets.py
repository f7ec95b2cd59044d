"""The small networks of seed 001: gender classification from face photos with Intel neon.

Seed 001 (a UNN lecture of the course "Introduction to deep learning with the Intel neon
Framework") compares fully connected and convolutional networks on predicting a person's gender
from a photograph, and prints them as lists of neon layers:

    network  structure (neon layers)                                                accuracy  time
    FCNN-1   Affine(128, Tanh), Affine(2, Logistic)                                    71.2 %   932 s
    FCNN-2   Affine(128, Tanh), Affine(64, Tanh), Affine(2, Logistic)                  73.5 %   977 s
    FCNN-3   Affine(400, Rectlin), Affine(50, Logistic), Affine(2, Logistic)           77.7 %  1013 s
    CNN-1    Conv((3,3,32), Rectlin), Pooling((3,3), 2, 'max'), Conv((3,3,64), Rectlin),
             Pooling((3,3), 2, 'max'), Affine(2), Logistic                             79.3 %  1582 s
    CNN-2    Conv((3,3,32), Explin), Pooling((5,5), 2, 'max'), Conv((3,3,32), Explin), BatchNorm,
             Conv((1,1,64), Explin), BatchNorm, Conv((3,3,64), Explin), BatchNorm,
             Conv((1,1,128), Explin), BatchNorm, Conv((3,3,128), Explin), BatchNorm,
             Conv((3,3,2), Explin), BatchNorm, Conv((1,1,2), Explin), BatchNorm,
             Pooling('avg'), Affine(2, Logistic)                                       83.5 %  2030 s

and gives CNN-1's code in full (`generate_cnn_model`): DataTransform(Normalizer(divisor=128)),
Conv((3,3,32), padding=2, strides=1, dilation=2, Kaiming, Rectlin), Pooling((3,3), padding=1,
strides=2, 'max'), the same with 64 kernels, Affine(nout=2, Xavier, Logistic(shortcut=True)),
cost CrossEntropyBinary. neon names: Rectlin = ReLU, Explin = ELU (alpha 1), Logistic = sigmoid.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Literal

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from ..registry import register_model
from .base import FeatureInfo, ZooModel, global_pool
from .card import ModelCard, Paper

PAPER = Paper("Convolutional neural networks. Deep residual networks (UNN lecture, Intel neon course)",
              "V. Kustikova, M. Zhiltsov, N. Zolotykh", 2018)

Activation = Literal["rectlin", "explin", "tanh", "logistic"]
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "rectlin": partial(nn.ReLU, inplace=True), "explin": partial(nn.ELU, alpha=1.0, inplace=True),
    "tanh": nn.Tanh, "logistic": nn.Sigmoid}
NEON_NAMES = {"rectlin": "Rectlin", "explin": "Explin", "tanh": "Tanh", "logistic": "Logistic"}
# neon's BatchNorm: rho 0.9 (running = 0.9 running + 0.1 batch, PyTorch's momentum 0.1), eps 1e-3.
BN_EPS, BN_MOMENTUM = 1e-3, 0.1
# CNN-1's DataTransform(Normalizer(divisor=128)) on 0-255 pixels, i.e. x / (128 / 255) on 0-1 ones.
PIXEL_DIVISOR = 128 / 255
IMG_SIZE = 128  # assumed: seed 001's text does not state it (see the class docstring)


@dataclass(frozen=True)
class Conv:
    """neon Conv(fshape=(k, k, nfm), padding, strides=1, dilation, activation), then BatchNorm() if `batch_norm`."""

    k: int
    nfm: int
    act: Activation
    padding: int = 0  # neon's default
    dilation: int = 1
    batch_norm: bool = False

    def out_size(self, size: int) -> int:  # neon's output_dim: floor((X - S + 2 pad) / stride) + 1
        return size + 2 * self.padding - self.dilation * (self.k - 1)

    def neon(self) -> str:
        extra = f", padding={self.padding}, dilation={self.dilation}" if self.padding or self.dilation > 1 else ""
        return f"Conv(({self.k},{self.k},{self.nfm}){extra}, {NEON_NAMES[self.act]})" + (
            ", BatchNorm" if self.batch_norm else "")


@dataclass(frozen=True)
class Pool:
    """neon Pooling(fshape=(k, k), strides, padding, op); k=None is Pooling('all'): over the whole map."""

    k: int | None
    stride: int = 1
    padding: int = 0
    op: Literal["max", "avg"] = "max"

    def out_size(self, size: int) -> int:
        return 1 if self.k is None else (size + 2 * self.padding - self.k) // self.stride + 1

    def neon(self) -> str:
        if self.k is None:
            return f"Pooling('{self.op}')"
        pad = f", padding={self.padding}" if self.padding else ""
        return f"Pooling(({self.k},{self.k}), {self.stride}{pad}, '{self.op}')"


@dataclass(frozen=True)
class Affine:
    """neon Affine(nout, activation); nout=None is the output layer (one unit per class)."""

    nout: int | None
    act: Activation

    def neon(self) -> str:
        return f"Affine({self.nout or 'classes'}, {NEON_NAMES[self.act]})"


Layer = Conv | Pool | Affine
OUTPUT = Affine(None, "logistic")  # Affine(2, Logistic): replaced by a linear layer + softmax cross-entropy

# Seed 001's tables (lines 370-390); CNN-1 as its code gives it (padding 2, dilation 2, pool padding 1).
NETWORKS: dict[str, tuple[Layer, ...]] = {
    "FCNN-1": (Affine(128, "tanh"), OUTPUT),
    "FCNN-2": (Affine(128, "tanh"), Affine(64, "tanh"), OUTPUT),
    "FCNN-3": (Affine(400, "rectlin"), Affine(50, "logistic"), OUTPUT),
    "CNN-1": (Conv(3, 32, "rectlin", padding=2, dilation=2), Pool(3, 2, padding=1),
              Conv(3, 64, "rectlin", padding=2, dilation=2), Pool(3, 2, padding=1), OUTPUT),
    "CNN-2": (Conv(3, 32, "explin"), Pool(5, 2),
              Conv(3, 32, "explin", batch_norm=True), Conv(1, 64, "explin", batch_norm=True),
              Conv(3, 64, "explin", batch_norm=True), Conv(1, 128, "explin", batch_norm=True),
              Conv(3, 128, "explin", batch_norm=True), Conv(3, 2, "explin", batch_norm=True),
              Conv(1, 2, "explin", batch_norm=True), Pool(None, op="avg"), OUTPUT),
}
PUBLISHED_ACCURACY = {"FCNN-1": 71.2, "FCNN-2": 73.5, "FCNN-3": 77.7, "CNN-1": 79.3, "CNN-2": 83.5}


class NeonLayer(nn.Sequential):
    """One row of seed 001's layer lists: conv or linear -> activation [-> BatchNorm], as in neon."""

    def __init__(self, row: Conv | Affine, in_features: int, *, bias: bool) -> None:
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        if isinstance(row, Conv):
            layers["conv"] = nn.Conv2d(in_features, row.nfm, row.k, padding=row.padding, dilation=row.dilation,
                                       bias=bias)
            nn.init.kaiming_normal_(layers["conv"].weight, nonlinearity="relu")  # neon Kaiming(): N(0, 2 / fan_in)
        else:
            layers["fc"] = nn.Linear(in_features, row.nout or 0, bias=bias)
            _neon_xavier(layers["fc"])
        layers["act"] = ACTIVATIONS[row.act]()
        if isinstance(row, Conv) and row.batch_norm:
            layers["bn"] = nn.BatchNorm2d(row.nfm, eps=BN_EPS, momentum=BN_MOMENTUM)  # neon: after the activation
        super().__init__(layers)
        self.row = row

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x)

    def paper_columns(self) -> dict[str, int | str]:
        return {"neon layer": self.row.neon()}


def _neon_xavier(layer: nn.Linear) -> None:
    """neon's Xavier(): U(-sqrt(3 / fan_in), sqrt(3 / fan_in)); biases (when present) zero."""
    nn.init.kaiming_uniform_(layer.weight, nonlinearity="linear")
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)


class GenderNet(ZooModel):
    """FCNN-1/2/3 and CNN-1/2 of seed 001 (gender from a face photo; 2 classes).

    Faithful to the lecture in: the layers, widths, kernel sizes and activations of its tables;
    CNN-1's padding 2 / dilation 2 convolutions and padded 3x3/2 max-pools from its code; neon's
    defaults where the tables say nothing (no padding, stride 1; output sizes rounded down); neon's
    layer order conv -> activation -> BatchNorm (BatchNorm is a separate layer after `Conv(...,
    activation)`); no biases: neon's `Conv` and `Affine` add one only when given a `bias`
    initialiser, and the lecture's code gives none (`bias=True` adds them); neon's Kaiming()
    initialisation of the convolutions and Xavier() of the affine layers (from CNN-1's code);
    the input scaling x / 128 of 0-255 pixels (the card's std of 128/255).

    FCNN-1/2/3 have no convolutional part: `forward_features` returns the image itself (an empty
    `features` stage) and the head flattens it. Their first affine layer, and CNN-1's output
    layer, read the flattened map, so those four networks work only at the `img_size` they are
    built for (the card's min_size is that size). CNN-2 ends with global average pooling and works
    from 23x23 up.

    Deviations from the lecture:
    - the output layer Affine(2, Logistic) trained with binary cross-entropy on the two one-hot
      outputs (CrossEntropyBinary) is a linear layer whose logits go to softmax cross-entropy, as
      for every zoo model; for two classes the decision is the same (argmax);
    - the input size: seed 001's text does not state it (the slide with the network's picture did
      not survive the extraction) and neither does its code; `img_size` defaults to 128x128 RGB,
      an assumption.
    """

    classifier_path = "output"

    def __init__(self, *, num_classes: int = 2, in_chans: int = 3, network: Literal[
                 "FCNN-1", "FCNN-2", "FCNN-3", "CNN-1", "CNN-2"] = "CNN-1", img_size: int = IMG_SIZE,
                 bias: bool = False) -> None:
        super().__init__()
        if network not in NETWORKS:
            raise ConfigError(f"network must be one of {', '.join(NETWORKS)}, got {network!r}")
        if num_classes < 0 or in_chans < 1:
            raise ConfigError(f"need num_classes >= 0 and in_chans >= 1, got {num_classes} and {in_chans}")
        rows = NETWORKS[network]
        self.num_classes, self.in_chans, self.network, self.img_size = num_classes, in_chans, network, img_size

        # Convolutional part: the rows before the first Affine / global pooling.
        features: OrderedDict[str, nn.Module] = OrderedDict()
        infos: list[FeatureInfo] = []
        chs, size, reduction, counts = in_chans, img_size, 1, {"conv": 0, "pool": 0}
        body = [r for r in rows if not isinstance(r, Affine) and not (isinstance(r, Pool) and r.k is None)]
        for row in body:
            kind = "conv" if isinstance(row, Conv) else "pool"
            counts[kind] += 1
            name = f"{kind}{counts[kind]}"
            if isinstance(row, Conv):
                features[name] = NeonLayer(row, chs, bias=bias)
                chs = row.nfm
            else:
                features[name] = nn.MaxPool2d(row.k, row.stride, row.padding)  # type: ignore[arg-type]
                reduction *= row.stride
            size = row.out_size(size)
            if size < 1:
                raise ConfigError(f"{network} needs a larger input than {img_size}x{img_size}: {name} has no output")
            if kind == "pool" or row is body[-1]:
                infos.append(FeatureInfo(f"features.{name}", chs, reduction))
        self.features = nn.Sequential(features)  # empty for the FCNNs: the image itself
        self.feature_info = tuple(infos) or (FeatureInfo("features", chs, 1),)
        self.num_features = chs
        self.global_pool = any(isinstance(r, Pool) and r.k is None for r in rows)
        self.flat_size = chs if self.global_pool else chs * size * size  # the first affine layer's inputs

        hidden: OrderedDict[str, nn.Module] = OrderedDict()
        width = self.flat_size
        for i, row in enumerate((r for r in rows if isinstance(r, Affine) and r.nout), start=1):
            hidden[f"fc{i}"] = NeonLayer(row, width, bias=bias)
            width = row.nout  # type: ignore[assignment]
        self.hidden = nn.Sequential(hidden)
        self.head_hidden_size = width
        self.output = nn.Linear(width, num_classes, bias=bias) if num_classes else nn.Identity()
        if isinstance(self.output, nn.Linear):
            _neon_xavier(self.output)

    def forward_features(self, x: Tensor) -> Tensor:  # (N, 3, 128, 128) -> e.g. CNN-1 (N, 64, 32, 32)
        return self.features(x)

    def forward_head(self, x: Tensor, *, pre_logits: bool = False) -> Tensor:
        if self.global_pool:
            x = global_pool(x)  # (N, C): neon Pooling('all', op='avg')
        else:
            if x.shape[1] * x.shape[2] * x.shape[3] != self.flat_size:
                raise ValueError(f"{self.network} built for {self.img_size}x{self.img_size} inputs (its first affine "
                                 f"layer reads {self.flat_size} values) got a {tuple(x.shape[1:])} map; "
                                 f"build it with img_size=<your size>")
            x = torch.flatten(x, 1)  # (N, C*H*W)
        x = self.hidden(x)  # (N, head_hidden_size)
        return x if pre_logits else self.output(x)


_CARD = dict(paper=PAPER, input_size=(3, IMG_SIZE, IMG_SIZE), mean=(0.0, 0.0, 0.0),
             std=(PIXEL_DIVISOR,) * 3, num_classes=2)


def _card(network: str, min_size: int) -> ModelCard:
    return ModelCard(**_CARD, min_size=min_size, notes=(
        f"seed 001's {network} for gender classification: " + ", ".join(r.neon() for r in NETWORKS[network])
        + f" (published: {PUBLISHED_ACCURACY[network]}% accuracy; input size assumed {IMG_SIZE}x{IMG_SIZE})"))


register_model("fcnn_1", partial(GenderNet, network="FCNN-1"), _card("FCNN-1", IMG_SIZE))
register_model("fcnn_2", partial(GenderNet, network="FCNN-2"), _card("FCNN-2", IMG_SIZE))
register_model("fcnn_3", partial(GenderNet, network="FCNN-3"), _card("FCNN-3", IMG_SIZE))
register_model("cnn_1", partial(GenderNet, network="CNN-1"), _card("CNN-1", IMG_SIZE))
register_model("cnn_2", partial(GenderNet, network="CNN-2"), _card("CNN-2", 23))
