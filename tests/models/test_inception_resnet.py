"""Inception-ResNet-v1/-v2 (Szegedy et al. 2016) and SE-Inception-ResNet-v2: the figures' parameter
arithmetic block by block, the released v2 against timm, residual scaling, SE overhead."""

from __future__ import annotations

import pytest
import timm
import torch
from torch import nn

import cnnzoo
from cnnzoo.analysis import count_mult_adds, count_params
from cnnzoo.layers.attention import AttentionSlot
from cnnzoo.layers.inception_v3_modules import InceptionResNetBlock
from cnnzoo.models.pretrained import assign_state_dict, weight_mapping
from parity import randomise


def meta_model(name: str, **kw: object) -> nn.Module:
    with torch.device("meta"):
        return cnnzoo.create_model(name, **kw)


def cb(cin: int, cout: int, kh: int, kw: int | None = None) -> int:
    """conv kh x kw without bias + BN (gamma, beta)."""
    return cin * cout * kh * (kh if kw is None else kw) + 2 * cout


def linear_1x1(cin: int, cout: int) -> int:
    """The residual blocks' "1x1 Conv (Linear)": with bias, no BN."""
    return cin * cout + cout


def reduction_a(c: int, k: int, l: int, m: int, n: int) -> int:  # noqa: E741
    """Fig. 7: 3x3/2 n | 1x1 k -> 3x3 l -> 3x3/2 m | max pool."""
    return cb(c, n, 3) + cb(c, k, 1) + cb(k, l, 3) + cb(l, m, 3)


def se_params(c: int, r: int = 16) -> int:
    return 2 * c * (c // r) + c // r + c


# -- Inception-ResNet-v1: Figs. 14, 10, 7, 11, 12, 13 ---------------------------------------------
V1_STEM = cb(3, 32, 3) + cb(32, 32, 3) + cb(32, 64, 3) + cb(64, 80, 1) + cb(80, 192, 3) + cb(192, 256, 3)  # Fig. 14
V1_A = cb(256, 32, 1) + (cb(256, 32, 1) + cb(32, 32, 3)) + (cb(256, 32, 1) + cb(32, 32, 3) + cb(32, 32, 3)) \
    + linear_1x1(96, 256)  # Fig. 10
V1_RED_A = reduction_a(256, k=192, l=192, m=256, n=384)  # Table 1 -> 896 channels
V1_B = cb(896, 128, 1) + (cb(896, 128, 1) + cb(128, 128, 1, 7) + cb(128, 128, 7, 1)) + linear_1x1(256, 896)  # Fig. 11
V1_RED_B = (cb(896, 256, 1) + cb(256, 384, 3)) + (cb(896, 256, 1) + cb(256, 256, 3)) \
    + (cb(896, 256, 1) + cb(256, 256, 3) + cb(256, 256, 3))  # Fig. 12 -> 896 + 384 + 256 + 256 = 1792
V1_C = cb(1792, 192, 1) + (cb(1792, 192, 1) + cb(192, 192, 1, 3) + cb(192, 192, 3, 1)) \
    + linear_1x1(384, 1792)  # Fig. 13
V1_FC = 1792 * 1000 + 1000
V1_TOTAL = V1_STEM + 5 * V1_A + V1_RED_A + 10 * V1_B + V1_RED_B + 5 * V1_C + V1_FC  # Fig. 15

# -- Inception-ResNet-v2: Figs. 3, 16, 7, 17, 18, 19 ----------------------------------------------
V2_STEM = (cb(3, 32, 3) + cb(32, 32, 3) + cb(32, 64, 3)  # Fig. 3
           + cb(64, 96, 3)  # 3x3/2 V 96 beside the max pool -> 160
           + cb(160, 64, 1) + cb(64, 96, 3)  # 1x1 64 -> 3x3 V 96
           + cb(160, 64, 1) + cb(64, 64, 7, 1) + cb(64, 64, 1, 7) + cb(64, 96, 3)  # 1x1 -> 7x1 -> 1x7 -> 3x3 V
           + cb(192, 192, 3))  # 3x3/2 V 192 beside the max pool -> 384
V2_A = cb(384, 32, 1) + (cb(384, 32, 1) + cb(32, 32, 3)) + (cb(384, 32, 1) + cb(32, 48, 3) + cb(48, 64, 3)) \
    + linear_1x1(128, 384)  # Fig. 16
V2_RED_A = reduction_a(384, k=256, l=256, m=384, n=384)  # Table 1 -> 1152 channels
V2_B = cb(1152, 192, 1) + (cb(1152, 128, 1) + cb(128, 160, 1, 7) + cb(160, 192, 7, 1)) \
    + linear_1x1(384, 1152)  # Fig. 17 (printed 1154: see the model's docstring)
V2_RED_B = (cb(1152, 256, 1) + cb(256, 384, 3)) + (cb(1152, 256, 1) + cb(256, 288, 3)) \
    + (cb(1152, 256, 1) + cb(256, 288, 3) + cb(288, 320, 3))  # Fig. 18 -> 1152 + 384 + 288 + 320 = 2144
V2_C = cb(2144, 192, 1) + (cb(2144, 192, 1) + cb(192, 224, 1, 3) + cb(224, 256, 3, 1)) \
    + linear_1x1(448, 2144)  # Fig. 19 (printed 2048)
V2_FC = 2144 * 1000 + 1000
V2_TOTAL = V2_STEM + 5 * V2_A + V2_RED_A + 10 * V2_B + V2_RED_B + 5 * V2_C + V2_FC


@pytest.mark.parametrize(("name", "stem_rows", "parts", "total", "width"), [
    ("inception_resnet_v1", 7, (V1_STEM, V1_A, V1_RED_A, V1_B, V1_RED_B, V1_C), V1_TOTAL, 1792),
    ("inception_resnet_v2", 6, (V2_STEM, V2_A, V2_RED_A, V2_B, V2_RED_B, V2_C), V2_TOTAL, 2144),
])
def test_params_block_by_block(name: str, stem_rows: int, parts: tuple[int, ...], total: int, width: int) -> None:
    model = meta_model(name)
    stem, a, red_a, b, red_b, c = parts
    assert sum(count_params(model.get_submodule(n)) for n in model.layer_names[:stem_rows]) == stem
    assert [count_params(m) for m in model.blocks_a] == [a] * 5
    assert count_params(model.reduction_a) == red_a
    assert [count_params(m) for m in model.blocks_b] == [b] * 10
    assert count_params(model.reduction_b) == red_b
    assert [count_params(m) for m in model.blocks_c] == [c] * 5
    assert count_params(model) == total and model.num_features == width


def test_totals() -> None:
    assert V1_TOTAL == 22_756_328 and V2_TOTAL == 32_433_928


def test_mult_adds_recorded() -> None:
    """The paper gives no counts (cards: None). §3.1 calls v1 "roughly the cost of Inception-v3"
    (5.71e9 here) and v2 "the raw cost of Inception-v4" (12.25e9): the figures' 5/10/5 blocks make v2
    cheaper (9.26e9); the released v2 (10/20/10 blocks) costs 13.16e9, equal to timm's."""
    assert count_mult_adds(meta_model("inception_resnet_v1"), (3, 299, 299)) == 6_206_361_696
    assert count_mult_adds(meta_model("inception_resnet_v2"), (3, 299, 299)) == 9_257_953_632
    with torch.device("meta"):
        tm = timm.create_model("inception_resnet_v2", pretrained=False)
    released = count_mult_adds(meta_model("inception_resnet_v2_timm"), (3, 299, 299))
    assert released == count_mult_adds(tm, (3, 299, 299)) == 13_155_794_016
    for name in ("inception_resnet_v1", "inception_resnet_v2", "inception_resnet_v2_timm"):
        card = cnnzoo.model_card(name)
        assert card.params is None and card.mult_adds is None


def test_released_v2_params_and_parity_with_timm() -> None:
    with torch.device("meta"):
        tm_meta = timm.create_model("inception_resnet_v2", pretrained=False)
    assert count_params(meta_model("inception_resnet_v2_timm")) == count_params(tm_meta) == 55_843_464
    torch.manual_seed(0)
    x = torch.randn(2, 3, 75, 75, generator=torch.Generator().manual_seed(1))
    tm = randomise(timm.create_model("inception_resnet_v2", pretrained=False, num_classes=10))
    ours = cnnzoo.create_model("inception_resnet_v2_timm", num_classes=10)
    assign_state_dict(ours, weight_mapping("inception_resnet_v2_timm", "timm")(tm.state_dict()), source="test")
    with torch.no_grad():
        expected = tm(x)
        assert 0.1 < expected.abs().max() < 1e3
        assert (ours.eval()(x) - expected).abs().max() <= 1e-4


def test_residual_scaling_and_block_layout() -> None:
    """§3.3: residuals scaled by 0.1-0.3 before the addition (the release's 0.17 / 0.10 / 0.20);
    §3.2: no BN on the summations; the linear 1x1 has a bias and no BN."""
    for name, stacks in (("inception_resnet_v1", ("blocks_a", "blocks_b", "blocks_c")),
                         ("inception_resnet_v2_timm", ("repeat", "repeat_1", "repeat_2"))):
        model = meta_model(name)
        assert [model.get_submodule(s)[0].scale for s in stacks] == [0.17, 0.10, 0.20]
        block = model.get_submodule(stacks[0])[0]
        assert block.expand.bias is not None and isinstance(block.act, nn.ReLU)
    last = meta_model("inception_resnet_v2_timm").block8
    assert last.scale == 1.0 and isinstance(last.act, nn.Identity)  # the release's last block
    torch.manual_seed(0)
    block = cnnzoo.create_model("inception_resnet_v1").blocks_b[0].eval()
    x = torch.randn(2, 896, 5, 5)
    with torch.no_grad():
        residual = block.expand(torch.cat([block.branch0(x), block.branch1(x)], 1))
        assert torch.allclose(block(x), torch.relu(x + 0.1 * residual), atol=1e-6)


def test_v2_widths_are_consistent() -> None:
    """Figs. 17 and 19 print 1154 and 2048 output channels; a residual sum needs the input width."""
    model = meta_model("inception_resnet_v2")
    assert model.blocks_b[0].expand.out_channels == 1152 and model.blocks_c[0].expand.out_channels == 2144
    assert model.blocks_b[0].paper_columns()["patch size/stride or remarks"] == "as in figure 17, residual scale 0.1"


def test_se_inception_resnet_v2_overhead_and_published_figures() -> None:
    """SE on every residual branch and module output: the SE formula summed over the 22 slots. The SE
    paper (Table 2) gives SE-Inception-ResNet-v2 11.76 GFLOPs (mult-adds) against 11.75 for its
    re-implemented IR-v2, a layout it does not spell out: 11.76e9 lies between the figures' network
    (9.26e9) and the release (13.16e9); the SE blocks add 0.06%."""
    plain = meta_model("inception_resnet_v2")
    slots = [m.channels for m in plain.modules() if isinstance(m, AttentionSlot)]
    assert slots == [384] * 5 + [1152] + [1152] * 10 + [2144] + [2144] * 5
    se = meta_model("se_inception_resnet_v2")
    assert count_params(se) == V2_TOTAL + sum(se_params(c) for c in slots) == 37_827_580
    assert all(b.attn.fc1.out_channels == b.out_chs // 16 for b in se.modules() if isinstance(b, InceptionResNetBlock))
    card = cnnzoo.model_card("se_inception_resnet_v2")
    assert (card.top1_err, card.top5_err, card.mult_adds) == (19.80, 4.79, 11.76e9)
    ours = count_mult_adds(se, (3, 299, 299))
    assert ours / count_mult_adds(plain, (3, 299, 299)) == pytest.approx(1.0, abs=1e-3)
    assert 9.26e9 < card.mult_adds < 13.16e9


def test_min_size_is_75_for_every_variant() -> None:
    for name in ("inception_resnet_v1", "inception_resnet_v2", "inception_resnet_v2_timm"):
        assert cnnzoo.model_card(name).min_size == 75
        model = meta_model(name).eval()
        assert model(torch.zeros(1, 3, 75, 75, device="meta")).shape == (1, 1000)
        with pytest.raises(RuntimeError):
            model(torch.zeros(1, 3, 74, 74, device="meta"))
