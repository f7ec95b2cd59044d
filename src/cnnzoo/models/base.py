"""The model contract every cnnzoo network follows (as timm's).

    logits   = model(x)                                  # (N, num_classes)
    features = model.forward_features(x)                 # (N, num_features, h, w)
    logits   = model.forward_head(features)              # (N, num_classes)
    pooled   = model.forward_head(features, pre_logits=True)   # (N, head_hidden_size)
    maps     = model.forward_intermediates(x)            # one map per entry of feature_info
    model.reset_classifier(5)                            # new head for 5 classes (0: no head)

Fine-tuning, feature extraction, interpretation and the architecture tables are written once
against this contract. A model with auxiliary classifiers (GoogLeNet, Inception v3) returns
`AuxOutputs(logits, aux)` from `forward` in training mode; `split_outputs` unpacks either form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class FeatureInfo:
    """One stage's feature map: the module producing it, its channels and its stride."""

    module: str  # dotted name inside the model, e.g. "stages.2"
    num_chs: int  # channels of the map
    reduction: int  # input size / map size (the stage's total stride)


class AuxOutputs(NamedTuple):
    """Training-mode output of models with auxiliary classifiers.

    The trainer's loss is CE(logits) + aux_weight * sum(CE(a) for a in aux)
    (GoogLeNet §5: weight 0.3; Inception v3 §7 uses one auxiliary head).
    """

    logits: Tensor
    aux: tuple[Tensor, ...]
    aux_weight: float


def split_outputs(out: Tensor | AuxOutputs) -> tuple[Tensor, tuple[Tensor, ...], float]:
    """(logits, auxiliary logits, auxiliary loss weight) from any model's output."""
    if isinstance(out, AuxOutputs):
        return out.logits, out.aux, out.aux_weight
    return out, (), 0.0


class ZooModel(nn.Module):
    """Base class of every cnnzoo classifier.

    Subclasses set, in `__init__`: `num_classes`, `in_chans`, `num_features` (channels of the
    `forward_features` map), `head_hidden_size` (width of the pre-logits vector; equals
    `num_features` unless the head has hidden layers), `feature_info` (one `FeatureInfo` per
    stage, in forward order) and `classifier_path` (dotted name of the final layer); and
    implement `forward_features` and `forward_head`.
    """

    num_classes: int
    in_chans: int
    num_features: int
    head_hidden_size: int
    feature_info: tuple[FeatureInfo, ...]
    classifier_path: str = "fc"
    aux_classifier_paths: tuple[str, ...] = ()  # final layers of auxiliary heads (GoogLeNet: "aux1.fc2", ...)
    # the paper's own figures for a table row, shown by `cnnzoo show` beside the counted ones:
    # {module name: {"params (paper)": "159K", ...}} (GoogLeNet's Table 1 prints params and ops)
    paper_figures: dict[str, dict[str, str]] = {}
    model_name: str | None = None  # set by create_model: the registry name it was built from
    model_args: dict[str, object] = {}  # set by create_model: the overrides it was built with

    def forward_features(self, x: Tensor) -> Tensor:  # (N, C, H, W) -> (N, F, h, w)
        raise NotImplementedError

    def forward_head(self, x: Tensor, *, pre_logits: bool = False) -> Tensor:
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor | AuxOutputs:
        return self.forward_head(self.forward_features(x))

    # -- classifier --------------------------------------------------------------------------
    def get_classifier(self) -> nn.Module:
        return self.get_submodule(self.classifier_path)

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the final layer by a freshly initialised one with `num_classes` outputs.

        `num_classes=0` removes it (the model then returns pre-logits features). The layer's
        kind is kept: a `Linear` becomes a `Linear`, a 1x1 `Conv2d` (SqueezeNet) a 1x1 `Conv2d`.
        The final layers of auxiliary heads (`aux_classifier_paths`) are replaced the same way.
        """
        if num_classes < 0:
            raise ValueError(f"num_classes must be >= 0, got {num_classes}")
        self._set_submodule(self.classifier_path, make_classifier(self.get_classifier(), self.head_hidden_size, num_classes))
        for path in self.aux_classifier_paths:  # auxiliary heads follow the main one
            try:
                old = self.get_submodule(path)
            except AttributeError:  # built without auxiliary heads
                continue
            widths = self.__dict__.setdefault("_aux_widths", {})
            if not isinstance(old, nn.Identity):
                widths[path] = old.in_features if isinstance(old, nn.Linear) else old.in_channels
            self._set_submodule(path, make_classifier(old, widths[path], num_classes))
        self.num_classes = num_classes

    def _set_submodule(self, path: str, module: nn.Module) -> None:
        parent_name, _, child = path.rpartition(".")
        parent = self.get_submodule(parent_name) if parent_name else self
        setattr(parent, child, module)

    # -- features ----------------------------------------------------------------------------
    def forward_intermediates(self, x: Tensor, indices: list[int] | None = None) -> list[Tensor]:
        """The feature maps of the stages in `feature_info` (all, or those at `indices`).

        Written once for every model: forward hooks on the modules `feature_info` names.
        """
        infos = list(self.feature_info)
        wanted = range(len(infos)) if indices is None else indices
        for i in wanted:
            if not -len(infos) <= i < len(infos):
                raise IndexError(f"feature index {i} out of range: the model has {len(infos)} stages")
        names = [infos[i].module for i in wanted]
        maps: dict[str, Tensor] = {}
        handles = []
        for name in dict.fromkeys(names):
            def hook(_m: nn.Module, _inp: object, out: Tensor, name: str = name) -> None:
                maps[name] = out
            handles.append(self.get_submodule(name).register_forward_hook(hook))
        try:
            self.forward_features(x)
        finally:
            for h in handles:
                h.remove()
        return [maps[n] for n in names]


def make_classifier(old: nn.Module, in_features: int, num_classes: int) -> nn.Module:
    """A new final layer shaped like `old` (Linear or 1x1 Conv2d), or Identity for 0 classes."""
    if num_classes == 0:
        return nn.Identity()
    if isinstance(old, nn.Conv2d):
        return nn.Conv2d(in_features, num_classes, kernel_size=1)
    return nn.Linear(in_features, num_classes)


def global_pool(x: Tensor) -> Tensor:
    """Global average pooling: (N, C, H, W) -> (N, C)."""
    return torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)


def check_common_args(*, num_classes: int, in_chans: int, drop_rate: float = 0.0) -> None:
    """ValueError (a ConfigError) for the constructor arguments every classifier shares."""
    from ..errors import ConfigError
    if num_classes < 0:
        raise ConfigError(f"num_classes must be >= 0, got {num_classes}")
    if in_chans < 1:
        raise ConfigError(f"in_chans must be >= 1, got {in_chans}")
    if not 0.0 <= drop_rate < 1.0:
        raise ConfigError(f"drop_rate must be in [0, 1), got {drop_rate}")


def he_init(model: nn.Module) -> None:
    """He et al. 2015 ("Delving deep into rectifiers") initialisation, as the ResNet family and
    torchvision use it: convolution weights N(0, 2 / fan_out), convolution biases 0, batch-norm
    scale 1 and shift 0. Nothing to do on the meta device (and `normal_` there costs seconds)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d) and not m.weight.is_meta:
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d) and m.affine and not m.weight.is_meta:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
