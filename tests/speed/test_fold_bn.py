"""Batch norm folded into the convolution before it (the `fused` backend): which pairs fold,
which must not, and networks whose `forward` cannot be traced as a whole. Every registered
network's folded logits are checked in test_model_contract.py."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

import cnnzoo
from cnnzoo.speed.fold_bn import count_batch_norms, fold_batch_norms


def _trained_stats(model: nn.Module, x: Tensor) -> nn.Module:
    """A few training-mode passes, so that the running statistics are not (0, 1)."""
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(x)
    return model.eval()


def _same(a: nn.Module, b: nn.Module, x: Tensor) -> None:
    with torch.no_grad():
        ref, got = a(x), b(x)
    assert (ref - got).abs().max() <= 1e-5 * max(1.0, float(ref.abs().max()))


@pytest.mark.parametrize(("name", "left"), [
    ("resnet18_tv", 0),  # every conv -> BN pair, including the downsampling shortcuts
    ("efficientnet_lite0", 0),  # cnnzoo's TensorFlow-padded convolutions count as convolutions
    ("densenet_bc_100", 51),  # pre-activation: the BN after each concatenation has no conv before it
    ("cnn_2", 7),  # neon's order conv -> activation -> BN: nothing to fold
])
def test_which_batch_norms_fold(name: str, left: int) -> None:
    card = cnnzoo.model_card(name)
    x = torch.randn(2, card.input_size[0], card.min_size, card.min_size, generator=torch.Generator().manual_seed(0))
    model = _trained_stats(cnnzoo.create_model(name), x)
    folded = fold_batch_norms(model)
    assert count_batch_norms(folded) == left
    _same(model, folded, x)


class _Shared(nn.Module):
    """One convolution called twice, each time followed by its own batch norm."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.bn1, self.bn2 = nn.Conv2d(3, 3, 3, padding=1), nn.BatchNorm2d(3), nn.BatchNorm2d(3)

    def forward(self, x: Tensor) -> Tensor:
        return self.bn1(self.conv(x)) + self.bn2(self.conv(x))


class _Branching(nn.Module):
    """A convolution whose output goes to its batch norm and to a shortcut."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.bn = nn.Conv2d(3, 3, 3, padding=1), nn.BatchNorm2d(3)

    def forward(self, x: Tensor) -> Tensor:
        y = self.conv(x)
        return self.bn(y) + y


class _Checking(nn.Module):
    """A `forward` that checks its input (not traceable) around traceable children."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 4, 1),
                                  nn.BatchNorm2d(4))

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] < 3:
            raise ValueError("too small")
        return self.body(x)


@pytest.mark.parametrize(("module", "left"), [(_Shared, 2), (_Branching, 1), (_Checking, 0)])
def test_only_pairs_that_compute_the_same_function_fold(module: type[nn.Module], left: int) -> None:
    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    model = _trained_stats(module(), x)
    folded = fold_batch_norms(model)
    assert count_batch_norms(folded) == left
    _same(model, folded, x)


def test_linear_then_batch_norm_folds_too() -> None:
    x = torch.randn(8, 5, generator=torch.Generator().manual_seed(2))
    model = _trained_stats(nn.Sequential(nn.Linear(5, 6, bias=False), nn.BatchNorm1d(6), nn.Linear(6, 2)), x)
    folded = fold_batch_norms(model)
    assert count_batch_norms(folded) == 0
    _same(model, folded, x)
