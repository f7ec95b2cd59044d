"""`add_squeeze_excite` on every registered model (seed 000 §3.8: SE "applicable to any
architecture"): AttentionSlots where a family marks them, else one SE block after every stage.

Every network is checked on the meta device (where the blocks go, their channels, the parameter
delta, printed with -s); forward and backward run on CPU, at the smallest input, for the smallest
network of each family that has no AttentionSlot (LeNet-5, AlexNet, VGG, EfficientNet, ...)."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

import cnnzoo
from cnnzoo.analysis import build_on_meta
from cnnzoo.layers.attention import AttentionSlot, SqueezeExcite, StageExcite, add_squeeze_excite
from cnnzoo.models.base import split_outputs

NETWORKS = cnnzoo.list_models(aliases=False)


def _params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _stage_se_networks() -> list[str]:
    """The smallest network of each family that has no AttentionSlot (the families with slots are
    tested with SE by their own tests): these get `StageExcite` blocks."""
    best: dict[str, tuple[int, str]] = {}
    for name in NETWORKS:
        model = build_on_meta(name)
        if any(isinstance(m, AttentionSlot) for m in model.modules()):
            continue
        family, size = cnnzoo.model_card(name).paper.title, _params(model)
        if family not in best or size < best[family][0]:
            best[family] = (size, name)
    return sorted(n for _, n in best.values())


@pytest.mark.parametrize("name", NETWORKS)
def test_every_network_gets_se_blocks(name: str) -> None:
    with torch.device("meta"):
        model = cnnzoo.create_model(name, num_classes=7)
        slots = [m.channels for m in model.modules() if isinstance(m, AttentionSlot)]
        before = _params(model)
        add_squeeze_excite(model, 16)
    se = [m for m in model.modules() if isinstance(m, SqueezeExcite)]
    print(f"{name}: {len(se)} SE blocks, +{_params(model) - before:,} parameters ({before:,} -> {_params(model):,})")
    if slots:  # the paper's places
        assert not any(isinstance(m, AttentionSlot) for m in model.modules())
        assert sorted(m.channels for m in se if not isinstance(m, StageExcite)) >= sorted(slots)
    else:  # one per stage, with the stage's channels
        stages = {i.module: i.num_chs for i in model.feature_info}
        assert {k: m.channels for k, m in model.stage_se.items()} == {k.replace(".", "_"): c for k, c in stages.items()}
        for name_ in stages:
            assert len(model.get_submodule(name_)._forward_hooks) == 1


@pytest.mark.parametrize("name", _stage_se_networks())
def test_se_forward_backward(name: str) -> None:
    card = cnnzoo.model_card(name)
    torch.manual_seed(0)
    model = add_squeeze_excite(cnnzoo.create_model(name, num_classes=7), 16).train()
    x = torch.randn(2, card.input_size[0], card.min_size, card.min_size)
    logits, aux, weight = split_outputs(model(x))
    assert logits.shape == (2, 7) and torch.isfinite(logits).all()
    labels = torch.tensor([1, 2])
    (F.cross_entropy(logits, labels) + weight * sum(F.cross_entropy(a, labels) for a in aux)).backward()
    se = [m for m in model.modules() if isinstance(m, SqueezeExcite)]
    assert all(p.grad is not None for m in se for p in m.parameters()), "an SE block is not on the forward path"


def test_stage_excite_recalibrates_each_stage_output() -> None:
    torch.manual_seed(0)
    plain = cnnzoo.create_model("lenet5")
    model = add_squeeze_excite(copy.deepcopy(plain), 4)
    assert sorted(model.stage_se) == ["c1", "c3", "c5", "s2", "s4"]
    x = torch.randn(3, 1, 32, 32)
    se = model.stage_se["c1"]
    c1 = plain.c1(x)
    gate = torch.sigmoid(se.fc2(torch.relu(se.fc1(c1.mean((2, 3), keepdim=True)))))
    torch.testing.assert_close(model.c1(x), c1 * gate)  # the stage's output, excited
    assert not torch.allclose(model(x), plain(x))
    twin = copy.deepcopy(model)  # the hooks follow the copy's own SE blocks
    hook = next(iter(twin.c1._forward_hooks.values()))
    assert hook.__self__ is twin.stage_se["c1"]
    torch.testing.assert_close(twin(x), model(x))
    assert set(plain.state_dict()) < set(model.state_dict())  # the stages keep their names


def test_families_with_slots_fill_them() -> None:
    with torch.device("meta"):
        model = add_squeeze_excite(cnnzoo.create_model("resnet18"), 16)
    assert not hasattr(model, "stage_se") and sum(isinstance(m, SqueezeExcite) for m in model.modules()) == 8
