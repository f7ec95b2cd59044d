"""Retraining a pruned network (Deep Compression §2, Han et al. 2015: "we retrain the network to
learn the final weights for the remaining sparse connections"): plain SGD with momentum on the
training split, the run's own preprocessing and augmentation, and after every step the pruned
weights put back to 0, so that the sparsity stays what was asked."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data.augment import AUGMENTS, BatchPipeline
from ..data.loaders import BatchSource
from ..models.base import split_outputs


def retrain_masked(model: nn.Module, masks: dict[str, Tensor], train_split: object, pipeline: BatchPipeline, *,
                   epochs: int, lr: float, augment: str | None, device: torch.device, seed: int = 0) -> None:
    """`epochs` of SGD (momentum 0.9, constant lr) with the weights in `masks` held at 0 where the mask is False."""
    params = dict(model.named_parameters())
    train_pipe = BatchPipeline(out_size=pipeline.out_size, in_chans=pipeline.in_chans, mean=pipeline.mean,
                               std=pipeline.std, augment=AUGMENTS.get(augment or "none"),
                               hflip_valid=pipeline.hflip_valid, eval_crop=pipeline.eval_crop)
    source = BatchSource(train_split, batch_size=128, device=device, shuffle=True, seed=seed)  # type: ignore[arg-type]
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    gen = torch.Generator(device).manual_seed(seed)
    model.train()
    for epoch in range(epochs):
        for images, labels in source.batches(epoch):
            logits, _, _ = split_outputs(model(train_pipe.train(images, gen)))
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(logits, labels).backward()
            opt.step()
            with torch.no_grad():
                for name, mask in masks.items():
                    params[name].mul_(mask)
    model.eval()
