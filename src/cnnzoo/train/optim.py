"""Optimisers and per-step learning-rate schedules."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR, LRScheduler, OneCycleLR

from .config import TrainConfig


def param_groups(model: nn.Module, cfg: TrainConfig) -> list[dict[str, Any]]:
    """The optimiser's parameter groups: the one place that decides which parameters train and
    with what weight decay (and, for recipes that need it, learning rate). Weight decay applies
    to weights only: biases and the 1-D parameters of normalisation layers are not decayed (as
    torchvision's and timm's reference recipes)."""
    if cfg.lr_decay_per_stage != 1.0:  # layer-wise learning rates (fine-tuning)
        from .finetune import stage_param_groups
        return stage_param_groups(model, cfg)  # type: ignore[arg-type]
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim <= 1]
    return [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def build_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """SGD (momentum, Nesterov) or AdamW over `param_groups(model, cfg)`."""
    groups = param_groups(model, cfg)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov and cfg.momentum > 0)
    return torch.optim.AdamW(groups, lr=cfg.lr)


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int) -> LRScheduler:
    """A schedule stepped after every optimiser step."""
    total = max(1, cfg.epochs * steps_per_epoch)
    if cfg.schedule == "onecycle":
        return OneCycleLR(optimizer, max_lr=cfg.lr, total_steps=total, pct_start=0.25,
                          cycle_momentum=cfg.optimizer == "sgd" and cfg.momentum > 0)
    warmup = round(cfg.warmup_epochs * steps_per_epoch)

    def factor(step: int) -> float:
        if step < warmup:
            return 0.01 + 0.99 * step / warmup
        if cfg.schedule == "cosine":
            t = (step - warmup) / max(1, total - warmup)
            return 0.5 * (1.0 + math.cos(math.pi * min(t, 1.0)))
        if cfg.schedule == "step":
            return cfg.step_gamma ** ((step // steps_per_epoch) // cfg.step_every)
        return 1.0

    return LambdaLR(optimizer, factor)
