"""Grad-CAM (Selvaraju et al. 2017, arXiv 1610.02391) and Grad-CAM++ (Chattopadhay et al. 2018,
arXiv 1710.11063): where in the image the evidence for a class lies, read from one layer.

For the class score y^c (the logit, before softmax) and the maps A^k (N, K, h, w) of a layer:

    Grad-CAM    w_k = mean_ij dy^c/dA^k_ij                      (§3, Eq. 1: global-average-pooled gradients)
    Grad-CAM++  w_k = sum_ij a_ij relu(dy^c/dA^k_ij),  a_ij = g^2 / (2 g^2 + sum_ab A_ab g^3)   (Eq. 19, exp scores)
    L^c = relu(sum_k w_k A^k)                                    (Eq. 2), upsampled to the input, / its max

The default layer is the last `feature_info` stage with a map larger than 1x1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..models.base import split_outputs
from .layers import LayerError, default_spatial_layer, resolve_layer, spatial_map, tap

CamMethod = Literal["gradcam", "gradcam++"]
CAM_METHODS: tuple[str, ...] = ("gradcam", "gradcam++")


@dataclass(frozen=True)
class CamResult:
    heat: Tensor  # (N, H, W) in [0, 1], at the input's resolution
    coarse: Tensor  # (N, h, w) the map before upsampling (not normalised)
    targets: Tensor  # (N,) class explained per image
    probabilities: Tensor  # (N, num_classes) softmax of the logits
    layer: str


def targets_for(logits: Tensor, target: int | Sequence[int] | Tensor | None) -> Tensor:
    """(N,) class indices: the predicted classes, one class for all, or one per image."""
    n, classes = logits.shape
    if target is None:
        return logits.argmax(1)
    t = torch.as_tensor(target, dtype=torch.long, device=logits.device).flatten()
    t = t.expand(n) if t.numel() == 1 else t
    if t.numel() != n:
        raise LayerError(f"{t.numel()} targets for {n} images: give one class or one per image")
    if int(t.min()) < 0 or int(t.max()) >= classes:
        raise LayerError(f"target class {t.tolist()} outside 0..{classes - 1}")
    return t


def cam_weights(a: Tensor, g: Tensor, method: str) -> Tensor:
    """(N, K, 1, 1) channel weights from maps `a` and gradients `g` (N, K, h, w)."""
    if method == "gradcam":
        return g.mean((2, 3), keepdim=True)
    if method == "gradcam++":
        g2 = g.pow(2)
        denom = 2 * g2 + a.sum((2, 3), keepdim=True) * g2 * g
        alpha = g2 / torch.where(denom != 0, denom, torch.ones_like(denom))
        return (alpha * F.relu(g)).sum((2, 3), keepdim=True)
    raise LayerError(f"unknown CAM method {method!r}: expected one of {', '.join(CAM_METHODS)}")


def explain_cam(model: nn.Module, x: Tensor, target: int | Sequence[int] | Tensor | None = None,
                layer: str | int | None = None, *, method: CamMethod = "gradcam") -> CamResult:
    """Grad-CAM of `model` (in whatever mode it is, parameters frozen or not) for the batch `x`."""
    name = default_spatial_layer(model, x) if layer is None else resolve_layer(model, layer)
    with tap(model, name) as t:
        logits = split_outputs(model(x))[0].float()  # (N, classes)
        a = spatial_map(model, name, t.output, what="Grad-CAM")  # (N, K, h, w)
        targets = targets_for(logits, target)
        score = logits.gather(1, targets[:, None]).sum()
        (g,) = torch.autograd.grad(score, a)
    with torch.no_grad():
        coarse = F.relu((cam_weights(a, g, method) * a).sum(1, keepdim=True))  # (N, 1, h, w)
        heat = F.interpolate(coarse, size=tuple(x.shape[-2:]), mode="bilinear", align_corners=False)[:, 0]
        peak = heat.flatten(1).amax(1).clamp_min(1e-12)
        heat = (heat / peak[:, None, None]).clamp_(0, 1)
    return CamResult(heat, coarse[:, 0].detach(), targets, logits.detach().softmax(1), name)


def grad_cam(model: nn.Module, x: Tensor, target: int | Sequence[int] | Tensor | None = None,
             layer: str | int | None = None, *, method: CamMethod = "gradcam") -> Tensor:
    """(N, H, W) heat maps in [0, 1] (1 at each image's peak) of the evidence for `target`
    (default: the predicted class) at `layer` (default: the last stage with a spatial map)."""
    return explain_cam(model, x, target, layer, method=method).heat


def peak(heat: Tensor) -> Tensor:
    """(N, 2) (x, y) pixel of each map's maximum."""
    w = heat.shape[-1]
    i = heat.flatten(1).argmax(1)
    return torch.stack([i % w, i // w], 1)


Box = tuple[float, float, float, float]


def box_mask(shape: tuple[int, int], boxes: Sequence[Box]) -> Tensor:
    """(H, W) bool mask of the union of `boxes` = (x0, y0, x1, y1), fractions of width and
    height (0..1, x1 / y1 exclusive)."""
    h, w = shape
    mask = torch.zeros(h, w, dtype=torch.bool)
    for x0, y0, x1, y1 in boxes:
        mask[round(y0 * h):round(y1 * h), round(x0 * w):round(x1 * w)] = True
    return mask


def mass_in_box(heat: Tensor, box: Box | Sequence[Box]) -> Tensor:
    """(N,) share of each map's total inside `box` (x0, y0, x1, y1 as fractions), or inside
    the union of several boxes."""
    boxes = [box] if isinstance(box[0], float | int) else list(box)  # type: ignore[list-item]
    mask = box_mask((heat.shape[-2], heat.shape[-1]), boxes).to(heat.device)  # type: ignore[arg-type]
    total = heat.flatten(1).sum(1).clamp_min(1e-12)
    return (heat * mask).flatten(1).sum(1) / total
