"""The model contract, checked for every registered model (DEVELOPERS.md)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import cnnzoo
from cnnzoo.analysis import count_mult_adds
from cnnzoo.models.base import split_outputs

ALL = cnnzoo.list_models()
SMALL_MULT_ADDS = 0.6e9  # models cheaper than this are also run at their default input size


def _input(name: str, size: int | None = None, batch: int = 2) -> torch.Tensor:
    card = cnnzoo.model_card(name)
    s = size or card.min_size
    return torch.randn(batch, card.input_size[0], s, s, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("name", ALL)
def test_forward_backward_every_parameter_gets_a_gradient(name: str) -> None:
    torch.manual_seed(0)
    model = cnnzoo.create_model(name, num_classes=7)
    model.train()
    x = _input(name)
    logits, aux, weight = split_outputs(model(x))
    assert logits.shape == (2, 7)
    loss = F.cross_entropy(logits, torch.tensor([1, 2])) + weight * sum(F.cross_entropy(a, torch.tensor([1, 2])) for a in aux)
    loss.backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None]
    assert not no_grad, f"parameters without a gradient: {no_grad[:5]}"
    assert all(torch.isfinite(p.grad).all() for p in model.parameters()), "non-finite gradient"


@pytest.mark.parametrize("name", ALL)
def test_eval_forward_at_min_and_default_size(name: str) -> None:
    card = cnnzoo.model_card(name)
    model = cnnzoo.create_model(name).eval()
    sizes = [card.min_size]
    with torch.device("meta"):
        meta = cnnzoo.create_model(name)
    if count_mult_adds(meta, card.input_size) < SMALL_MULT_ADDS:
        sizes.append(card.input_size[1])
    with torch.no_grad():
        for s in sizes:
            out = model(_input(name, s, batch=1))
            assert isinstance(out, torch.Tensor), "eval mode must return plain logits"
            assert out.shape == (1, card.num_classes)
            assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", ALL)
def test_reset_classifier_and_pre_logits(name: str) -> None:
    model = cnnzoo.create_model(name, num_classes=10).eval()
    x = _input(name, batch=1)
    model.reset_classifier(3)
    with torch.no_grad():
        assert model(x).shape == (1, 3)
        assert model.num_classes == 3
        model.reset_classifier(0)
        assert model(x).shape == (1, model.head_hidden_size)
        feats = model.forward_features(x)
        assert feats.shape[1] == model.num_features
        assert model.forward_head(feats, pre_logits=True).shape == (1, model.head_hidden_size)


@pytest.mark.parametrize("name", ALL)
def test_feature_info_matches_the_maps(name: str) -> None:
    model = cnnzoo.create_model(name).eval()
    card = cnnzoo.model_card(name)
    size = max(card.min_size, 64)
    with torch.no_grad():
        maps = model.forward_intermediates(_input(name, size, batch=1))
    assert len(maps) == len(model.feature_info) >= 1
    reductions = [info.reduction for info in model.feature_info]
    assert reductions == sorted(reductions), "stages must be listed in forward order"
    for info, m in zip(model.feature_info, maps, strict=True):
        assert m.shape[1] == info.num_chs, info
        # valid (unpadded) convolutions may shave a few pixels off size / reduction
        assert m.shape[-1] <= -(-size // info.reduction), info
    assert maps[-1].shape[1] == model.num_features or model.feature_info[-1].num_chs == maps[-1].shape[1]
