"""GoogLeNet (Szegedy et al. 2014): Table 1 row by row, totals, aux heads, torchvision parity."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import cnnzoo
from cnnzoo.analysis import count_mult_adds, count_params
from cnnzoo.layers.attention import AttentionSlot, SqueezeExcite, add_squeeze_excite
from cnnzoo.layers.inception_v1_modules import Inception, InceptionAux
from cnnzoo.models.base import AuxOutputs
from cnnzoo.models.googlenet import TABLE_1
from cnnzoo.models.pretrained import assign_state_dict, weight_mapping

# Table 1, written out again: name, input channels, map size, #1x1, #3x3 reduce, #3x3,
# #5x5 reduce, #5x5, pool proj, the paper's params (K) and ops (M).
INCEPTION_ROWS = [
    ("3a", 192, 28, 64, 96, 128, 16, 32, 32, 159, 128),
    ("3b", 256, 28, 128, 128, 192, 32, 96, 64, 380, 304),
    ("4a", 480, 14, 192, 96, 208, 16, 48, 64, 364, 73),
    ("4b", 512, 14, 160, 112, 224, 24, 64, 64, 437, 88),
    ("4c", 512, 14, 128, 128, 256, 24, 64, 64, 463, 100),
    ("4d", 512, 14, 112, 144, 288, 32, 64, 64, 580, 119),
    ("4e", 528, 14, 256, 160, 320, 32, 128, 128, 840, 170),
    ("5a", 832, 7, 256, 160, 320, 32, 128, 128, 1072, 54),
    ("5b", 832, 7, 384, 192, 384, 48, 128, 128, 1388, 71),
]
# Rows whose printed params / ops disagree with their own columns by more than 2% (module docstring).
PARAMS_OFF = {"4c": +7.5, "5a": -5.0}  # percent, our weights / 1024 against the printed K
OPS_OFF = {"5a": -5.4}


def inception_weights(cin: int, n1: int, r3: int, n3: int, r5: int, n5: int, proj: int, k5: int = 5) -> int:
    """Weights of one module (no biases): 1x1 | 1x1 -> 3x3 | 1x1 -> 5x5 | pool -> 1x1 (Fig. 2b)."""
    return cin * n1 + cin * r3 + 9 * r3 * n3 + cin * r5 + k5 * k5 * r5 * n5 + cin * proj


def inception_biases(n1: int, r3: int, n3: int, r5: int, n5: int, proj: int) -> int:
    return n1 + r3 + n3 + r5 + n5 + proj


def aux_params(cin: int, classes: int = 1000) -> int:
    """§5: 1x1 conv 128 (+bias), FC 4*4*128 -> 1024, FC 1024 -> classes."""
    return (cin * 128 + 128) + (2048 * 1024 + 1024) + (1024 * classes + classes)


STEM_PARAMS = (7 * 7 * 3 * 64 + 64) + (64 * 64 + 64) + (3 * 3 * 64 * 192 + 192)  # conv1, conv2 (1x1), conv3
FC_PARAMS = 1024 * 1000 + 1000
STEM_OPS = 7 * 7 * 3 * 64 * 112 * 112 + (64 * 64 + 9 * 64 * 192) * 56 * 56
TRUNK_PARAMS = STEM_PARAMS + FC_PARAMS + sum(inception_weights(*r[1:2], *r[3:9]) + inception_biases(*r[3:9])
                                             for r in INCEPTION_ROWS)
TRUNK_OPS = STEM_OPS + 1024 * 1000 + sum(inception_weights(*r[1:2], *r[3:9]) * r[2] ** 2 for r in INCEPTION_ROWS)


def meta_model(name: str = "googlenet", **kw: object) -> nn.Module:
    with torch.device("meta"):
        return cnnzoo.create_model(name, **kw).eval()


def per_module_mult_adds(model: nn.Module, size: int = 224) -> dict[str, int]:
    """Mult-adds of every submodule in one forward pass (FlopCounterMode's module breakdown)."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 3, size, size, device="meta"))
    prefix = type(model).__name__ + "."
    return {k.removeprefix(prefix): sum(v.values()) // 2 for k, v in counter.get_flop_counts().items()}


# -- Table 1 -------------------------------------------------------------------------------------

def test_modules_carry_table_1_columns_and_output_sizes() -> None:
    model = meta_model()
    shapes: dict[str, tuple[int, ...]] = {}
    for row in TABLE_1:
        for name in row.modules[-1:]:
            if name in model.layer_names:
                model.get_submodule(name).register_forward_hook(
                    lambda _m, _i, out, name=name: shapes.__setitem__(name, tuple(out.shape[1:])))
    model(torch.zeros(1, 3, 224, 224, device="meta"))
    for row in TABLE_1:
        if row.modules and row.modules[-1] in shapes:
            h, w, c = row.output_size
            assert shapes[row.modules[-1]] == (c, h, w), row.type
    for name, *cols in INCEPTION_ROWS:
        block = model.get_submodule(f"inception{name}")
        assert block.paper_columns() == dict(zip(
            ["#1x1", "#3x3 reduce", "#3x3", "#5x5 reduce", "#5x5", "pool proj"], cols[2:8], strict=True))


def test_per_row_params_are_the_columns_arithmetic(capsys: pytest.CaptureFixture[str]) -> None:
    """Exact counts from the layer sizes; Table 1's params column printed beside them.

    Table 1 counts weights without biases in K = 1024; rows 4c and 5a disagree with their own
    columns (we build the columns, not the printed figures).
    """
    model = meta_model()
    for name, cin, _hw, *cols, paper_k, _ops in INCEPTION_ROWS:
        weights = inception_weights(cin, *cols)
        assert count_params(model.get_submodule(f"inception{name}")) == weights + inception_biases(*cols)
        off = (weights / 1024 - paper_k) / paper_k * 100
        print(f"inception ({name}): {weights:,} weights = {weights / 1024:.1f}K, paper {paper_k}K ({off:+.1f}%)")
        if name in PARAMS_OFF:
            assert off == pytest.approx(PARAMS_OFF[name], abs=0.1)
        else:
            assert abs(off) <= 2.0
    assert count_params(model.conv2) + count_params(model.conv3) == (64 * 64 + 64) + (9 * 64 * 192 + 192)
    assert (64 * 64 + 9 * 64 * 192) / 1024 == 112  # "convolution 3x3/1": 112K exactly
    assert count_params(model.fc) == FC_PARAMS  # "linear": 1000K = 1,024,000 weights
    # "convolution 7x7/2" prints 2.7K: a separable 7x7 with depth multiplier 8 (3*8*49 + 24*64 = 2,712)
    assert count_params(model.conv1) == 7 * 7 * 3 * 64 + 64
    assert count_params(meta_model(separable_stem=True).conv1) == 3 * 8 * 49 + 24 * 64 + 64
    assert "paper" in capsys.readouterr().out


def test_per_row_ops_within_2_percent_of_table_1() -> None:
    """Issue 4: per-row mult-adds from the dispatch counter against Table 1's ops column (M)."""
    counts = per_module_mult_adds(meta_model())
    for name, cin, hw, *cols, _params, paper_m in INCEPTION_ROWS:
        ours = counts[f"inception{name}"]
        assert ours == inception_weights(cin, *cols) * hw * hw
        off = (ours / 1e6 - paper_m) / paper_m * 100
        if name in OPS_OFF:
            assert off == pytest.approx(OPS_OFF[name], abs=0.1)
        else:
            assert abs(off) <= 2.0, (name, ours, paper_m)
    assert counts["conv2"] + counts["conv3"] == pytest.approx(360e6, rel=0.02)  # "convolution 3x3/1": 360M
    assert counts["fc"] == pytest.approx(1e6, rel=0.03)  # "linear": 1M
    assert counts["conv1"] == 118_013_952  # a full 7x7 convolution; the table's 34M is the separable one:
    assert per_module_mult_adds(meta_model(separable_stem=True))["conv1"] == pytest.approx(34e6, rel=0.01)


def test_totals() -> None:
    """Whole network: exact against the arithmetic, and against the published 6.8M / 1.5e9.

    6.8M is Table 1's params column summed (6,797.7K; biases and K = 1024 aside). 1.5e9 is the
    paper's inference budget (§1); Table 1's ops column sums to 1,502M with its separable first
    layer. The full 7x7 first layer costs 84M more: 1.583e9, 5.5% above -> tolerance 6%.
    """
    model = meta_model()
    assert count_params(meta_model(aux_logits=False)) == TRUNK_PARAMS == 6_998_552
    assert count_params(model) == TRUNK_PARAMS + aux_params(512) + aux_params(528) == 13_378_280
    assert TRUNK_PARAMS == pytest.approx(6.8e6, rel=0.03)
    assert count_mult_adds(model, (3, 224, 224)) == TRUNK_OPS == 1_582_671_872
    assert TRUNK_OPS == pytest.approx(1.5e9, rel=0.06)
    assert count_mult_adds(meta_model(separable_stem=True), (3, 224, 224)) == pytest.approx(1.502e9, rel=0.005)
    assert sum(r.ops or 0 for r in TABLE_1) == 1502


# -- the paper's layout ----------------------------------------------------------------------------

def test_paper_layout_5x5_lrn_no_batchnorm_dropout() -> None:
    model = meta_model()
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert all(model.get_submodule(f"inception{r[0]}").branch3[1].conv.kernel_size == (5, 5) for r in INCEPTION_ROWS)
    order = list(model.layer_names)
    assert order[:7] == ["conv1", "maxpool1", "lrn1", "conv2", "conv3", "lrn2", "maxpool2"]  # Figure 3
    assert isinstance(model.lrn1, nn.LocalResponseNorm) and isinstance(model.lrn2, nn.LocalResponseNorm)
    assert model.dropout.p == 0.4 and model.aux1.dropout.p == 0.7
    tv = meta_model("googlenet_tv")
    assert "lrn1" not in tv.layer_names and tv.dropout.p == 0.2 and tv.maxpool4.kernel_size == 2
    assert tv.inception3a.branch3[1].conv.kernel_size == (3, 3)


def test_aux_heads_training_only() -> None:
    torch.manual_seed(0)
    model = cnnzoo.create_model("googlenet", num_classes=5)
    x = torch.randn(2, 3, 96, 96)
    out = model.train()(x)
    assert isinstance(out, AuxOutputs) and out.aux_weight == 0.3
    assert out.logits.shape == (2, 5) and [a.shape for a in out.aux] == [(2, 5), (2, 5)]
    with torch.no_grad():
        assert isinstance(model.eval()(x), torch.Tensor)
    plain = cnnzoo.create_model("googlenet", num_classes=5, aux_logits=False).train()
    assert isinstance(plain(x), torch.Tensor) and not hasattr(plain, "aux1")
    model.reset_classifier(3)
    assert model.fc.out_features == model.aux1.fc2.out_features == model.aux2.fc2.out_features == 3


def test_aux_pooling_is_the_papers_5x5_stride_3_at_224() -> None:
    """(4a) is 14x14 at 224x224: 5x5/3 average pooling gives the 4x4x512 of §5 directly."""
    torch.manual_seed(0)
    aux = InceptionAux(512, 10).eval()
    x = torch.randn(2, 512, 14, 14)
    pooled = F.avg_pool2d(x, 5, stride=3)
    assert pooled.shape[-2:] == (4, 4)
    with torch.no_grad():
        expected = aux.fc2(F.relu(aux.fc1(torch.flatten(aux.conv(pooled), 1))))
        assert torch.allclose(aux(x), expected)
        assert aux(torch.randn(2, 512, 2, 2)).shape == (2, 10)  # small inputs still train


def test_attention_slots_on_every_module_output() -> None:
    model = cnnzoo.create_model("googlenet", aux_logits=False)
    slots = [(n, m) for n, m in model.named_modules() if isinstance(m, AttentionSlot)]
    assert [n for n, _ in slots] == [f"inception{r[0]}.attention" for r in INCEPTION_ROWS]
    assert [m.channels for _, m in slots] == [256, 480, 512, 512, 512, 528, 832, 832, 1024]
    add_squeeze_excite(model, 16)
    assert isinstance(model.inception5b.attention, SqueezeExcite)
    se = meta_model(se_reduction=16, aux_logits=False)
    assert count_params(se) == TRUNK_PARAMS + sum(2 * c * (c // 16) + c + c // 16 for _, m in slots
                                                  for c in [m.channels])


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="layout"):
        cnnzoo.create_model("googlenet", layout="caffe")
    with pytest.raises(ValueError, match="drop_rate"):
        cnnzoo.create_model("googlenet", drop_rate=1.5)
    with pytest.raises(ValueError, match="stride"):
        Inception(8, 4, 4, 4, 4, 4, 4, stride=3)


# -- torchvision ------------------------------------------------------------------------------------

def _torchvision_googlenet(**kw: object) -> nn.Module:
    return torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=True, **kw)


def test_tv_params_and_mult_adds_equal_torchvisions() -> None:
    with torch.device("meta"):
        tv = _torchvision_googlenet()
    assert count_params(meta_model("googlenet_tv")) == count_params(tv) == 13_004_888
    assert count_params(meta_model("googlenet_tv", aux_logits=False)) == 6_624_904  # torchvision's num_params
    assert count_mult_adds(meta_model("googlenet_tv"), (3, 224, 224)) == pytest.approx(1.498e9, rel=5e-4)  # _ops


def test_tv_parity_with_torchvision() -> None:
    torch.manual_seed(0)
    tv = _torchvision_googlenet(num_classes=10)
    ours = cnnzoo.create_model("googlenet_tv", num_classes=10)
    mapper = weight_mapping("googlenet_tv", "torchvision")
    assert mapper is not None
    assign_state_dict(ours, mapper(tv.state_dict()), source="test")
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert (tv.eval()(x) - ours.eval()(x)).abs().max() <= 1e-4
        torch.manual_seed(2)
        a = tv.train()(x)
        torch.manual_seed(2)
        b = ours.train()(x)
    assert (a.logits - b.logits).abs().max() <= 1e-4  # same dropout draws: same forward order
    assert (a.aux_logits1 - b.aux[0]).abs().max() <= 1e-4 and (a.aux_logits2 - b.aux[1]).abs().max() <= 1e-4
