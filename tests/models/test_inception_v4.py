"""Inception-v4 (Szegedy et al. 2016): timm counts and parity, Table 1's Reduction-A, the figures' grids."""

from __future__ import annotations

import timm
import torch
from torch import nn

import cnnzoo
from cnnzoo.analysis import count_mult_adds, count_params
from cnnzoo.layers.attention import AttentionSlot
from cnnzoo.models.inception_v4 import REDUCTION_A
from cnnzoo.models.pretrained import assign_state_dict, weight_mapping
from parity import randomise


def meta_model(name: str = "inception_v4", **kw: object) -> nn.Module:
    with torch.device("meta"):
        return cnnzoo.create_model(name, **kw)


def test_params_and_mult_adds_equal_timm() -> None:
    """The paper publishes neither (the card's params and mult_adds are None); timm's release is the
    reference: 42,679,816 parameters, 12.25e9 mult-adds at 299x299."""
    with torch.device("meta"):
        tm = timm.create_model("inception_v4", pretrained=False)
    ours = meta_model()
    assert count_params(ours) == count_params(tm) == 42_679_816
    assert count_mult_adds(ours, (3, 299, 299)) == count_mult_adds(tm, (3, 299, 299)) == 12_253_974_624
    card = cnnzoo.model_card("inception_v4")
    assert card.params is None and card.mult_adds is None and (card.top1_err, card.top5_err) == (20.0, 5.0)


def test_parity_with_timm() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 3, 75, 75, generator=torch.Generator().manual_seed(1))
    tm = randomise(timm.create_model("inception_v4", pretrained=False, num_classes=10))
    ours = cnnzoo.create_model("inception_v4", num_classes=10)
    assign_state_dict(ours, weight_mapping("inception_v4", "timm")(tm.state_dict()), source="test")
    with torch.no_grad():
        expected = tm(x)
        assert 0.1 < expected.abs().max() < 1e3
        assert (ours.eval()(x) - expected).abs().max() <= 1e-4


def test_grids_of_figure_9() -> None:
    """Fig. 9: stem -> 35x35x384, Reduction-A -> 17x17x1024, Reduction-B -> 8x8x1536."""
    model = meta_model().eval()
    sizes: dict[str, tuple[int, ...]] = {}
    for name in ("Mixed_3a", "Mixed_4a", "Mixed_5a", "Mixed_5e", "Mixed_6a", "Mixed_6h", "Mixed_7a", "Mixed_7d"):
        model.get_submodule(name).register_forward_hook(
            lambda _m, _i, out, name=name: sizes.__setitem__(name, tuple(out.shape[1:])))
    model(torch.zeros(1, 3, 299, 299, device="meta"))
    assert sizes == {"Mixed_3a": (160, 73, 73), "Mixed_4a": (192, 71, 71), "Mixed_5a": (384, 35, 35),
                     "Mixed_5e": (384, 35, 35), "Mixed_6a": (1024, 17, 17), "Mixed_6h": (1024, 17, 17),
                     "Mixed_7a": (1536, 8, 8), "Mixed_7d": (1536, 8, 8)}
    assert [n for n in model.layer_names if n.startswith("Mixed_")] == (
        ["Mixed_3a", "Mixed_4a", "Mixed_5a"] + [f"Mixed_5{c}" for c in "bcde"] + ["Mixed_6a"]
        + [f"Mixed_6{c}" for c in "bcdefgh"] + ["Mixed_7a"] + [f"Mixed_7{c}" for c in "bcd"])
    assert model.dropout.p == 0.2  # "Dropout (keep 0.8)"


def test_reduction_a_is_table_1() -> None:
    """Table 1: k, l, m, n of Reduction-A (Fig. 7) per network."""
    assert {name: (r.k, r.l, r.m, r.n) for name, r in REDUCTION_A.items()} == {
        "inception_v4": (192, 224, 256, 384),
        "inception_resnet_v1": (192, 192, 256, 384),
        "inception_resnet_v2": (256, 256, 384, 384),
    }
    red = meta_model().Mixed_6a
    assert red.branch0.conv.out_channels == 384 and red.branch0.conv.stride == (2, 2)  # n, 3x3/2 V
    assert [m.conv.out_channels for m in red.branch1] == [192, 224, 256]  # k, l, m
    assert red.paper_columns()["patch size/stride or remarks"] == "as in figure 7"


def test_se_slots_on_inception_and_reduction_modules_not_the_stem() -> None:
    model = meta_model()
    slots = [n for n, m in model.named_modules() if isinstance(m, AttentionSlot)]
    assert len(slots) == 4 + 1 + 7 + 1 + 3 and slots[0] == "Mixed_5b.attn"
    se = meta_model(se_reduction=16)
    overhead = 4 * (2 * 384 * 24 + 24 + 384) + (2 * 1024 * 64 + 64 + 1024) * 8 + (2 * 1536 * 96 + 96 + 1536) * 4
    assert count_params(se) == 42_679_816 + overhead
