"""Building a run's parts from its configuration (in the spirit of ConvNeXt's main.py): device
and processes, data, model (+ published weights), preprocessing, batch sources, optimiser,
schedule, gradient scaler. The order of the steps fixes what the seed gives; keep it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, TextIO

import torch
from torch import nn

from ..data import DataBundle, load_data
from ..data.augment import AUGMENTS, BatchPipeline
from ..data.loaders import BatchSource
from ..errors import ConfigError
from ..models.base import ZooModel
from ..resolve import resolve_model
from . import distributed as dist
from .config import TrainConfig
from .cpu import tune_for_training
from .balance import apply_balance
from .defaults import derive as derive_defaults, pick_augment
from .device import autocast_dtype, pick_device
from .finetune import FineTune
from .model_options import prepare_model
from .optim import build_optimizer, build_scheduler


@dataclass
class Parts:
    """Everything a training loop touches. `runner` is what is called (the model, wrapped in
    DDP and/or torch.compile when asked); `model` is the bare network (state dicts, counting)."""

    device: torch.device
    dist: dist.DistInfo
    data: DataBundle
    model: ZooModel
    runner: nn.Module
    pipeline: BatchPipeline
    augment_name: str
    train_src: BatchSource
    val_src: BatchSource | None
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    amp_dtype: torch.dtype | None
    aug_gen: torch.Generator
    finetune: FineTune | None = None  # which parameters train per epoch (train.finetune)
    class_weights: torch.Tensor | None = None  # --balance weights: per-class loss weights (train.balance)
    class_prior: torch.Tensor | None = None  # --smoothing-prior: the training set's class frequencies
    cfg: TrainConfig | None = None  # the configuration with its derived defaults filled in (train.defaults)


def input_side(cfg: TrainConfig) -> int:
    """The side images are decoded and fed at: --img-size, else the model's own."""
    from ..models import is_table_path, model_card
    if cfg.img_size is not None and not is_table_path(cfg.model) and cfg.img_size < model_card(cfg.model).min_size:
        raise ConfigError(f"--img-size {cfg.img_size} is below {cfg.model}'s smallest input "
                          f"({model_card(cfg.model).min_size} px); expected at least that")
    return resolve_model(cfg.model, img_size=cfg.img_size).input_size[1]


def build_model(cfg: TrainConfig, data: DataBundle, *, log: Any) -> tuple[ZooModel, tuple[float, ...],
                                                                              tuple[float, ...]]:
    """(model for the data's classes, input mean, input std). With --pretrained the published
    weights are loaded (the new head keeps its fresh init) and the weights' own normalisation is used."""
    resolved = resolve_model(cfg.model, img_size=cfg.img_size)
    model = resolved.build(num_classes=len(data.classes))
    mean, std = data.mean, data.std
    if cfg.pretrained:
        from ..models.pretrained import load_pretrained
        report = load_pretrained(model, cfg.pretrained)
        mean, std = resolved.mean, resolved.std  # the weights were trained on inputs normalised this way
        log(f"pretrained: {report}")
    prepare_model(model, cfg, name=cfg.model, log=log)  # --init, --se, --init-from (train/model_options.py)
    return model, mean, std


def build_pipeline(cfg: TrainConfig, data: DataBundle, model: ZooModel, mean: tuple[float, ...],
                   std: tuple[float, ...]) -> tuple[BatchPipeline, str]:
    """(on-device preprocessing and augmentation, name of the augmentation preset used)."""
    size = input_side(cfg)
    preset = pick_augment(data)[0] if cfg.augment == "auto" else cfg.augment  # derived: train/defaults.py
    pipeline = BatchPipeline(out_size=(size, size), in_chans=model.in_chans, mean=mean, std=std,
                             augment=AUGMENTS[preset], hflip_valid=data.hflip_valid, eval_crop=data.eval_crop,
                             channels_last=cfg.channels_last)
    return pipeline, preset


def place_model(model: ZooModel, cfg: TrainConfig, device: torch.device, info: dist.DistInfo) -> nn.Module:
    """Move the model to the device (channels-last when asked); the runner wraps it in DDP and compile."""
    model.to(device)
    if cfg.channels_last:
        model.to(memory_format=torch.channels_last)
    runner: nn.Module = model
    if info.enabled:
        from torch.nn.parallel import DistributedDataParallel
        ids = [device.index] if device.type == "cuda" else None
        runner = DistributedDataParallel(model, device_ids=ids)
    if cfg.compile:
        runner = torch.compile(runner)
    return runner


def build_sources(cfg: TrainConfig, data: DataBundle, device: torch.device,
                  info: dist.DistInfo) -> tuple[BatchSource, BatchSource | None]:
    """(shuffled training batches, validation batches or None), sharded over the processes."""
    common = dict(device=device, rank=info.rank, world=info.world)
    train_src = BatchSource(data.train, batch_size=cfg.batch_size, shuffle=True, seed=cfg.seed,
                            workers=cfg.workers, training=True, **common)
    val_src = BatchSource(data.val, batch_size=max(256, cfg.batch_size), shuffle=False,
                          workers=cfg.workers, **common) if data.val is not None else None
    return train_src, val_src


def build_test_source(cfg: TrainConfig, parts: Parts) -> BatchSource:
    return BatchSource(parts.data.test, batch_size=max(256, cfg.batch_size), shuffle=False, workers=cfg.workers,
                       device=parts.device, rank=parts.dist.rank, world=parts.dist.world)


def build_parts(cfg: TrainConfig, *, stream: TextIO) -> Parts:
    """All parts of a run, in the order that makes a seed reproduce a run."""
    device, info = _start(cfg)
    verbose = info.is_main and not cfg.quiet

    def log(text: str) -> None:
        if verbose:
            print(text, file=stream, flush=True)

    # model geometry first: image folders are decoded straight to the model's input size
    data = load_data(cfg.data_config, size=input_side(cfg))
    cfg, notes = derive_defaults(cfg, data, world=info.world)
    for note in notes:
        log(f"default: {note}")
    model, mean, std = build_model(cfg, data, log=log)
    pipeline, preset = build_pipeline(cfg, data, model, mean, std)
    finetune = FineTune.from_config(cfg)
    if finetune.active:
        finetune.apply(model)  # frozen parameters never reach the optimiser
    runner = place_model(model, cfg, device, info)
    train_src, val_src = build_sources(cfg, data, device, info)
    weights = apply_balance(cfg.balance, data, train_src, log=log)
    optimizer = build_optimizer(model, cfg)
    scheduler = build_scheduler(optimizer, cfg, len(train_src))
    scaler = torch.amp.GradScaler(device.type, enabled=cfg.precision == "fp16")
    if cfg.precision == "fp16" and device.type == "cpu" and info.is_main:
        warnings.warn("--precision fp16 on a CPU: PyTorch's fp16 convolution backward is unoptimised there "
                      "(~80 s a step for ResNet-18 at batch 8); bf16 is the CPU's fast half precision", stacklevel=2)
    aug_gen = torch.Generator(device).manual_seed(cfg.seed * 7919 + info.rank)
    prior = None
    if cfg.smoothing_prior:
        from .smoothing import class_prior
        prior = class_prior(data.train.labels, len(data.classes)).to(device)
    return Parts(device, info, data, model, runner, pipeline, preset, train_src, val_src, optimizer, scheduler,
                 scaler, autocast_dtype(cfg.precision), aug_gen, finetune if finetune.active else None,
                 None if weights is None else weights.to(device), prior, cfg=cfg)


def _start(cfg: TrainConfig) -> tuple[torch.device, dist.DistInfo]:
    """The device and process group; the global seed; CPU allocator and denormal settings."""
    info, device = dist.init(pick_device(cfg.device))
    torch.manual_seed(cfg.seed)
    if device.type == "cpu":
        tune_for_training()
    return device, info
