"""Defaults derived from the data (train/defaults.py): the rules, and the digits job unchanged."""

from __future__ import annotations

import pytest

from cnnzoo.data import load_data
from cnnzoo.train.config import TrainConfig
from cnnzoo.train.defaults import derive, pick_batch


@pytest.mark.parametrize(("images", "epochs", "batch"), [
    (1259, 80, 512),  # the bundled digits job: the fast path, unchanged
    (8000, 8, 128),  # the 8,000 scans for 8 epochs: ~500 steps instead of ~120
    (54000, 8, 256), (1000, 3, 32), (20, 1, 32),
])
def test_batch_gives_about_four_sqrt_n_steps(images: int, epochs: int, batch: int) -> None:
    assert pick_batch(images, epochs) == batch


def test_digits_defaults_are_the_default_job_and_each_is_stated() -> None:
    data = load_data("digits", size=32)
    cfg, notes = derive(TrainConfig(), data)
    assert (cfg.batch_size, cfg.lr, cfg.augment, cfg.warmup_epochs) == (512, 0.2, "affine", 0.0)
    assert any(n.startswith("batch 512 (1,259 training images") for n in notes)
    assert any(n.startswith("augment affine (small grey images that must not be mirrored") for n in notes)
    given, notes = derive(TrainConfig(batch_size=64, lr=0.01, augment="none", warmup_epochs=1.0), data)
    assert (given.batch_size, given.lr, given.augment, given.warmup_epochs) == (64, 0.01, "none", 1.0)
    assert notes == []  # what the user gave is not restated


def test_lr_scales_with_sqrt_batch_and_warm_up_comes_with_many_steps() -> None:
    data = load_data("digits", size=32)
    cfg, notes = derive(TrainConfig(batch_size=32, epochs=20), data)
    assert cfg.lr == pytest.approx(0.2 * (32 / 512) ** 0.5) and cfg.warmup_epochs == pytest.approx(1.0)
    assert any(n.startswith("warm-up 1 epochs (40 steps an epoch)") for n in notes)
