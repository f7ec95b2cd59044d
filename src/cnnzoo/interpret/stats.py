"""Per-layer responses and gradients for one batch (seed 000 Fig. 13 = He et al. 2015 Fig. 7:
"standard deviations of layer responses ... after BN and before nonlinearity", plain vs
residual; seed 004: gradients vanish on their way back through a deep plain network).

One row per weighted layer (convolution or fully connected), in the order the forward pass
calls them:
- `mean`, `std`: of the layer's response over the batch (all images, channels, positions) —
  read after the batch norm that directly consumes the layer's output when there is one (the
  paper's "after BN, before nonlinearity"), else at the layer's own output;
- `grad_norm`: ||dL/dW||_2 of the layer's weight for the cross-entropy L of the batch (against
  the labels when given, else against the model's own predictions), `weight_norm`: ||W||_2.
The model is used in the mode it is in (eval, as `open_model` gives it), or with
`batch_stats=True` in training mode (batch norm on the batch's statistics; running statistics
restored after); parameters get no `.grad` (gradients are taken with `torch.autograd.grad`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..models.base import split_outputs
from .layers import LayerError, conv_weight, model_label

CSV_COLUMNS = ("index", "layer", "response_at", "kind", "shape", "mean", "std", "weight_norm", "grad_norm")


@dataclass(frozen=True)
class LayerStat:
    index: int  # forward order among the weighted layers
    layer: str  # module path of the convolution / linear layer
    response_at: str  # module whose output `mean` / `std` describe (the BN after it, or the layer)
    kind: str  # conv | linear
    shape: tuple[int, ...]  # of the response
    mean: float
    std: float
    weight_norm: float
    grad_norm: float | None

    def row(self) -> list[object]:
        return [self.index, self.layer, self.response_at, self.kind, "x".join(map(str, self.shape)),
                f"{self.mean:.6g}", f"{self.std:.6g}", f"{self.weight_norm:.6g}",
                "" if self.grad_norm is None else f"{self.grad_norm:.6g}"]


def weighted_layers(model: nn.Module) -> dict[str, nn.Module]:
    return {n: m for n, m in model.named_modules()
            if n and (isinstance(m, nn.Linear) or conv_weight(m) is not None)}


@dataclass
class _Recorder:
    """Forward hooks: response statistics per weighted layer, moved to the BN consuming it."""

    layers: dict[str, nn.Module]
    order: list[str] = field(default_factory=list)
    response: dict[str, tuple[str, tuple[int, ...], float, float]] = field(default_factory=dict)
    outputs: dict[int, tuple[str, Tensor]] = field(default_factory=dict)  # id(output) -> (layer, output)

    def attach(self, model: nn.Module) -> list[torch.utils.hooks.RemovableHandle]:
        handles = [m.register_forward_hook(self._layer_hook(n)) for n, m in self.layers.items()]
        handles += [m.register_forward_hook(self._bn_hook(n)) for n, m in model.named_modules()
                    if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        return handles

    def _layer_hook(self, name: str):  # noqa: ANN202
        def hook(_m: nn.Module, _i: object, out: Tensor) -> None:
            if name in self.response:  # a module called twice: its first call counts
                return
            self.order.append(name)
            self.outputs[id(out)] = (name, out)
            self.response[name] = _describe(name, out)
        return hook

    def _bn_hook(self, bn_name: str):  # noqa: ANN202
        def hook(_m: nn.Module, inputs: tuple[Tensor, ...], out: Tensor) -> None:
            name, kept = self.outputs.get(id(inputs[0]) if inputs else 0, ("", None))
            if kept is not None and kept is inputs[0] and self.response[name][0] == name:
                self.response[name] = _describe(bn_name, out)
        return hook


def _describe(name: str, out: Tensor) -> tuple[str, tuple[int, ...], float, float]:
    v = out.detach().float()
    return name, tuple(v.shape[1:]), v.mean().item(), v.std().item() if v.numel() > 1 else 0.0


def layer_statistics(model: nn.Module, x: Tensor, y: Tensor | None = None, *,
                     gradients: bool = True, batch_stats: bool = False) -> list[LayerStat]:
    """One `LayerStat` per convolution / linear layer for the batch `x` (labels `y`).

    `batch_stats`: run the training-mode forward pass (batch norm with the batch's statistics,
    as in training; dropout active), then restore the mode and the running statistics. An
    untrained network in eval mode has identity batch norms, which is not how it trains."""
    if not batch_stats:
        return _statistics(model, x, y, gradients=gradients)
    buffers = {k: v.clone() for k, v in model.state_dict().items() if k in dict(model.named_buffers())}
    training = model.training
    model.train()
    try:
        return _statistics(model, x, y, gradients=gradients)
    finally:
        model.train(training)
        model.load_state_dict(buffers, strict=False)


def _statistics(model: nn.Module, x: Tensor, y: Tensor | None, *, gradients: bool) -> list[LayerStat]:
    layers = weighted_layers(model)
    if not layers:
        raise LayerError(f"{model_label(model)} has no convolution or linear layer")
    rec = _Recorder(layers)
    weights = {n: m.weight for n, m in layers.items()}
    flags = {n: w.requires_grad for n, w in weights.items()}
    handles = rec.attach(model)
    try:
        for w in weights.values():
            w.requires_grad_(gradients)
        with torch.set_grad_enabled(gradients):
            logits = split_outputs(model(x))[0].float()
        grads = _weight_grads(logits, y, {n: weights[n] for n in rec.order}) if gradients else {}
    finally:
        for h in handles:
            h.remove()
        for n, w in weights.items():
            w.requires_grad_(flags[n])
    rec.outputs.clear()
    rows = []
    for i, name in enumerate(rec.order):
        at, shape, mean, std = rec.response[name]
        kind = "linear" if isinstance(layers[name], nn.Linear) else "conv"
        rows.append(LayerStat(i, name, at, kind, shape, mean, std, weights[name].detach().norm().item(),
                              grads.get(name)))
    return rows


def _weight_grads(logits: Tensor, y: Tensor | None, weights: dict[str, Tensor]) -> dict[str, float]:
    """||dL/dW|| per layer; L = cross-entropy against `y` when it fits, else the predictions."""
    fits = y is not None and len(y) == len(logits) and 0 <= int(y.min()) and int(y.max()) < logits.shape[1]
    target = y.to(logits.device) if fits and y is not None else logits.argmax(1).detach()
    names = list(weights)
    gs = torch.autograd.grad(F.cross_entropy(logits, target), [weights[n] for n in names], allow_unused=True)
    return {n: g.norm().item() for n, g in zip(names, gs, strict=True) if g is not None}
