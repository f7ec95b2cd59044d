"""Receptive fields: how many input pixels one pixel of a map sees.

Seed 000 §3.2 / seed 001: two stacked 3x3 convolutions see 5x5, three see 7x7 — which is why
VGG builds everything from 3x3.

Method (analytic, `receptive_field`): the dispatch-level pass of `trace.py` follows every
operator in forward order and gives each map a field size r and a jump j (input pixels between
neighbouring pixels of the map, the product of the strides so far), per axis. The input has
r = 1, j = 1. Then

- convolution / pooling with kernel k, stride s, dilation d:  r' = r + (k - 1) d j,  j' = j s
  (padding shifts a field but does not change its size);
- adaptive pooling uses its largest window; global pooling, a mean over H and W, or a fully
  connected layer on a flattened map is a window over the whole map, and the result is marked
  "global" (every later pixel sees the whole input);
- everything else (element-wise operations, residual additions, concatenation, normalisation,
  views): the largest r and j of its inputs — the maximum over the paths, so a residual block
  sees what its widest branch sees and an Inception module what its 5x5 branch sees. Inputs
  broadcast from a 1x1 map onto a larger one (squeeze-and-excitation gates) are left out: they
  would make every SE network "global" from its first block.

This is the theoretical receptive field as Araujo, Norris & Sim ("Computing Receptive Fields of
Convolutional Neural Networks", Distill 2019) define it; it does not depend on the input size.
Known values it reproduces: VGG-16 212 (pool5), ResNet-50 427 with torchvision's layout (stride
on the 3x3) and 483 with the paper's (stride on the first 1x1 of a downsampling block).

`receptive_field_by_gradient` checks it the other way: with every weight positive, the nonzero
gradient of the centre output pixel with respect to a large enough input spans the field.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..models.base import ZooModel
from .trace import Field, trace


@dataclass(frozen=True)
class ReceptiveField:
    """The field of the output (`output`: the last feature map before global pooling) and of
    every module's output (`layers`: dotted name -> field, in forward order)."""

    output: Field | None
    layers: dict[str, Field]

    @property
    def size(self) -> tuple[int, int] | None:
        """(H, W) of the output's field in input pixels."""
        if self.output is None:
            return None
        return (int(round(self.output.size[0])), int(round(self.output.size[1])))


def receptive_field(model: nn.Module, input_size: tuple[int, int, int] | None = None) -> ReceptiveField:
    """Receptive fields of `model`'s maps, from one shape-only pass at `input_size` (C, H, W).

    The input size only has to be large enough for the model to run (the card's / spec's by
    default); the fields do not depend on it, except where adaptive pooling changes its window.
    """
    from .summary import resolve_input_size

    size = resolve_input_size(model, input_size)
    t = trace(model, size)
    layers = {r.name: r.field for r in sorted(t.records.values(), key=lambda r: r.order)
              if r.name and r.field is not None}
    return ReceptiveField(t.output_field, layers)  # type: ignore[arg-type]


def receptive_field_by_gradient(model: nn.Module, input_size: tuple[int, int, int], *,
                                layer: str | None = None) -> tuple[int, int]:
    """(H, W) extent of the input pixels that reach the centre pixel of a map, measured.

    On a copy of `model` in eval mode (float64) every convolution / linear weight is set to
    1 / fan-in, biases to 0 and batch norms to the identity, so that every path carries a
    positive signal; the gradient of the centre pixel (summed over channels) of `layer`'s output
    (default: `forward_features` for a ZooModel, else the model's output) with respect to an
    input of ones is nonzero exactly on the pixels it sees. The input must be larger than the
    field, or the image border clips it. `nn.MaxPool2d` modules are measured as a window mean
    over the same positions (a max passes gradient to one pixel per window); max pooling called
    as a function is not replaced.
    """
    m = copy.deepcopy(model).to(device="cpu", dtype=torch.float64).eval()
    for name, mod in list(m.named_modules()):
        if isinstance(mod, nn.MaxPool2d):  # the gradient of a max reaches one pixel per window
            parent, _, child = name.rpartition(".")
            setattr(m.get_submodule(parent) if parent else m, child,
                    _AveragingMax(mod.kernel_size, mod.stride, mod.padding, mod.dilation, mod.ceil_mode))
    with torch.no_grad():
        for mod in m.modules():
            w = getattr(mod, "weight", None)
            if isinstance(mod, nn.modules.batchnorm._BatchNorm):
                mod.reset_parameters()  # weight 1, bias 0, running mean 0, variance 1
                continue
            if isinstance(w, Tensor) and w.dim() >= 1:
                fan_in = max(1, w[0].numel()) if w.dim() > 1 else 1
                w.fill_(1.0 / fan_in)
            b = getattr(mod, "bias", None)
            if isinstance(b, Tensor):
                b.zero_()
    x = torch.ones(1, *input_size, dtype=torch.float64, requires_grad=True)
    captured: list[Tensor] = []
    handle = None
    if layer is not None:
        handle = m.get_submodule(layer).register_forward_hook(lambda _m, _i, out: captured.append(out))
    try:
        if layer is not None:
            m(x)
            out = captured[0]
        elif isinstance(m, ZooModel):
            out = m.forward_features(x)
        else:
            out = m(x)
    finally:
        if handle is not None:
            handle.remove()
    if out.dim() != 4:
        raise ValueError(f"the map must be (N, C, H, W); got shape {tuple(out.shape)}")
    h, w = out.shape[-2:]
    out[0, :, h // 2, w // 2].sum().backward()
    grad = x.grad[0].abs().sum(0)  # (H, W)
    rows = torch.nonzero(grad.sum(1)).flatten()
    cols = torch.nonzero(grad.sum(0)).flatten()
    return (int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1))


class _AveragingMax(nn.Module):
    """Mean over exactly the windows a MaxPool2d takes (dilation, padding and ceil mode alike)."""

    def __init__(self, kernel_size: object, stride: object, padding: object, dilation: object,
                 ceil_mode: bool) -> None:
        super().__init__()
        self.args = (kernel_size, stride, padding, dilation, ceil_mode)

    def forward(self, x: Tensor) -> Tensor:
        k, s, p, d, ceil = self.args
        c = x.shape[1]  # a depthwise convolution with a constant kernel: every window pixel counts
        kh, kw = (k, k) if isinstance(k, int) else k
        weight = x.new_full((c, 1, kh, kw), 1.0 / (kh * kw))
        pad = (p, p) if isinstance(p, int) else p
        dil = (d, d) if isinstance(d, int) else d
        stride = (s, s) if isinstance(s, int) else s
        if ceil:  # pad the far side so that the last partial window exists, as ceil_mode does
            extra = [((x.shape[2 + i] + 2 * pad[i] - dil[i] * ((kh, kw)[i] - 1) - 1) % stride[i]) for i in range(2)]
            x = nn.functional.pad(x, (0, (stride[1] - extra[1]) % stride[1], 0, (stride[0] - extra[0]) % stride[0]))
        return nn.functional.conv2d(x, weight, stride=stride, padding=pad, dilation=dil, groups=c)
