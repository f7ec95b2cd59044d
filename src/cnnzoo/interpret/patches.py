"""The image patches that excite a channel most (Zeiler & Fergus 2014, arXiv 1311.2901, Fig. 2;
seed 003 "Что находят свёрточные сети?").

For every channel c of a layer's map A (N, C, h, w) over a data set, each image's strongest
position max_ij A[n, c, i, j] is found; the `k` images with the largest maxima are the channel's
top images, and the patch shown is the receptive field of that position
(`analysis.receptive_field`: field size r and jump j per axis). The field of map pixel i is
centred at input pixel o + i j with o = (H - 1 - (h - 1) j) / 2, the offset of a map laid out
symmetrically over the input: exact for unpadded ("valid") layers and for the usual "same"
padding up to half a pixel. Fields reaching past the border are padded (grey in the grid).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..analysis.receptive_field import receptive_field
from .layers import LayerError, model_label, resolve_layer, spatial_map, tap


@dataclass(frozen=True)
class TopPatches:
    layer: str
    channels: Tensor  # (C,) channel indices
    values: Tensor  # (C, k) the activations, largest first
    image_index: Tensor  # (C, k) index of the image in the data set
    position: Tensor  # (C, k, 2) (row, col) of the maximum in the map
    boxes: Tensor  # (C, k, 4) (top, left, bottom, right) input pixels, bottom/right exclusive
    field: tuple[int, int]  # receptive field (H, W) in input pixels
    map_size: tuple[int, int]


def field_geometry(model: nn.Module, layer: str,
                   input_size: tuple[int, int, int]) -> tuple[tuple[int, int], tuple[float, float]]:
    """((field H, W), (jump H, W)) of `layer`'s map."""
    rf = receptive_field(model, input_size).layers.get(layer)
    if rf is None or rf.is_global:
        raise LayerError(f"layer {layer!r} of {model_label(model)} has no local receptive field "
                         f"(its positions are pooled away); choose a convolutional stage")
    return (round(rf.size[0]), round(rf.size[1])), (float(rf.jump[0]), float(rf.jump[1]))


def field_boxes(position: Tensor, field: tuple[int, int], jump: tuple[float, float],
                input_hw: tuple[int, int], map_hw: tuple[int, int]) -> Tensor:
    """(..., 4) (top, left, bottom, right) of the fields of map pixels `position` (..., 2)."""
    out = []
    for axis in range(2):
        offset = (input_hw[axis] - 1 - (map_hw[axis] - 1) * jump[axis]) / 2
        centre = offset + position[..., axis].double() * jump[axis]
        start = torch.round(centre - (field[axis] - 1) / 2).long()
        out.append((start, start + field[axis]))
    (top, bottom), (left, right) = out
    return torch.stack([top, left, bottom, right], -1)


@torch.no_grad()
def channel_maxima(model: nn.Module, batches: Iterable[Tensor], layer: str) -> tuple[Tensor, Tensor, tuple[int, int]]:
    """(values (N, C), flat argmax positions (N, C), map (h, w)) of every channel over the data."""
    values, where = [], []
    hw: tuple[int, int] = (0, 0)
    for x in batches:
        with tap(model, layer) as t:
            model(x)
        a = spatial_map(model, layer, t.output, what="top patches").detach()  # (B, C, h, w)
        hw = (a.shape[-2], a.shape[-1])
        v, i = a.flatten(2).max(2)
        values.append(v.cpu())
        where.append(i.cpu())
    if not values:
        raise LayerError("no images to search for patches")
    return torch.cat(values), torch.cat(where), hw


def top_patches(model: nn.Module, batches: Iterable[Tensor], layer: str | int, *, k: int = 9,
                channels: Iterable[int] | None = None,
                input_size: tuple[int, int, int] | None = None) -> TopPatches:
    """The `k` strongest images per channel of `layer` over `batches` of model inputs
    (N, C, H, W), with their receptive-field boxes. `input_size` (C, H, W) is taken from the
    first batch when not given."""
    name = resolve_layer(model, layer)
    batches = iter(batches)
    first = next(batches, None)
    if first is None:
        raise LayerError("no images to search for patches")
    size = input_size or (first.shape[1], first.shape[2], first.shape[3])

    def chained() -> Iterable[Tensor]:
        yield first
        yield from batches

    values, where, hw = channel_maxima(model, chained(), name)  # (N, C)
    chosen = torch.arange(values.shape[1]) if channels is None else torch.as_tensor(list(channels), dtype=torch.long)
    if len(chosen) == 0 or int(chosen.max()) >= values.shape[1] or int(chosen.min()) < 0:
        raise LayerError(f"channels {chosen.tolist()} outside 0..{values.shape[1] - 1} of layer {name!r}")
    k = min(k, values.shape[0])
    v, idx = values[:, chosen].t().topk(k, dim=1)  # (C, k)
    flat = where[:, chosen].t().gather(1, idx)  # (C, k)
    position = torch.stack([flat // hw[1], flat % hw[1]], -1)
    field, jump = field_geometry(model, name, size)
    boxes = field_boxes(position, field, jump, (size[1], size[2]), hw)
    return TopPatches(name, chosen, v, idx, position, boxes, field, hw)


def crop(image: Tensor, box: Tensor, *, fill: float = 0.5) -> Tensor:
    """(C, bottom - top, right - left) cut of `image` (C, H, W); outside the image: `fill`."""
    top, left, bottom, right = (int(v) for v in box)
    h, w = image.shape[-2:]
    pad = (max(0, -left), max(0, right - w), max(0, -top), max(0, bottom - h))
    padded = F.pad(image, pad, value=fill)
    return padded[:, top + pad[2]:bottom + pad[2], left + pad[0]:right + pad[0]]
