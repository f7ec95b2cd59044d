"""Naming a layer of any model, and reading its output (and the gradient there) with a hook.

A layer is named by a dotted module path (`layer3.1.conv2`, as `cnnzoo show` prints them) or by
the index of a stage in the model's `feature_info` (`-1` is the last stage). Unknown names raise
`LayerError` with one line listing the `feature_info` stages and the module paths closest to
the name given.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from ..errors import CnnzooError

_LISTED_PATHS = 40  # models with at most this many modules get all of them in the message


class LayerError(CnnzooError, ValueError):
    """A layer name that is not in the model, or a layer that cannot be used as asked."""


def model_label(model: nn.Module) -> str:
    return str(getattr(model, "model_name", None) or type(model).__name__)


def stage_names(model: nn.Module) -> list[str]:
    """The module paths of the model's `feature_info` stages, in forward order."""
    return [f.module for f in getattr(model, "feature_info", ())]


def resolve_layer(model: nn.Module, name: str | int) -> str:
    """The dotted module path `name` denotes: a module path, or a `feature_info` index."""
    paths = {n for n, _ in model.named_modules() if n}
    text = str(name).strip()
    if text in paths:
        return text
    stages = stage_names(model)
    try:
        index = int(text)
    except ValueError:
        index = None
    if index is not None and stages and -len(stages) <= index < len(stages):
        return stages[index]
    raise LayerError(unknown_layer_message(model, text))


def unknown_layer_message(model: nn.Module, name: str) -> str:
    """One line: the stages (by name and index) and the module paths a user could mean."""
    paths = [n for n, _ in model.named_modules() if n]
    stages = stage_names(model)
    stage_text = ", ".join(f"{s} ({i})" for i, s in enumerate(stages)) or "none"
    if len(paths) <= _LISTED_PATHS:
        module_text = ", ".join(paths)
    else:
        close = difflib.get_close_matches(name, paths, n=8, cutoff=0.5)
        top = [p for p in paths if "." not in p]
        module_text = ", ".join(dict.fromkeys(close + top))
        module_text += f" ... ({len(paths)} module paths in all, as `cnnzoo show` lists them)"
    return (f"unknown layer {name!r} in {model_label(model)}: valid layers are the feature_info stages "
            f"{stage_text}; or a module path: {module_text}")


def conv_weight(module: nn.Module) -> Tensor | None:
    """The (out, in/groups, kh, kw) kernel of a convolution-like module (cnnzoo's sparse and
    full convolutions included), or None."""
    dense = getattr(module, "dense_weight", None)
    if callable(dense):
        return dense()
    w = getattr(module, "weight", None)
    return w if isinstance(w, Tensor) and w.dim() == 4 else None


@dataclass
class Tap:
    """Forward hook on one module that keeps its output as a leaf tensor requiring grad.

    The model sees a copy of that output, so in-place operations after the layer (ReLU(inplace))
    cannot overwrite the kept map, and the model's parameters need no gradient (frozen
    networks work). A module called several times (a shared ReLU) keeps its last call.
    """

    model: nn.Module
    layer: str
    output: Tensor | None = None
    _handle: object = field(default=None, repr=False)

    def _hook(self, _m: nn.Module, _inputs: object, out: object) -> Tensor:
        if not isinstance(out, Tensor):
            raise LayerError(f"layer {self.layer!r} of {model_label(self.model)} returns "
                             f"{type(out).__name__}, not a tensor: choose another layer")
        kept = out.detach().float().requires_grad_(True)
        self.output = kept
        return kept.to(out.dtype).clone()


@contextmanager
def tap(model: nn.Module, layer: str) -> Iterator[Tap]:
    """`with tap(model, "layer4") as t: model(x)` -> `t.output` (N, C, h, w) leaf tensor."""
    t = Tap(model, layer)
    handle = model.get_submodule(layer).register_forward_hook(t._hook)
    try:
        with torch.enable_grad():
            yield t
    finally:
        handle.remove()


def spatial_map(model: nn.Module, layer: str, out: Tensor | None, *, what: str) -> Tensor:
    """`out` checked to be an (N, C, h, w) map with more than one position."""
    if out is None:
        raise LayerError(f"layer {layer!r} of {model_label(model)} was not called by the forward pass")
    if out.dim() != 4 or out.shape[-2] * out.shape[-1] < 2:
        shape = "(N, " + ", ".join(str(s) for s in out.shape[1:]) + ")"
        good = ", ".join(stage_names(model)) or "a convolutional layer's module path"
        raise LayerError(f"{what} needs a spatial map, but layer {layer!r} of {model_label(model)} gives {shape}: "
                         f"choose a layer with an (N, C, H, W) output larger than 1x1, e.g. one of {good}")
    return out


@torch.no_grad()
def map_shapes(model: nn.Module, x: Tensor, layers: list[str]) -> dict[str, tuple[int, ...]]:
    """Output shape of each of `layers` for input `x` (one forward pass, hooks only)."""
    shapes: dict[str, tuple[int, ...]] = {}
    handles = []
    for name in layers:
        def hook(_m: nn.Module, _i: object, out: object, name: str = name) -> None:
            if isinstance(out, Tensor):
                shapes[name] = tuple(out.shape)
        handles.append(model.get_submodule(name).register_forward_hook(hook))
    try:
        model(x)
    finally:
        for h in handles:
            h.remove()
    return shapes


def default_spatial_layer(model: nn.Module, x: Tensor) -> str:
    """The last `feature_info` stage whose map is larger than 1x1 (Grad-CAM's default layer).

    Models without `feature_info` use their last module with a 4-d output larger than 1x1.
    """
    stages = stage_names(model) or [n for n, _ in model.named_modules() if n]
    shapes = map_shapes(model, x[:1], stages)
    for name in reversed(stages):
        s = shapes.get(name)
        if s is not None and len(s) == 4 and s[-2] * s[-1] > 1:
            return name
    raise LayerError(f"{model_label(model)} has no layer with a spatial map larger than 1x1 "
                     f"at input size {tuple(x.shape[1:])}")


@contextmanager
def frozen_eval(model: nn.Module) -> Iterator[nn.Module]:
    """The model in eval mode with parameters that need no gradient; both restored after."""
    training = model.training
    flags = [(p, p.requires_grad) for p in model.parameters()]
    model.eval()
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield model
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
        model.train(training)
