"""Fine-tuning a pretrained network (seed 003 "Transfer learning"): which parameters train, at
which learning rate, and the head-only warm-up.

    --finetune all            every parameter trains (the default)
    --finetune head           only the classifier (`classifier_path`) trains; the backbone is frozen
    --finetune last:K         the last K stages of `feature_info` and the classifier train
    --finetune linear-probe   a logistic-regression classifier fitted on the frozen backbone's
                              pre-logits features (no gradient steps; `linear_probe`)
    --head-epochs N           the first N epochs train the classifier only, then --finetune applies
    --lr-decay-per-stage F    layer-wise learning-rate decay: stage s of n gets lr x F^(n - s),
                              the classifier (stage n) the full lr ("smaller steps near the input")
    --freeze-bn               batch norm keeps its running statistics and scale/shift

Stages: every parameter belongs to the `feature_info` stage whose module holds it; parameters
outside every stage module (a ResNet's first conv before its first stage, hidden head layers
after the last) go with the stage they are registered next to (forward order). Frozen means
`requires_grad=False` (gradients stay None) and, for a permanent freeze, absent from the
optimiser; batch norm inside frozen stages runs in evaluation mode, so the frozen features do
not drift with the new data's statistics.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..errors import ConfigError
from ..models.base import ZooModel

MODES = ("all", "head", "linear-probe")  # and "last:K"


def parse_mode(text: str) -> int | None:
    """The number of trainable stages `--finetune` asks for: None for all, 0 for the head only
    (head and linear-probe), K for last:K."""
    if text == "all":
        return None
    if text in ("head", "linear-probe"):
        return 0
    m = re.fullmatch(r"last:(\d+)", text)
    if m is None or int(m.group(1)) < 1:
        raise ConfigError(f"--finetune must be all, head, linear-probe or last:K with K >= 1, got {text!r}")
    return int(m.group(1))


def parameter_stages(model: ZooModel) -> dict[str, int]:
    """Parameter name -> stage index: 0..n-1 for `feature_info`'s stages, n for the classifier."""
    prefixes = [f.module + "." for f in model.feature_info]
    head = (model.classifier_path + ".", *(p + "." for p in model.aux_classifier_paths))
    n, current, stages = len(prefixes), 0, {}
    for name, _ in model.named_parameters():
        if name.startswith(head):
            stages[name] = n
            continue
        hit = next((i for i, p in enumerate(prefixes) if name.startswith(p)), None)
        current = hit if hit is not None else current
        stages[name] = current
    return stages


def trainable(model: ZooModel, stages_trained: int | None) -> set[str]:
    """Names of the parameters that train when the last `stages_trained` stages do (None: all)."""
    stages = parameter_stages(model)
    n = len(model.feature_info)
    first = 0 if stages_trained is None else n - stages_trained
    return {name for name, s in stages.items() if s >= first}


@dataclass
class FineTune:
    """The fine-tuning plan of a run; `apply` before building the optimiser, `start_epoch` after
    every `model.train()`."""

    stages_trained: int | None  # None: all
    head_epochs: int = 0
    freeze_bn: bool = False
    fixed: frozenset[str] = frozenset()  # parameters the model itself keeps frozen (never unfrozen)

    @classmethod
    def from_config(cls, cfg: Any) -> FineTune:
        return cls(parse_mode(cfg.finetune), cfg.head_epochs, cfg.freeze_bn)

    @property
    def active(self) -> bool:
        return self.stages_trained is not None or self.head_epochs > 0 or self.freeze_bn

    def apply(self, model: ZooModel) -> None:
        """The permanent freeze (before the optimiser is built, which then lacks those parameters)."""
        n = len(model.feature_info)
        if self.stages_trained is not None and self.stages_trained > n:
            raise ConfigError(f"--finetune last:{self.stages_trained}: {type(model).__name__} has {n} stages "
                              f"(feature_info); expected K <= {n} (or --finetune all)")
        self.fixed = frozenset(name for name, p in model.named_parameters() if not p.requires_grad)
        keep = trainable(model, self.stages_trained) - self.fixed
        for name, p in model.named_parameters():
            p.requires_grad_(name in keep and not (self.freeze_bn and _is_bn_param(model, name)))

    def start_epoch(self, model: ZooModel, epoch: int) -> None:
        """Epoch `epoch` (1-based) is about to train: the head-only warm-up for the first
        `head_epochs`, then the permanent plan; frozen batch norm into evaluation mode."""
        plan = 0 if epoch <= self.head_epochs else self.stages_trained
        keep = (trainable(model, plan) & trainable(model, self.stages_trained)) - self.fixed
        for name, p in model.named_parameters():
            p.requires_grad_(name in keep and not (self.freeze_bn and _is_bn_param(model, name)))
        frozen_stage = {name.rsplit(".", 1)[0] for name, p in model.named_parameters() if not p.requires_grad}
        for name, m in model.named_modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and (self.freeze_bn or name in frozen_stage):
                m.eval()


def _is_bn_param(model: ZooModel, name: str) -> bool:
    return isinstance(model.get_submodule(name.rsplit(".", 1)[0]), nn.modules.batchnorm._BatchNorm)


def stage_param_groups(model: ZooModel, cfg: Any) -> list[dict[str, Any]]:
    """Optimiser groups per stage with layer-wise learning-rate decay: stage s of n (the
    classifier is stage n) gets lr x decay^(n - s); weights decay, biases and norm parameters do
    not. Frozen parameters are left out. Each group carries its "stage" and "lr"."""
    stages, n = parameter_stages(model), len(model.feature_info)
    groups: dict[tuple[int, bool], list[nn.Parameter]] = {}
    for name, p in model.named_parameters():
        if p.requires_grad:
            groups.setdefault((stages[name], p.ndim > 1), []).append(p)
    return [{"params": ps, "stage": s, "lr": cfg.lr * cfg.lr_decay_per_stage ** (n - s),
             "weight_decay": cfg.weight_decay if decays else 0.0}
            for (s, decays), ps in sorted(groups.items())]


@torch.no_grad()
def pre_logits(model: ZooModel, source: Any, pipeline: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """(features (N, head_hidden_size), labels (N,)) of a batch source, in evaluation mode."""
    model.eval()
    feats, labels = [], []
    for images, y in source.batches(0):
        x = pipeline.eval(images)
        feats.append(model.forward_head(model.forward_features(x), pre_logits=True).float().cpu())
        labels.append(y.cpu())
    return torch.cat(feats), torch.cat(labels)


def linear_probe(model: ZooModel, train_source: Any, pipeline: Any, *, num_classes: int,
                 c: float = 1.0) -> dict[str, float]:
    """Fit the classifier as a multinomial logistic regression (scikit-learn, L2, C = `c`) on the
    frozen backbone's pre-logits features of the training split, and copy it into the model's
    final Linear. Returns {"probe_train_acc", "probe_fit_s"}."""
    import time

    from sklearn.linear_model import LogisticRegression
    x, y = pre_logits(model, train_source, pipeline)
    start = time.perf_counter()
    clf = LogisticRegression(C=c, max_iter=1000).fit(x.numpy(), y.numpy())
    fc = model.get_classifier()
    if not isinstance(fc, nn.Linear):
        raise ConfigError(f"--finetune linear-probe needs a Linear classifier; {model.model_name} has {type(fc).__name__}")
    weight, bias = torch.zeros(num_classes, x.shape[1]), torch.full((num_classes,), -1e4)
    seen = torch.as_tensor(clf.classes_)  # classes absent from the training split never win
    coef = torch.as_tensor(clf.coef_, dtype=torch.float32)
    if len(seen) == 2:  # scikit-learn's binary form: one row for the second class
        half = float(clf.intercept_[0]) / 2
        coef, icpt = torch.stack([-coef[0] / 2, coef[0] / 2]), torch.tensor([-half, half])
    else:
        icpt = torch.as_tensor(clf.intercept_, dtype=torch.float32)
    weight[seen], bias[seen] = coef, icpt.float()
    fc.weight.data.copy_(weight.to(fc.weight))
    fc.bias.data.copy_(bias.to(fc.bias))
    return {"probe_train_acc": float(clf.score(x.numpy(), y.numpy())), "probe_fit_s": time.perf_counter() - start}


def run_linear_probe(trainer: Any) -> None:
    """`Trainer`'s run with --finetune linear-probe: fit the classifier on the training split's
    frozen features, validate once, and record that as epoch 1 (and the best)."""
    from ..data.loaders import BatchSource
    from .evaluate import evaluate
    p, cfg = trainer.parts, trainer.cfg
    source = BatchSource(p.data.train, batch_size=max(256, cfg.batch_size), device=p.device, shuffle=False)
    row: dict[str, float] = {"epoch": 1.0, **linear_probe(p.model, source, p.pipeline,
                                                          num_classes=len(p.data.classes))}
    if p.val_src is not None:
        val = evaluate(p.runner, p.val_src, p.pipeline, p.data.classes, amp_dtype=p.amp_dtype)
        row.update(val_loss=val.loss, val_acc=val.top1, val_macro_f1=val.macro_f1)
        trainer.tracker.update(1, val)
        trainer.log(f"linear probe: fitted in {row['probe_fit_s']:.1f} s, train acc {row['probe_train_acc']:.4f}, "
                    f"val acc {val.top1:.4f} macro-F1 {val.macro_f1:.4f} micro-F1 {val.top1:.4f}")
    trainer.epoch = 1
    trainer.history.append(row)
    trainer.best_state = {k: v.detach().to("cpu", copy=True) for k, v in p.model.state_dict().items()}
