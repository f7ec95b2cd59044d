"""Paper recipes: every value cited, each recipe trains one epoch on tiny data; the pieces they
need (plateau schedule, RMSProp, prior label smoothing, PCA colour, scale jitter, multi-scale eval)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import cnnzoo
from cnnzoo.config import from_mapping
from cnnzoo.data.augment import AUGMENTS, PCA_EIGVAL, PCA_EIGVEC, BatchPipeline, pca_lighting
from cnnzoo.train.config import TrainConfig
from cnnzoo.train.dense_eval import multi_scale_probs
from cnnzoo.train.optim import build_optimizer, build_scheduler, observe_plateau
from cnnzoo.train.recipes import RECIPES, load_recipe, with_recipe
from cnnzoo.train.smoothing import class_prior, smoothed_cross_entropy
from cnnzoo.train.trainer import Trainer


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_values_cite_sections(name: str) -> None:
    recipe = load_recipe(name)
    assert {"optimizer", "lr", "schedule", "weight_decay", "batch_size", "epochs", "augment"} <= set(recipe.settings)
    assert all(s.startswith("§") or "not stated" in s or "Inception v3" in s for _, s in recipe.settings.values())
    text = recipe.describe()
    assert all(f"--{k.replace('_', '-')}" in text for k in recipe.settings)


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_trains_one_epoch(name: str, tmp_path: Path) -> None:
    flags = {"recipe": name, "epochs": 1, "batch_size": 32, "limit_train": 64, "limit_eval": 32, "quiet": True,
             "output": str(tmp_path), "model": "lenet5", "workers": 0}
    values = with_recipe({}, flags)
    cfg = from_mapping(TrainConfig, {**values, **flags}, source="test")
    assert cfg.optimizer == load_recipe(name).values["optimizer"] and cfg.lr == load_recipe(name).values["lr"]
    result = Trainer(cfg, argv=[]).run()
    assert result.epochs_run == 1 and math.isfinite(result.test.loss)


def test_plateau_divides_by_ten_after_patience() -> None:
    cfg = TrainConfig(schedule="plateau", plateau_patience=2, step_gamma=0.1, lr=0.5)
    model = torch.nn.Linear(3, 2)
    opt = build_optimizer(model, cfg)
    sched = build_scheduler(opt, cfg, steps_per_epoch=4)
    decays = [observe_plateau(sched, acc) for acc in (0.5, 0.6, 0.6, 0.55, 0.7, 0.7, 0.7)]
    assert decays == [False, False, False, True, False, False, True]
    assert opt.param_groups[0]["lr"] == pytest.approx(0.5 * 0.01)
    opt.step()
    sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.5 * 0.01)  # kept across steps
    assert sched.state_dict()["lr_lambdas"][0]["scale"] == pytest.approx(0.01)  # saved for resumes


def test_rmsprop_and_milestones() -> None:
    cfg = TrainConfig(optimizer="rmsprop", rmsprop_eps=1.0, schedule="step", milestones="2,3", lr=1.0)
    opt = build_optimizer(torch.nn.Linear(3, 2), cfg)
    assert isinstance(opt, torch.optim.RMSprop) and opt.defaults["eps"] == 1.0 and opt.defaults["alpha"] == 0.9
    sched = build_scheduler(opt, cfg, steps_per_epoch=1)
    lrs = []
    for _ in range(4):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs == pytest.approx([1.0, 1.0, 0.1, 0.01])


def test_label_smoothing_towards_the_prior() -> None:
    labels = torch.tensor([0, 0, 0, 1])
    prior = class_prior(labels, 3)
    assert prior.tolist() == [0.75, 0.25, 0.0]
    logits = torch.randn(4, 3)
    target = 0.9 * F.one_hot(labels, 3).float() + 0.1 * prior  # the mixed target, by hand
    by_hand = -(target * F.log_softmax(logits, 1)).sum(1).mean()
    torch.testing.assert_close(smoothed_cross_entropy(logits, labels, eps=0.1, prior=prior), by_hand)
    uniform = smoothed_cross_entropy(logits, labels, eps=0.1, prior=None)
    torch.testing.assert_close(uniform, F.cross_entropy(logits, labels, label_smoothing=0.1))


def test_pca_colour_shift_lies_in_the_eigenvector_span() -> None:
    x = torch.rand(5, 3, 4, 4)
    y = pca_lighting(x, 0.1, torch.Generator().manual_seed(0))
    shift = (y - x)[:, :, 0, 0]  # the same RGB offset at every pixel of an image
    torch.testing.assert_close((y - x), shift.view(5, 3, 1, 1).expand_as(x))
    coeff = shift @ torch.tensor(PCA_EIGVEC)  # alpha_i * lambda_i (the eigenvectors are orthonormal)
    alphas = coeff / torch.tensor(PCA_EIGVAL)
    assert alphas.abs().max() < 0.6 and alphas.std() > 0.01


def test_scale_jitter_crops_cover_vggs_range() -> None:
    jitter = AUGMENTS["scale-jitter"]
    lo, hi = jitter.area  # (224 / S)^2 for S in [512, 256]
    assert math.isclose(lo, (224 / 512) ** 2, rel_tol=0.01) and math.isclose(hi, (224 / 256) ** 2, rel_tol=0.01)
    pipe = BatchPipeline(out_size=(16, 16), in_chans=3, mean=(0.5,) * 3, std=(0.5,) * 3, augment=jitter,
                         hflip_valid=True)
    out = pipe.train(torch.randint(0, 255, (4, 3, 32, 32), dtype=torch.uint8), torch.Generator().manual_seed(0))
    assert out.shape == (4, 3, 16, 16)


def test_multi_scale_probabilities_average_the_views() -> None:
    model = cnnzoo.create_model("resnet20", num_classes=4).eval()
    x = torch.randn(2, 3, 32, 32)
    probs = multi_scale_probs(model, x, (24, 32))
    with torch.no_grad():
        views = [F.softmax(model(F.interpolate(x, size=(s, s), mode="bilinear", antialias=s < 32)), 1)
                 for s in (24, 32)]
        by_hand = sum(v + F.softmax(model(F.interpolate(x, size=(s, s), mode="bilinear", antialias=s < 32).flip(-1)), 1)
                      for v, s in zip(views, (24, 32))) / 4
    torch.testing.assert_close(probs, by_hand)
    torch.testing.assert_close(probs.sum(1), torch.ones(2))
