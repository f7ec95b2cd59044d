"""Convolution kernels as pictures (seed 002: a trained first layer looks like Gabor filters).

The first layer's kernels, when it reads 3 channels, are shown as small RGB images; otherwise
(grey input, deeper layers) each kernel is shown per input channel. Every kernel is scaled by
its own largest |weight|, so that grey (or white in the diverging colour map) is 0 and the
brightest / darkest pixel is +-1: the shapes are comparable, the magnitudes are not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch import Tensor, nn

from .layers import LayerError, conv_weight, model_label, resolve_layer


@dataclass(frozen=True)
class Filters:
    layer: str  # module path of the convolution
    weight: Tensor  # (out, in / groups, kh, kw), a CPU float copy of the layer's kernel

    @property
    def rgb(self) -> bool:
        return self.weight.shape[1] == 3

    def normalised(self) -> Tensor:
        """(out, in, kh, kw) in [-1, 1]: each kernel divided by its largest |weight|."""
        scale = self.weight.flatten(1).abs().amax(1).clamp_min(1e-12)
        return self.weight / scale[:, None, None, None]


def conv_layers(model: nn.Module) -> list[str]:
    """Module paths of the convolution-like modules, in registration order."""
    return [n for n, m in model.named_modules() if n and conv_weight(m) is not None]


def find_conv(model: nn.Module, layer: str | int | None) -> str:
    """The convolution `layer` names, or the first one inside it (default: the model's first)."""
    convs = conv_layers(model)
    if not convs:
        raise LayerError(f"{model_label(model)} has no convolution layer")
    if layer is None:
        return convs[0]
    name = resolve_layer(model, layer)
    inside = [c for c in convs if c == name or c.startswith(name + ".")]
    if not inside:
        raise LayerError(f"layer {name!r} of {model_label(model)} holds no convolution: "
                         f"choose one of {', '.join(convs[:12])}{' ...' if len(convs) > 12 else ''}")
    return inside[0]


def layer_filters(model: nn.Module, layer: str | int | None = None) -> Filters:
    """The kernels of `layer` (a convolution or a block holding one; default: the first layer)."""
    name = find_conv(model, layer)
    w = conv_weight(model.get_submodule(name))
    assert w is not None
    return Filters(name, w.detach().float().cpu().clone())


def rgb_tiles(f: Filters) -> np.ndarray:
    """(out, kh, kw, 3) in [0, 1]: first-layer colour kernels, 0.5 = zero weight."""
    return (f.normalised().permute(0, 2, 3, 1).numpy() + 1.0) / 2.0


def channel_grid(f: Filters, *, max_out: int, max_in: int, gap: int = 1) -> np.ndarray:
    """(rows * (kh + gap) - gap, cols * (kw + gap) - gap) array in [-1, 1], NaN between tiles:
    one row per output kernel, one column per input channel (first `max_out` x `max_in`)."""
    w = f.normalised()[:max_out, :max_in].numpy()
    o, i, kh, kw = w.shape
    grid = np.full((o * (kh + gap) - gap, i * (kw + gap) - gap), np.nan, dtype=np.float32)
    for r in range(o):
        for c in range(i):
            grid[r * (kh + gap):r * (kh + gap) + kh, c * (kw + gap):c * (kw + gap) + kw] = w[r, c]
    return grid
