"""Optimisers and per-step learning-rate schedules."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR, LRScheduler, OneCycleLR

from ..errors import ConfigError
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
    if cfg.optimizer == "rmsprop":  # Inception v3 §8: decay 0.9, epsilon 1.0 (EfficientNet §5.2: momentum 0.9)
        return torch.optim.RMSprop(groups, lr=cfg.lr, alpha=0.9, eps=cfg.rmsprop_eps, momentum=cfg.momentum)
    return torch.optim.AdamW(groups, lr=cfg.lr)


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int) -> LRScheduler:
    """A schedule stepped after every optimiser step."""
    total = max(1, cfg.epochs * steps_per_epoch)
    if cfg.schedule == "onecycle":
        return OneCycleLR(optimizer, max_lr=cfg.lr, total_steps=total, pct_start=0.25,
                          cycle_momentum=cfg.optimizer == "sgd" and cfg.momentum > 0)
    warmup = round((cfg.warmup_epochs or 0.0) * steps_per_epoch)  # None: not derived (train.defaults) -> none
    if cfg.schedule == "plateau":
        return LambdaLR(optimizer, PlateauFactor(gamma=cfg.step_gamma, patience=cfg.plateau_patience, warmup=warmup))
    milestones = parse_milestones(cfg.milestones)

    def factor(step: int) -> float:
        if step < warmup:
            return 0.01 + 0.99 * step / warmup
        if cfg.schedule == "step" and milestones:
            return cfg.step_gamma ** sum(step >= m * steps_per_epoch for m in milestones)
        if cfg.schedule == "cosine":
            t = (step - warmup) / max(1, total - warmup)
            return 0.5 * (1.0 + math.cos(math.pi * min(t, 1.0)))
        if cfg.schedule == "step":
            return cfg.step_gamma ** ((step // steps_per_epoch) // cfg.step_every)
        return 1.0

    return LambdaLR(optimizer, factor)


def parse_milestones(text: str | None) -> tuple[float, ...]:
    """"91,136" -> (91.0, 136.0): the epochs of a step schedule's decays."""
    if not text:
        return ()
    try:
        values = tuple(float(v) for v in str(text).split(","))
    except ValueError:
        raise ConfigError(f"milestones must be comma-separated epochs, e.g. 91,136; got {text!r}") from None
    if any(v <= 0 for v in values) or list(values) != sorted(values):
        raise ConfigError(f"milestones must be increasing positive epochs, got {text!r}")
    return values


class PlateauFactor:
    """"Divide the learning rate by 10 when the validation error stops improving" (AlexNet §5,
    VGG §3.1, ResNet §3.4): the factor of a LambdaLR, times `gamma` after `patience` epochs
    without a better validation top-1. The trainer calls `observe(top1)` after each validation;
    its state (best, stale, scale) is saved with the scheduler, so resumes keep it."""

    def __init__(self, *, gamma: float, patience: int, warmup: int) -> None:
        self.gamma, self.patience, self.warmup = gamma, patience, warmup
        self.scale, self.best, self.stale, self.decays = 1.0, -1.0, 0, 0

    def __call__(self, step: int) -> float:
        ramp = 0.01 + 0.99 * step / self.warmup if step < self.warmup else 1.0
        return ramp * self.scale

    def observe(self, top1: float) -> bool:
        """Record an epoch's validation top-1; True when the learning rate was just decayed."""
        if top1 > self.best:
            self.best, self.stale = top1, 0
            return False
        self.stale += 1
        if self.stale < self.patience:
            return False
        self.scale *= self.gamma
        self.stale, self.decays = 0, self.decays + 1
        return True


def observe_plateau(scheduler: LRScheduler, top1: float | None) -> bool:
    """Tell a plateau schedule the epoch's validation accuracy (a no-op for other schedules)."""
    lambdas = getattr(scheduler, "lr_lambdas", [])
    if top1 is None or not lambdas or not isinstance(lambdas[0], PlateauFactor):
        return False
    decayed = lambdas[0].observe(top1)  # LambdaLR shares one factor object between the parameter groups
    if decayed:  # apply the new factor now, not at the next step
        for group, base, f in zip(scheduler.optimizer.param_groups, scheduler.base_lrs, lambdas, strict=True):
            group["lr"] = base * f(scheduler.last_epoch)
    return decayed
