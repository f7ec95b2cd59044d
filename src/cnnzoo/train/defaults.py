"""Defaults derived from the data and the run, each stated when the run starts.

Options left unset (`batch_size`, `lr`, `warmup_epochs` None; `augment` "auto") are filled in
from what the data is, not from where it came from:

- **augmentation** (what the images are): a stored side of 96 px or more is a photo:
  `resized-crop` (Inception-style crops; flips only where the data allows them). Smaller
  images: colour ones whose mirror image keeps its class (CIFAR, colour image folders) are
  small photos: `crop-flip` (He et al. 2015 §4.2's pad-and-crop + flips); grey ones whose
  mirror image keeps its class (Fashion-MNIST: centred objects filling a blank canvas in a
  fixed pose) get `flip` only, because shifting them pushes the object off the canvas the test
  images fill (crop-flip cost LeNet-5 8 points on 8,000 Fashion-MNIST images in 8 epochs:
  78.2% against 86.2% without and 85.6% with flips only); images that must not be mirrored
  (digits, letters, grey scans) get `affine` (rotation, scale, shift; no flip: +0.9 points
  over none on 8,000 MNIST digits). Random resized crops destroy small glyphs.
- **batch size** (the step budget): SGD needs a number of optimiser steps that grows with the
  data, roughly `STEPS_PER_SQRT_IMAGE * sqrt(N)` steps in the whole run for N training images
  (~120 for the 900 digits, ~360 for 8,000 MNIST digits, ~930 for 54,000). The batch is the
  largest power of two in [MIN_BATCH, MAX_BATCH] that still gives that many steps in the
  given epochs: `B = pow2_floor(N * epochs / (4 * sqrt(N)))`, clamped. So the bundled digits
  (80 epochs) keep the fast 512, while 8,000 images for 8 epochs get 128.
- **learning rate** (square-root scaling, Krizhevsky 2014 "One weird trick" §5, Hoffer et al.
  2017): `lr = BASE_LR * sqrt(B / 512)` with the default job's 0.2 at 512 for SGD (2e-3 at 512
  for AdamW); 0.1 at 128, 0.05 at 32. Linear scaling (Goyal et al. 2017, 0.05 at 128) was
  tried first and left LeNet-5 at 97.7% on 8,000 MNIST digits in 8 epochs (98.3% with sqrt):
  with few epochs, small batches need the larger steps.
- **warm-up**: linear from lr/100 over 5% of the run, when an epoch has at least 20 steps
  (the large early steps of a high learning rate hurt most when there are many of them; with
  two steps an epoch, as on the bundled digits, a warm-up only wastes steps).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

from .config import TrainConfig

if TYPE_CHECKING:
    from ..data import DataBundle

STEPS_PER_SQRT_IMAGE = 4.0
MIN_BATCH, MAX_BATCH = 32, 512
BASE_LR = {"sgd": 0.2, "adamw": 2e-3, "rmsprop": 0.01}  # at batch 512
PHOTO_SIDE = 96  # pixels: stored images at least this large are photos
WARMUP_MIN_STEPS = 20  # steps per epoch from which a warm-up is used
WARMUP_SHARE = 0.05  # of the run


def stored_side(data: DataBundle) -> int:
    """The side of the images as stored (before the pipeline resizes them to the model's input)."""
    images = getattr(data.train, "images", None)
    return int(images.shape[-1]) if images is not None else int(getattr(data.train, "size", 0))


def pick_augment(data: DataBundle) -> tuple[str, str]:
    """(preset, the reason in words) from the images' size, channels and whether flips are valid."""
    side, colour = stored_side(data), "colour" if data.channels == 3 else "grey"
    if side >= PHOTO_SIDE:
        return "resized-crop", f"{colour} photos of {side} px"
    if data.hflip_valid and data.channels == 3:
        return "crop-flip", f"small {colour} photos, mirror images keep their class"
    if data.hflip_valid:
        return "flip", f"small {colour} images of centred objects, mirror images keep their class"
    return "affine", f"small {colour} images that must not be mirrored"


def pick_batch(n_train: int, epochs: int) -> int:
    """The largest power of two in [MIN_BATCH, MAX_BATCH] giving ~4 sqrt(N) steps in the run."""
    want_steps = STEPS_PER_SQRT_IMAGE * math.sqrt(max(n_train, 1))
    ideal = n_train * epochs / want_steps
    batch = 2 ** max(0, math.floor(math.log2(max(ideal, 1))))
    return int(min(MAX_BATCH, max(MIN_BATCH, batch)))


def derive(cfg: TrainConfig, data: DataBundle, *, world: int = 1) -> tuple[TrainConfig, list[str]]:
    """(`cfg` with its unset options filled in, one line per derived value saying why)."""
    notes: list[str] = []
    n = len(data.train)
    changes: dict[str, object] = {}
    if cfg.augment == "auto":
        preset, why = pick_augment(data)
        changes["augment"] = preset
        notes.append(f"augment {preset} ({why})")
    batch = cfg.batch_size
    if batch is None:
        batch = min(pick_batch(n, cfg.epochs), max(MIN_BATCH, 2 ** math.floor(math.log2(max(n // world, 1)))))
        changes["batch_size"] = batch
        steps = cfg.epochs * math.ceil(n / (batch * world))
        notes.append(f"batch {batch} ({n:,} training images, {cfg.epochs} epochs: {steps:,} steps)")
    if cfg.lr is None:
        lr = BASE_LR[cfg.optimizer] * math.sqrt(batch * world / 512)
        changes["lr"] = float(f"{lr:.4g}")
        notes.append(f"lr {changes['lr']:g} ({BASE_LR[cfg.optimizer]:g} x sqrt({batch * world}/512), "
                     "square-root scaling)")
    if cfg.warmup_epochs is None:
        per_epoch = math.ceil(n / (batch * world))
        warm = round(WARMUP_SHARE * cfg.epochs, 2) if per_epoch >= WARMUP_MIN_STEPS and cfg.schedule != "onecycle" \
            else 0.0
        changes["warmup_epochs"] = warm
        if warm:
            notes.append(f"warm-up {warm:g} epochs ({per_epoch} steps an epoch)")
    if data.val is None:
        notes.append("no validation split: every epoch counts as the best, the last weights are tested")
    return replace(cfg, **changes), notes  # type: ignore[arg-type]
