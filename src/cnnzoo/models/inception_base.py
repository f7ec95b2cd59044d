"""The Inception-style network: a chain of named layers (a paper's table, row by row), optional
auxiliary classifiers tapped on named layers, and a head of global average pooling, dropout and
a linear classifier `fc`. GoogLeNet, BN-Inception, Inception v3, v4 and Inception-ResNet are it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from torch import Tensor, nn

from ..layers.inception_aux import AuxHeadSpec, InceptionAux
from .base import AuxOutputs, FeatureInfo, ZooModel, check_common_args, global_pool

# One layer of the chain: (name, module, output channels, stride), in forward order.
Layer = tuple[str, nn.Module, int, int]


@dataclass(frozen=True)
class AuxHeads:
    """A network's auxiliary classifiers: (head name, the layer whose output it reads) pairs, the
    heads' form and the weight of their losses (`AuxOutputs.aux_weight`)."""

    taps: tuple[tuple[str, str], ...]
    spec: AuxHeadSpec
    weight: float


def stage_ends(layers: Sequence[Layer]) -> tuple[FeatureInfo, ...]:
    """One `FeatureInfo` per resolution: the last layer before each layer that strides, and the
    last layer. Layers before the first stride (reduction 1) are no stage."""
    stages, reduction = [], 1
    for (name, _, chs, stride), nxt in zip(layers, [*layers[1:], None], strict=True):
        reduction *= stride
        if reduction > 1 and (nxt is None or nxt[3] > 1):
            stages.append(FeatureInfo(name, chs, reduction))
    return tuple(stages)


class InceptionNet(ZooModel):
    """A chain of named layers, auxiliary heads (training mode only) and a pooled linear classifier.

    `forward` returns `AuxOutputs(logits, aux, weight)` in training mode when the auxiliary heads
    were built (`aux_logits=True`), the logits otherwise. `feature_info` ends a stage before
    every layer that strides (and at the end).
    """

    classifier_path = "fc"

    def __init__(self, *, layers: Sequence[Layer], num_classes: int, in_chans: int, drop_rate: float,
                 aux: AuxHeads | None = None, aux_logits: bool = False) -> None:
        super().__init__()
        check_common_args(num_classes=num_classes, in_chans=in_chans, drop_rate=drop_rate)
        self.num_classes, self.in_chans = num_classes, in_chans
        for name, module, _, _ in layers:
            self.add_module(name, module)
        self.layer_names = tuple(name for name, *_ in layers)
        self.feature_info = stage_ends(layers)
        self.num_features = self.head_hidden_size = layers[-1][2]
        # the heads' final layers, listed whether or not they are built (weight loading skips them)
        self.aux_classifier_paths = tuple(f"{head}.{aux.spec.names[2]}" for head, _ in aux.taps) if aux else ()
        self.aux_logits = aux is not None and aux_logits
        self.aux_on: dict[str, str] = dict(aux.taps) if aux and aux_logits else {}  # head -> tapped layer
        self.aux_weight = aux.weight if aux else 0.0
        if aux is not None and aux_logits:
            widths = {name: chs for name, _, chs, _ in layers}
            for head, site in aux.taps:
                self.add_module(head, InceptionAux(widths[site], num_classes, spec=aux.spec))
        self.dropout = nn.Dropout(drop_rate)
        self.fc = nn.Linear(self.num_features, num_classes) if num_classes else nn.Identity()  # (N, num_classes)

    def run_layers(self, x: Tensor, *, with_aux: bool = False) -> tuple[Tensor, tuple[Tensor, ...]]:
        """The last map, and the auxiliary heads' logits (when `with_aux`), in tap order."""
        taps = {site: head for head, site in self.aux_on.items()} if with_aux else {}
        aux = []
        for name in self.layer_names:
            x = self.get_submodule(name)(x)
            if name in taps:
                aux.append(self.get_submodule(taps[name])(x))
        return x, tuple(aux)

    def forward_features(self, x: Tensor) -> Tensor:  # (N, C, H, W) -> (N, F, H/32, W/32)
        return self.run_layers(x)[0]

    def forward_head(self, x: Tensor, *, pre_logits: bool = False) -> Tensor:
        x = self.dropout(global_pool(x))  # (N, F): the tables' last average pool, global
        return x if pre_logits else self.fc(x)

    def forward(self, x: Tensor) -> Tensor | AuxOutputs:
        with_aux = self.training and self.aux_logits
        feats, aux = self.run_layers(x, with_aux=with_aux)
        logits = self.forward_head(feats)
        return AuxOutputs(logits, aux, self.aux_weight) if with_aux else logits
