"""Evaluation of a model on a split: loss, top-1/top-5, macro-F1, per-class P/R, confusion."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..data.augment import BatchPipeline
from ..data.loaders import BatchSource
from ..models.base import split_outputs
from .metrics import MetricAccumulator, Metrics


@torch.no_grad()
def evaluate(model: nn.Module, source: BatchSource, pipeline: BatchPipeline, classes: tuple[str, ...], *,
             amp_dtype: torch.dtype | None = None, tta: bool = False) -> Metrics:
    """Metrics over the whole split (summed over DDP ranks). With `tta`, class probabilities
    are averaged over the pipeline's test-time views (seed 003: augmentations at application
    time) and the loss is the NLL of the averaged probabilities."""
    was_training = model.training
    model.eval()
    device = source.device
    acc = MetricAccumulator(len(classes), device)
    for images, labels in source.batches():
        with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
            if tta:
                probs = torch.stack([split_outputs(model(v))[0].float().softmax(1)
                                     for v in pipeline.tta_views(images)]).mean(0)
                logits = probs.clamp_min(1e-12).log()
            else:
                logits = split_outputs(model(pipeline.eval(images)))[0].float()
        acc.update(logits, labels, F.cross_entropy(logits, labels, reduction="sum"))
    acc.all_reduce()
    model.train(was_training)
    return acc.result(classes)
