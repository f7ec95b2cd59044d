"""The model contract, checked for every registered network (DEVELOPERS.md).

Each network is built once (a module-scoped fixture, one network alive at a time) and every
check runs on it; aliases (vgg16 = vgg_d) are the same network and are checked once.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

import cnnzoo
from cnnzoo.analysis import count_mult_adds
from cnnzoo.models.base import ZooModel, split_outputs
from cnnzoo.speed.fold_bn import count_batch_norms, fold_batch_norms

NETWORKS = cnnzoo.list_models(aliases=False)
SMALL_MULT_ADDS = 0.6e9  # networks cheaper than this are also run at their default input size
NUM_CLASSES = 7


@pytest.fixture(scope="module", params=NETWORKS)
def built(request: pytest.FixtureRequest) -> tuple[str, ZooModel]:
    torch.manual_seed(0)
    return request.param, cnnzoo.create_model(request.param, num_classes=NUM_CLASSES)


def _input(name: str, size: int | None = None, batch: int = 2) -> torch.Tensor:
    card = cnnzoo.model_card(name)
    s = size or card.min_size
    return torch.randn(batch, card.input_size[0], s, s, generator=torch.Generator().manual_seed(0))


def test_forward_backward_every_parameter_gets_a_gradient(built: tuple[str, ZooModel]) -> None:
    name, model = built
    model.train()
    labels = torch.tensor([1, 2])
    logits, aux, weight = split_outputs(model(_input(name)))
    assert logits.shape == (2, NUM_CLASSES)
    loss = F.cross_entropy(logits, labels) + weight * sum(F.cross_entropy(a, labels) for a in aux)
    loss.backward()
    try:
        no_grad = [n for n, p in model.named_parameters() if p.grad is None]
        assert not no_grad, f"parameters without a gradient: {no_grad[:5]}"
        assert all(torch.isfinite(p.grad).all() for p in model.parameters()), "non-finite gradient"
    finally:
        model.zero_grad(set_to_none=True)


def test_eval_forward_at_min_and_default_size(built: tuple[str, ZooModel]) -> None:
    name, model = built
    card = cnnzoo.model_card(name)
    model.eval()
    sizes = [card.min_size]
    with torch.device("meta"):
        meta = cnnzoo.create_model(name)
    if count_mult_adds(meta, card.input_size) < SMALL_MULT_ADDS:
        sizes.append(card.input_size[1])
    with torch.no_grad():
        for s in sizes:
            out = model(_input(name, s, batch=1))
            assert isinstance(out, torch.Tensor), "eval mode must return plain logits"
            assert out.shape == (1, NUM_CLASSES)
            assert torch.isfinite(out).all()


def test_feature_info_matches_the_maps(built: tuple[str, ZooModel]) -> None:
    name, model = built
    card = cnnzoo.model_card(name)
    size = max(card.min_size, 64)
    model.eval()
    with torch.no_grad():
        maps = model.forward_intermediates(_input(name, size, batch=1))
    assert len(maps) == len(model.feature_info) >= 1
    reductions = [info.reduction for info in model.feature_info]
    assert reductions == sorted(reductions), "stages must be listed in forward order"
    for info, m in zip(model.feature_info, maps, strict=True):
        assert m.shape[1] == info.num_chs, info
        # valid (unpadded) convolutions may shave a few pixels off size / reduction
        assert m.shape[-1] <= -(-size // info.reduction), info


def test_reset_classifier_and_pre_logits(built: tuple[str, ZooModel]) -> None:
    name, original = built
    model = copy.deepcopy(original).eval()
    x = _input(name, batch=1)
    model.reset_classifier(3)
    with torch.no_grad():
        assert model(x).shape == (1, 3)
        assert model.num_classes == 3
        model.train()
        logits, aux, _ = split_outputs(model(torch.cat([x, x])))
        assert logits.shape == (2, 3) and all(a.shape == (2, 3) for a in aux)
        model.eval()
        model.reset_classifier(0)
        assert model(x).shape == (1, model.head_hidden_size)
        feats = model.forward_features(x)
        assert feats.shape[1] == model.num_features
        assert model.forward_head(feats, pre_logits=True).shape == (1, model.head_hidden_size)


def test_batch_norms_fold_into_the_convolutions_without_changing_the_logits(built: tuple[str, ZooModel]) -> None:
    """The `fused` backend (predict's and eval's default): same logits, the network untouched.
    The forward/backward test above ran a training step, so the running statistics are not the
    initial (0, 1) and folding them is a real test."""
    name, model = built
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    folded = fold_batch_norms(model)
    x = _input(name)
    with torch.no_grad():
        ref, got = model(x), folded(x)
    assert (ref - got).abs().max() <= 1e-4 * max(1.0, float(ref.abs().max()))
    assert count_batch_norms(folded) <= count_batch_norms(model)
    after = model.state_dict()
    assert all(torch.equal(v, after[k]) for k, v in before.items()), "the original was changed"
