"""What a job reads: the data set, where it is, how it is split, resized and augmented.

`DataConfig` is one part of the training configuration (`train.config.TrainConfig` declares the
same fields, flat, as `--data`, `--val-fraction`, ... flags and YAML keys, and hands them over
whole as `cfg.data_config`); `data.load_data(DataConfig(...), size=...)` takes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# `--augment` presets (data/augment.py says what each does)
Preset = Literal["auto", "none", "flip", "affine", "crop-flip", "resized-crop", "pca-crop-flip", "scale-jitter"]

MAX_IMG_SIZE = 4096  # pixels: a larger side is no classification network's input


def config_field(default: object, help: str, group: str, **extra: object) -> object:
    """A config dataclass field with its `--flag` help and help-section group."""
    return field(default=default, metadata={"help": help, "group": group, **extra})


@dataclass(frozen=True)
class DataConfig:
    data: str = config_field("digits", "digits, mnist, fashion-mnist, cifar10, cifar100, or a path to an image "
                             "folder", "model and data")
    data_dir: str = config_field("data", "where torchvision data sets are (or are downloaded to)", "model and data")
    download: bool = config_field(True, "download a missing torchvision data set when the network allows",
                                  "model and data")
    img_size: int | None = config_field(None, "input side in pixels (default: the model's, e.g. 32 for LeNet-5)",
                                        "model and data")
    val_fraction: float = config_field(0.1, "share of the training data held out for validation", "model and data")
    test_fraction: float = config_field(0.2, "share held out for testing when the data has no test split",
                                        "model and data")
    limit_train: int | None = config_field(None, "train on a stratified subset of at most this many images "
                                           "(quick runs)", "model and data")
    limit_eval: int | None = config_field(None, "validate and test on stratified subsets of at most this many "
                                          "images each", "model and data")
    strict: bool = config_field(False, "make unreadable or corrupt image files an error instead of skipping them",
                                "model and data")
    augment: Preset = config_field("auto", "augmentation preset (auto: chosen from what the images are, "
                                   "see train/defaults.py)", "optimisation")
    workers: int = config_field(2, "data-loader processes for image folders streamed from disk", "execution")
    seed: int = config_field(0, "random seed: data split, initialisation, order, augmentation", "execution")

    def __post_init__(self) -> None:
        for key, value in {"val_fraction": self.val_fraction, "test_fraction": self.test_fraction}.items():
            if not 0 <= value < 1:
                raise ValueError(f"{key} must be in [0, 1), got {value}")
        if self.val_fraction + self.test_fraction >= 1:
            raise ValueError("val_fraction + test_fraction must leave data to train on")
        for key, limit in {"limit_train": self.limit_train, "limit_eval": self.limit_eval}.items():
            if limit is not None and limit < 1:
                raise ValueError(f"{key} must be >= 1, got {limit}")
        if self.workers < 0:
            raise ValueError(f"workers must be >= 0, got {self.workers}")
        if self.img_size is not None and not 8 <= self.img_size <= MAX_IMG_SIZE:
            raise ValueError(f"img_size must be in 8..{MAX_IMG_SIZE}, got {self.img_size}")
