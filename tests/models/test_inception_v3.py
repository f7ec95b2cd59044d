"""Inception v3 (Szegedy et al. 2015) and SE-Inception-v3: counts, torchvision/timm parity, aux head."""

from __future__ import annotations

import pytest
import timm
import torch
import torchvision
from torch import nn

import cnnzoo
from cnnzoo.analysis import count_mult_adds, count_params
from cnnzoo.layers.attention import AttentionSlot, SqueezeExcite, add_squeeze_excite
from cnnzoo.layers.inception_v3_modules import InceptionModule
from cnnzoo.models.base import AuxOutputs
from cnnzoo.models.pretrained import assign_state_dict, weight_mapping
from parity import randomise

# Output channels of the 11 Inception modules (Table 1 grids: 3 at 35x35, the Fig. 10 reduction and
# 4 at 17x17, the second reduction and 2 at 8x8), where SE-Inception puts its SE blocks (SE Fig. 2).
MODULE_CHANNELS = {"Mixed_5b": 256, "Mixed_5c": 288, "Mixed_5d": 288, "Mixed_6a": 768, "Mixed_6b": 768,
                   "Mixed_6c": 768, "Mixed_6d": 768, "Mixed_6e": 768, "Mixed_7a": 1280, "Mixed_7b": 2048,
                   "Mixed_7c": 2048}


def meta_model(name: str = "inception_v3", **kw: object) -> nn.Module:
    with torch.device("meta"):
        return cnnzoo.create_model(name, **kw)


def se_params(c: int, r: int = 16) -> int:
    """One SE block: C -> C/r -> C with biases: 2 C (C/r) + C/r + C."""
    return 2 * c * (c // r) + c // r + c


def test_params_equal_torchvision() -> None:
    with torch.device("meta"):
        tv = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False)
    assert count_params(meta_model()) == count_params(tv) == 27_161_264
    assert count_params(meta_model(aux_logits=False)) == 23_834_568  # torchvision's trunk without AuxLogits
    assert count_params(meta_model(num_classes=10)) == 27_161_264 - 990 * (2048 + 1) - 990 * (768 + 1)  # fc, aux fc


def test_mult_adds_against_the_paper() -> None:
    """The paper (abstract, §6): "5 billion multiply-adds" (Table 3: 4.8 billion for the BN-auxiliary row).

    The released layout we build (the paper gives no filter counts) costs 5.71e9, torchvision's _ops
    figure: 14.3% above the abstract's round number, so the tolerance is 15%."""
    ours = count_mult_adds(meta_model(), (3, 299, 299))
    with torch.device("meta"):
        tv = torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=False)
    assert ours == count_mult_adds(tv, (3, 299, 299)) == 5_713_216_096
    assert ours == pytest.approx(cnnzoo.model_card("inception_v3").mult_adds, rel=0.15)


def test_parity_with_torchvision() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 3, 75, 75, generator=torch.Generator().manual_seed(1))
    tv = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False, num_classes=10)
    randomise(tv)
    ours = cnnzoo.create_model("inception_v3", num_classes=10)
    assign_state_dict(ours, weight_mapping("inception_v3", "torchvision")(tv.state_dict()), source="test")
    with torch.no_grad():
        expected = tv.eval()(x)
        assert 0.1 < expected.abs().max() < 1e3
        assert (ours.eval()(x) - expected).abs().max() <= 1e-4
        # the auxiliary head on the 17x17 grid of a 299x299 input, where torchvision defines it
        grid = torch.randn(2, 768, 17, 17)
        assert (ours.AuxLogits.eval()(grid) - tv.AuxLogits.eval()(grid)).abs().max() <= 1e-4


def test_timm_names_are_torchvisions() -> None:
    """timm's inception_v3 is torchvision's module for module (without the aux head by default):
    the same mapping serves both; timm's weights load into `aux_logits=False`."""
    with torch.device("meta"):
        tm = timm.create_model("inception_v3", pretrained=False)
    mapped = weight_mapping("inception_v3", "timm")(tm.state_dict())
    assert sorted(mapped) == sorted(meta_model(aux_logits=False).state_dict())


def test_library_names_cover_every_module() -> None:
    with torch.device("meta"):
        tv = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False)
    mapped = weight_mapping("inception_v3", "torchvision")(tv.state_dict())
    assert sorted(mapped) == sorted(meta_model().state_dict())
    assert "Mixed_7b.branch3x3dbl.2.1.conv.weight" in mapped  # torchvision's branch3x3dbl_3b
    assert "Mixed_5b.branch_pool.1.bn.running_var" in mapped  # torchvision's branch_pool after F.avg_pool2d


def test_aux_outputs_in_training_only() -> None:
    """§7: one auxiliary head on the last 17x17 map; loss weight 0.4 (the released training script)."""
    torch.manual_seed(0)
    model = cnnzoo.create_model("inception_v3", num_classes=5)
    x = torch.randn(2, 3, 75, 75)  # min_size: the aux head pools its 3x3 map adaptively to 5x5
    out = model.train()(x)
    assert isinstance(out, AuxOutputs) and out.aux_weight == 0.4
    assert out.logits.shape == (2, 5) and [a.shape for a in out.aux] == [(2, 5)]
    with torch.no_grad():
        assert isinstance(model.eval()(x), torch.Tensor)
    plain = cnnzoo.create_model("inception_v3", num_classes=5, aux_logits=False).train()
    assert isinstance(plain(x), torch.Tensor) and not hasattr(plain, "AuxLogits")
    model.reset_classifier(3)
    assert model.fc.out_features == model.AuxLogits.fc.out_features == 3
    model.reset_classifier(0)
    assert isinstance(model.AuxLogits.fc, nn.Identity)


def test_bn_auxiliary_and_bn_on_every_conv() -> None:
    """BN-auxiliary (§7): the 768-wide 5x5 conv of the side head (its "fully connected" layer) is
    batch-normed, as in torchvision; only the two classifiers are plain linear layers."""
    model = meta_model()
    assert isinstance(model.AuxLogits.conv1.bn, nn.BatchNorm2d) and model.AuxLogits.conv1.conv.kernel_size == (5, 5)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(convs) == len(bns) == 96 and all(b.eps == 1e-3 for b in bns)
    assert all(c.bias is None for c in convs)


def test_factorised_modules_and_table_1_grids() -> None:
    model = meta_model(aux_logits=False).eval()
    sizes: dict[str, tuple[int, ...]] = {}
    for name in ("maxpool2", "Mixed_5d", "Mixed_6e", "Mixed_7c"):
        model.get_submodule(name).register_forward_hook(
            lambda _m, _i, out, name=name: sizes.__setitem__(name, tuple(out.shape[1:])))
    model(torch.zeros(1, 3, 299, 299, device="meta"))
    assert sizes == {"maxpool2": (192, 35, 35), "Mixed_5d": (288, 35, 35), "Mixed_6e": (768, 17, 17),
                     "Mixed_7c": (2048, 8, 8)}
    kernels = {m.conv.kernel_size for m in model.Mixed_6b.branch7x7dbl}
    assert kernels == {(1, 1), (1, 7), (7, 1)}  # n = 7 (§3.2)
    assert [m.conv.kernel_size for m in model.Mixed_7b.branch3x3[1]] == [(1, 3), (3, 1)]  # Fig. 7 split
    assert model.Mixed_5b.paper_columns()["patch size/stride or remarks"] == "as in figure 5"
    assert model.Mixed_6a.paper_columns()["branches"].startswith("3x3/2 V 384 | 1x1 64, 3x3 96, 3x3/2 V 96")


def test_se_inception_v3_overhead_is_the_se_formula() -> None:
    model = cnnzoo.create_model("inception_v3", aux_logits=False)
    slots = {n.removesuffix(".attn"): m.channels for n, m in model.named_modules() if isinstance(m, AttentionSlot)}
    assert slots == MODULE_CHANNELS
    overhead = sum(se_params(c) for c in MODULE_CHANNELS.values())
    assert count_params(meta_model("se_inception_v3")) == 27_161_264 + overhead == 28_822_884
    add_squeeze_excite(model, 16)
    assert isinstance(model.Mixed_7c.attn, SqueezeExcite)
    assert count_params(model) == 23_834_568 + overhead
    assert all(isinstance(m.attn, SqueezeExcite) for m in meta_model("se_inception_v3").modules()
               if isinstance(m, InceptionModule))


def test_min_size_is_75() -> None:
    assert cnnzoo.model_card("inception_v3").min_size == 75
    model = meta_model().eval()
    assert model(torch.zeros(1, 3, 75, 75, device="meta")).shape == (1, 1000)
    with pytest.raises(RuntimeError):
        model(torch.zeros(1, 3, 74, 74, device="meta"))  # the 8x8 grid would be empty


def test_bad_arguments() -> None:
    for kw, word in (({"drop_rate": 1.0}, "drop_rate"), ({"se_reduction": 0}, "se_reduction"),
                     ({"num_classes": -1}, "num_classes"), ({"in_chans": 0}, "in_chans")):
        with pytest.raises(ValueError, match=word):
            cnnzoo.create_model("inception_v3", **kw)
