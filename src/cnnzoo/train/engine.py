"""One epoch of training, and evaluation: the inner loops, with no files and no printing of
their own (in the spirit of ConvNeXt's engine.py).

One step: a batch of uint8 images on the device is augmented and normalised in one go
(`data.augment.BatchPipeline`), then autocast forward, loss (+ auxiliary heads), scaled
backward, optional gradient clipping, optimiser and schedule step. Loss and accuracy
accumulate on the device, so the CPU never waits on the GPU inside an epoch.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from ..models.base import split_outputs
from . import distributed as dist
from .config import TrainConfig
from .evaluate import evaluate
from .progress import EpochProgress
from .smoothing import smoothed_cross_entropy

if TYPE_CHECKING:
    from .setup import Parts

__all__ = ["evaluate", "train_one_epoch", "train_step", "loss_of"]


def loss_of(outputs: object, labels: Tensor, *, label_smoothing: float,
            weight: Tensor | None = None, prior: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """(loss, main logits): cross-entropy of the main head plus `aux_weight` x that of each
    auxiliary head (GoogLeNet §5, Inception v3 §4); `weight`: per-class weights (--balance weights);
    labels smoothed towards `prior` when given."""
    logits, aux, aux_weight = split_outputs(outputs)
    loss = smoothed_cross_entropy(logits, labels, eps=label_smoothing, prior=prior, weight=weight)
    for a in aux:
        loss = loss + aux_weight * smoothed_cross_entropy(a, labels, eps=label_smoothing, prior=prior, weight=weight)
    return loss, logits


def train_step(parts: Parts, cfg: TrainConfig, images: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """One optimisation step on a uint8 batch; (loss, main logits), both still on the device."""
    x = parts.pipeline.train(images, parts.aug_gen)
    amp = parts.amp_dtype
    with torch.autocast(parts.device.type, dtype=amp or torch.float32, enabled=amp is not None):
        loss, logits = loss_of(parts.runner(x), labels, label_smoothing=cfg.label_smoothing,
                               weight=parts.class_weights, prior=parts.class_prior)
    parts.optimizer.zero_grad(set_to_none=True)
    parts.scaler.scale(loss).backward()
    if cfg.grad_clip is not None:
        parts.scaler.unscale_(parts.optimizer)
        nn.utils.clip_grad_norm_(parts.model.parameters(), cfg.grad_clip)
    parts.scaler.step(parts.optimizer)
    parts.scaler.update()
    parts.scheduler.step()
    return loss, logits


def train_one_epoch(parts: Parts, cfg: TrainConfig, epoch: int, progress: EpochProgress) -> tuple[dict[str, float], int]:
    """(metrics row, images seen over all processes) of training epoch `epoch` (1-based).
    The row holds lr, train_loss, train_acc, train_samples_per_s and epoch_s."""
    parts.runner.train()
    if parts.finetune is not None:  # head-only warm-up, frozen stages' batch norm in eval mode
        parts.finetune.start_epoch(parts.model, epoch)
    steps = len(parts.train_src)
    sums = torch.zeros(3, device=parts.device, dtype=torch.float64)  # loss sum, correct, count
    report_every = max(1, steps // 20) if progress.bar is not None else 0
    start = time.perf_counter()
    for step, (images, labels) in enumerate(parts.train_src.batches(epoch), 1):
        loss, logits = train_step(parts, cfg, images, labels)
        with torch.no_grad():
            n = labels.new_tensor(len(labels), dtype=torch.float64)
            sums += torch.stack([loss.detach().double() * n, (logits.argmax(1) == labels).sum().double(), n])
        if report_every and (step % report_every == 0 or step == steps):
            s = sums.tolist()
            progress.update(report_every if step % report_every == 0 else step % report_every,
                            s[0] / s[2], s[1] / s[2], int(s[2]) * parts.dist.world)
    if parts.device.type == "cuda":
        torch.cuda.synchronize(parts.device)
    elapsed = time.perf_counter() - start
    dist.all_reduce_sum(sums)
    loss_sum, correct, count = sums.tolist()
    row = {"epoch": float(epoch), "lr": parts.optimizer.param_groups[0]["lr"], "train_loss": loss_sum / count,
           "train_acc": correct / count, "train_samples_per_s": count / elapsed, "epoch_s": elapsed}
    progress.close(f"loss {row['train_loss']:.4f} acc {row['train_acc']:.4f} "
                   f"{row['train_samples_per_s']:,.0f} samples/s")
    return row, int(count)
