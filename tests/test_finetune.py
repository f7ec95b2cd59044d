"""Fine-tuning controls: freezing, layer-wise learning rates, head-only warm-up, balancing,
linear probe, micro-F1 (train.finetune, train.balance)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch import nn

import cnnzoo
from cnnzoo.errors import ConfigError
from cnnzoo.train.balance import balanced_order, class_weights
from cnnzoo.train.config import TrainConfig
from cnnzoo.train.finetune import FineTune, parameter_stages, parse_mode
from cnnzoo.train.optim import build_optimizer


@pytest.fixture(scope="module")
def lite() -> nn.Module:
    return cnnzoo.create_model("efficientnet_lite0", num_classes=5)


def _optimised(opt: torch.optim.Optimizer) -> set[int]:
    return {id(p) for g in opt.param_groups for p in g["params"]}


@pytest.mark.parametrize("mode", ["head", "last:2", "linear-probe"])
def test_freezing_freezes_exactly_what_it_says(mode: str) -> None:
    model = cnnzoo.create_model("efficientnet_lite0", num_classes=5)
    FineTune.from_config(TrainConfig(model="efficientnet_lite0", finetune=mode)).apply(model)
    # last:2 = the last two entries of feature_info (stages.6 and head) + the classifier
    expected = ("fc.",) if mode != "last:2" else ("fc.", "stages.6.", "head.")
    trained = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trained == {n for n, _ in model.named_parameters() if n.startswith(expected)}
    opt = build_optimizer(model, TrainConfig(model="efficientnet_lite0", finetune=mode, lr=0.1))
    assert _optimised(opt) == {id(p) for p in model.parameters() if p.requires_grad}
    model(torch.randn(2, 3, 32, 32)).sum().backward()
    assert all((p.grad is None) != p.requires_grad for p in model.parameters())


def test_head_epochs_then_the_plan_and_frozen_batch_norm() -> None:
    model = cnnzoo.create_model("efficientnet_lite0", num_classes=5)
    plan = FineTune(parse_mode("last:1"), head_epochs=1, freeze_bn=False)
    plan.apply(model)
    model.train()
    plan.start_epoch(model, 1)  # head only
    assert {n for n, p in model.named_parameters() if p.requires_grad} == {"fc.weight", "fc.bias"}
    assert not model.head.bn.training and not model.stem.bn.training
    model.train()
    plan.start_epoch(model, 2)  # last:1 = the head conv + fc
    assert {n for n, p in model.named_parameters() if p.requires_grad} == \
        {"fc.weight", "fc.bias", "head.conv.weight", "head.bn.weight", "head.bn.bias"}
    assert model.head.bn.training and not model.stages[6][0].project.bn.training
    bn = FineTune(None, freeze_bn=True)
    bn.apply(model)
    model.train()
    bn.start_epoch(model, 1)
    assert not any(m.training for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    assert not any(p.requires_grad for m in model.modules() if isinstance(m, nn.BatchNorm2d) for p in m.parameters())


def test_layer_wise_learning_rates(lite: nn.Module) -> None:
    cfg = TrainConfig(model="efficientnet_lite0", lr=0.1, lr_decay_per_stage=0.5, weight_decay=1e-4)
    opt = build_optimizer(lite, cfg)
    n = len(lite.feature_info)  # stem, 7 stages, head: 9; the classifier is stage 9
    stages = parameter_stages(lite)
    by_id = {id(p): stages[name] for name, p in lite.named_parameters()}
    for g in opt.param_groups:
        assert {by_id[id(p)] for p in g["params"]} == {g["stage"]}
        assert g["lr"] == pytest.approx(0.1 * 0.5 ** (n - g["stage"]))
        assert g["weight_decay"] == (1e-4 if g["params"][0].ndim > 1 else 0.0)
    rates = {g["stage"]: g["lr"] for g in opt.param_groups}
    assert rates[n] == 0.1 and rates[0] == pytest.approx(0.1 / 512)
    assert _optimised(opt) == {id(p) for p in lite.parameters()}


def test_balanced_sampler_draws_classes_evenly() -> None:
    labels = torch.tensor([0] * 900 + [1] * 90 + [2] * 9 + [3] * 1)
    draws = torch.cat([labels[balanced_order(labels, seed=0, epoch=e)] for e in range(10)])
    share = torch.bincount(draws, minlength=4).double() / len(draws)
    assert len(draws) == 10_000 and torch.allclose(share, torch.full((4,), 0.25, dtype=torch.float64), atol=0.02)
    assert torch.equal(balanced_order(labels, seed=0, epoch=3), balanced_order(labels, seed=0, epoch=3))
    shards = [balanced_order(labels, seed=0, epoch=1, rank=r, world=3) for r in range(3)]
    assert {len(s) for s in shards} == {334}
    w = class_weights(labels, 5)  # N / (K n_c) over the 4 present classes; an absent class gets 0
    assert torch.allclose(w, torch.tensor([1000 / 3600, 1000 / 360, 1000 / 36, 1000 / 4, 0.0]))


def test_bad_finetune_values() -> None:
    for bad in ("last:0", "some", "last:x"):
        with pytest.raises(ConfigError, match="--finetune"):
            TrainConfig(finetune=bad)
    with pytest.raises(ValueError, match="lr_decay_per_stage"):
        replace(TrainConfig(), lr_decay_per_stage=1.5)


@pytest.mark.slow
def test_cli_linear_probe_balance_and_features(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    import numpy as np

    from cnnzoo.cli import main
    # linear probe: no gradient steps, a logistic-regression classifier on LeNet-5's frozen features
    assert main(["train", "--data", "digits", "--finetune", "linear-probe", "--epochs", "1", "--output",
                 str(tmp_path), "--name", "lp", "--quiet"]) == 0
    assert main(["eval", str(tmp_path / "lp"), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert metrics["top1"] > 0.5 and metrics["micro_f1"] == metrics["top1"]
    # balancing and a head-only warm-up run end to end and print the per-class counts
    assert main(["train", "--data", "digits", "--epochs", "1", "--head-epochs", "1", "--finetune", "last:2",
                 "--balance", "weights", "--output", str(tmp_path), "--name", "bal"]) == 0
    printed = capsys.readouterr()
    assert "train images per class (balance: weights" in printed.out + printed.err
    out = tmp_path / "feats.npz"
    assert main(["features", str(tmp_path / "bal"), "digits", "-o", str(out), "--device", "cpu"]) == 0
    d = np.load(out)
    assert d["features_train"].shape[1] == 84 and len(d["labels_test"]) == len(d["files_test"]) > 0
    assert list(d["classes"]) == [str(i) for i in range(10)]
