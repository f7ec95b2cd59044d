"""The training configuration: one frozen dataclass, filled from flags and/or a YAML file.

The defaults are the default job's (LeNet-5 on the bundled digits: 80 epochs of batch 512,
SGD + Nesterov momentum at lr 0.2 with a cosine schedule, ~99% test accuracy in ~12 s on two
CPU cores); set epochs, batch size and lr for other models and data.

`cnnzoo train --help` lists these fields as flags; `--config FILE.yaml` takes the same keys
(with '-' or '_'); a run folder's `config.yaml` holds the resolved values and loads back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Literal

from ..data.augment import Preset

MAX_IMG_SIZE = 4096  # pixels: a larger side is no classification network's input


def _f(default: object, help: str, group: str, **extra: object) -> object:
    return field(default=default, metadata={"help": help, "group": group, **extra})


@dataclass(frozen=True)
class TrainConfig:
    # model and data
    model: str = _f("lenet5", "registered model name (`cnnzoo models`) or a network table .yaml", "model and data")
    data: str = _f("digits", "digits, mnist, fashion-mnist, cifar10, cifar100, or a path to an image folder",
                   "model and data")
    data_dir: str = _f("data", "where torchvision data sets are (or are downloaded to)", "model and data")
    download: bool = _f(True, "download a missing torchvision data set when the network allows", "model and data")
    pretrained: str | None = _f(None, "start from published weights: torchvision, timm, torchvision:TAG, "
                                "timm:NAME.TAG, or a weights file (the classifier is replaced for your classes)",
                                "model and data")
    img_size: int | None = _f(None, "input side in pixels (default: the model's, e.g. 32 for LeNet-5)",
                              "model and data")
    val_fraction: float = _f(0.1, "share of the training data held out for validation", "model and data")
    test_fraction: float = _f(0.2, "share held out for testing when the data has no test split", "model and data")
    strict: bool = _f(False, "make unreadable or corrupt image files an error instead of skipping them",
                      "model and data")
    # optimisation
    epochs: int = _f(80, "number of epochs", "optimisation")
    batch_size: int = _f(512, "images per step per process", "optimisation")
    optimizer: Literal["sgd", "adamw"] = _f("sgd", "SGD with momentum, or AdamW", "optimisation")
    lr: float = _f(0.2, "peak learning rate", "optimisation")
    momentum: float = _f(0.9, "SGD momentum", "optimisation")
    nesterov: bool = _f(True, "Nesterov momentum (SGD)", "optimisation")
    weight_decay: float = _f(5e-4, "L2 weight decay (decoupled for AdamW)", "optimisation")
    schedule: Literal["constant", "step", "cosine", "onecycle"] = _f("cosine", "learning-rate schedule",
                                                                     "optimisation")
    step_every: int = _f(30, "step schedule: epochs between decays", "optimisation")
    step_gamma: float = _f(0.1, "step schedule: decay factor", "optimisation")
    warmup_epochs: float = _f(0.0, "linear warm-up from lr/100 over this many epochs (not with onecycle)",
                              "optimisation")
    label_smoothing: float = _f(0.0, "label smoothing of the cross-entropy (Inception v3 §7 uses 0.1)",
                                "optimisation")
    grad_clip: float | None = _f(None, "clip the gradient norm to this value", "optimisation")
    augment: Preset = _f("auto", "augmentation preset (auto picks the data set's own)", "optimisation")
    early_stopping: int = _f(0, "stop after this many epochs without a better validation accuracy (0: never)",
                             "optimisation")
    # execution
    seed: int = _f(0, "random seed: data split, initialisation, order, augmentation", "execution")
    device: Literal["auto", "cpu", "cuda", "mps"] = _f("auto", "where to train (auto: CUDA, then MPS, then CPU)",
                                                       "execution")
    precision: Literal["fp32", "bf16", "fp16"] = _f("fp32", "autocast precision (fp16 uses a gradient scaler)",
                                                    "execution")
    channels_last: bool = _f(True, "channels-last memory format (faster convolutions on CPU and tensor cores)",
                             "execution")
    compile: bool = _f(False, "torch.compile the model (slow start, faster steps on long runs)", "execution")
    workers: int = _f(2, "data-loader processes for image folders streamed from disk", "execution")
    output: str = _f("runs", "folder that holds the run folders", "output")
    name: str | None = _f(None, "run folder name (default: <model>-<data>-<time>)", "output")
    quiet: bool = _f(False, "print only the final summary", "output")

    def __post_init__(self) -> None:
        for f in fields(self):  # nan and inf pass every comparison below: refuse them first
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{f.name} must be a finite number, got {value}")
        positive = {"epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr}
        for key, value in positive.items():
            if value <= 0:
                raise ValueError(f"{key} must be > 0, got {value}")
        for key, value in {"val_fraction": self.val_fraction, "test_fraction": self.test_fraction,
                           "label_smoothing": self.label_smoothing}.items():
            if not 0 <= value < 1:
                raise ValueError(f"{key} must be in [0, 1), got {value}")
        if self.val_fraction + self.test_fraction >= 1:
            raise ValueError("val_fraction + test_fraction must leave data to train on")
        for key, value in {"weight_decay": self.weight_decay, "momentum": self.momentum,
                           "warmup_epochs": self.warmup_epochs, "workers": self.workers,
                           "early_stopping": self.early_stopping}.items():
            if value < 0:
                raise ValueError(f"{key} must be >= 0, got {value}")
        if self.img_size is not None and not 8 <= self.img_size <= MAX_IMG_SIZE:
            raise ValueError(f"img_size must be in 8..{MAX_IMG_SIZE}, got {self.img_size}")
        if self.step_every < 1 or (self.grad_clip is not None and self.grad_clip <= 0):
            raise ValueError("step_every must be >= 1 and grad_clip > 0")
