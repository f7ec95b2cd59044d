"""The training configuration: one frozen dataclass, filled from flags and/or a YAML file.

The defaults are the default job's (LeNet-5 on the bundled digits: 80 epochs, SGD + Nesterov
momentum with a cosine schedule, ~99% test accuracy in ~12 s on two CPU cores). Batch size,
learning rate, warm-up and augmentation left unset (None / "auto") are derived from the data
and the epochs when the run starts (`train.defaults`: 512, 0.2, none, affine on the digits);
config.yaml holds the values used.

`cnnzoo train --help` lists these fields as flags; `--config FILE.yaml` takes the same keys
(with '-' or '_'); a run folder's `config.yaml` holds the resolved values and loads back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Literal

from ..data.config import DataConfig, Preset, config_field

_f = config_field


def _data(name: str) -> object:
    """A field stated once in `DataConfig` (default, help, group), flat in `TrainConfig`."""
    f = DataConfig.__dataclass_fields__[name]
    return config_field(f.default, f.metadata["help"], f.metadata["group"])


@dataclass(frozen=True)
class TrainConfig:
    # model and data
    model: str = _f("lenet5", "registered model name (`cnnzoo models`) or a network table .yaml", "model and data")
    data: str = _data("data")
    data_dir: str = _data("data_dir")
    download: bool = _data("download")
    pretrained: str | None = _f(None, "start from published weights: torchvision, timm, torchvision:TAG, "
                                "timm:NAME.TAG, or a weights file (the classifier is replaced for your classes)",
                                "model and data")
    finetune: str = _f("all", "which parameters train: all, head, last:K (stages of feature_info + head), "
                       "linear-probe (logistic regression on frozen features)", "fine-tuning")
    head_epochs: int = _f(0, "train only the classifier for the first N epochs, then per --finetune", "fine-tuning")
    lr_decay_per_stage: float = _f(1.0, "layer-wise lr decay: stage s of n gets lr x F^(n - s)", "fine-tuning")
    freeze_bn: bool = _f(False, "batch norm keeps its running statistics and scale/shift", "fine-tuning")
    balance: Literal["none", "weights", "sampler"] = _f("none", "imbalanced classes: class-weighted loss or "
                                                        "class-balanced sampling", "fine-tuning")
    se: int | None = _f(None, "add squeeze-and-excitation blocks with reduction R (in the family's SE places, "
                        "else after every stage)", "model and data")
    init: Literal["paper", "he", "xavier", "lecun", "orthogonal"] | None = _f(
        None, "re-initialise the weights (default: the model's own)", "model and data")
    init_from: str | None = _f(None, "copy every layer that matches by name and shape from this run or checkpoint "
                               "(VGG §3.1: deeper nets from a trained shallower one)", "model and data")
    img_size: int | None = _data("img_size")
    val_fraction: float = _data("val_fraction")
    test_fraction: float = _data("test_fraction")
    limit_train: int | None = _data("limit_train")
    limit_eval: int | None = _data("limit_eval")
    strict: bool = _data("strict")
    # optimisation
    epochs: int = _f(80, "number of epochs", "optimisation")
    batch_size: int | None = _f(None, "images per step per process (default: from the training-set size and "
                                "the epochs, see train/defaults.py)", "optimisation")
    recipe: str | None = _f(None, "a paper's training recipe (`--help-recipe` lists its values and sections); "
                            "flags given with it override its values", "optimisation")
    optimizer: Literal["sgd", "adamw", "rmsprop"] = _f("sgd", "SGD with momentum, AdamW, or RMSProp (Inception v3 §8)",
                                                       "optimisation")
    lr: float | None = _f(None, "peak learning rate (default: 0.2 x sqrt(batch/512) for SGD, 2e-3 x sqrt(batch/512) "
                          "for AdamW)", "optimisation")
    momentum: float = _f(0.9, "SGD momentum", "optimisation")
    nesterov: bool = _f(True, "Nesterov momentum (SGD)", "optimisation")
    weight_decay: float = _f(5e-4, "L2 weight decay (decoupled for AdamW)", "optimisation")
    schedule: Literal["constant", "step", "cosine", "onecycle", "plateau"] = _f(
        "cosine", "learning-rate schedule (plateau: x step_gamma when validation accuracy stops improving)",
        "optimisation")
    step_every: float = _f(30, "step schedule: epochs between decays", "optimisation")
    milestones: str | None = _f(None, "step schedule: comma-separated epochs of the decays (instead of step_every)",
                                "optimisation")
    plateau_patience: int = _f(3, "plateau schedule: epochs without a better validation accuracy before a decay",
                               "optimisation")
    rmsprop_eps: float = _f(1.0, "RMSProp epsilon (Inception v3 §8: 1.0)", "optimisation")
    step_gamma: float = _f(0.1, "step schedule: decay factor", "optimisation")
    warmup_epochs: float | None = _f(None, "linear warm-up from lr/100 over this many epochs (not with onecycle; "
                                     "default: 5%% of the run when epochs have 20+ steps, else none)", "optimisation")
    label_smoothing: float = _f(0.0, "label smoothing of the cross-entropy (Inception v3 §7 uses 0.1)",
                                "optimisation")
    smoothing_prior: bool = _f(False, "smooth labels towards the training set's class frequencies instead of uniform "
                               "(seed 000 §3.5)", "optimisation")
    grad_clip: float | None = _f(None, "clip the gradient norm to this value", "optimisation")
    augment: Preset = _data("augment")
    early_stopping: int = _f(0, "stop after this many epochs without a better validation accuracy (0: never)",
                             "optimisation")
    # execution
    seed: int = _data("seed")
    device: Literal["auto", "cpu", "cuda", "mps"] = _f("auto", "where to train (auto: CUDA, then MPS, then CPU)",
                                                       "execution")
    precision: Literal["fp32", "bf16", "fp16"] = _f("fp32", "autocast precision (fp16 uses a gradient scaler)",
                                                    "execution")
    channels_last: bool = _f(True, "channels-last memory format (faster convolutions on CPU and tensor cores)",
                             "execution")
    compile: bool = _f(False, "torch.compile the model (slow start, faster steps on long runs)", "execution")
    workers: int = _data("workers")
    output: str = _f("runs", "folder that holds the run folders", "output")
    name: str | None = _f(None, "run folder name (default: <model>-<data>-<time>)", "output")
    quiet: bool = _f(False, "print only the final summary", "output")

    @property
    def data_config(self) -> DataConfig:
        """The data part of this configuration, whole (what `data.load_data` takes)."""
        return DataConfig(**{f.name: getattr(self, f.name) for f in fields(DataConfig)})

    def __post_init__(self) -> None:
        for f in fields(self):  # nan and inf pass every comparison below: refuse them first
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{f.name} must be a finite number, got {value}")
        positive = {"epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr}
        for key, value in positive.items():
            if value is not None and value <= 0:
                raise ValueError(f"{key} must be > 0, got {value}")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        for key, value in {"weight_decay": self.weight_decay, "momentum": self.momentum,
                           "warmup_epochs": self.warmup_epochs, "early_stopping": self.early_stopping}.items():
            if value is not None and value < 0:
                raise ValueError(f"{key} must be >= 0, got {value}")
        self.data_config  # checks the fractions, workers and img_size
        from .finetune import parse_mode
        parse_mode(self.finetune)
        if not 0 < self.lr_decay_per_stage <= 1 or self.head_epochs < 0:
            raise ValueError(f"lr_decay_per_stage must be in (0, 1] and head_epochs >= 0, got "
                             f"{self.lr_decay_per_stage} and {self.head_epochs}")
        if self.se is not None and self.se < 1:
            raise ValueError(f"se must be >= 1 (the squeeze-and-excitation reduction ratio), got {self.se}")
        if self.pretrained and self.init_from:
            raise ValueError("pretrained and init_from both give the starting weights; expected one of them")
        if self.step_every < 1 or (self.grad_clip is not None and self.grad_clip <= 0):
            raise ValueError("step_every must be >= 1 and grad_clip > 0")
