"""VGG's multi-scale evaluation (Simonyan & Zisserman 2014, §3.2 and §4.2): the test image is
rescaled to several sizes Q, the network is applied to the whole image at each (densely: every
zoo model pools globally before its classifier, so any size runs), and the class posteriors of
the scales and of the horizontal flips are averaged. (§4.2: Q = {S - 32, S, S + 32} for a fixed
training scale S, {256, 384, 512} with scale jittering.)"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@torch.no_grad()
def multi_scale_probs(model: nn.Module, x: Tensor, sizes: tuple[int, ...], *, flip: bool = True) -> Tensor:
    """(N, C, H, W) normalised input -> (N, classes) softmax averaged over `sizes` (and flips)."""
    total = None
    views = 0
    for s in sizes:
        xs = F.interpolate(x, size=(s, s), mode="bilinear", align_corners=False, antialias=s < x.shape[-1])
        for v in ((xs, xs.flip(-1)) if flip else (xs,)):
            p = F.softmax(model(v).float(), dim=1)
            total = p if total is None else total + p
            views += 1
    assert total is not None, "no sizes given"
    return total / views
