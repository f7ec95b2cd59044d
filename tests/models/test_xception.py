"""Xception (Chollet 2016, arXiv 1610.02357): Figure 5's counts, timm parity, module behaviour."""

from __future__ import annotations

import pytest
import torch

import cnnzoo
from cnnzoo.analysis import count_mult_adds, count_params
from cnnzoo.layers.attention import AttentionSlot, SqueezeExcite, add_squeeze_excite
from cnnzoo.layers.separable import SeparableConv2d, SeparableConvNormAct
from cnnzoo.models.pretrained import assign_state_dict, weight_mapping

timm = pytest.importorskip("timm")


def _meta(name: str, **kw: object) -> torch.nn.Module:
    with torch.device("meta"):
        return cnnzoo.create_model(name, **kw)


def test_params_follow_figure_5_and_equal_timm_and_table_3() -> None:
    # Figure 5, every convolution followed by BN (2 trainable parameters per channel), SepConvs
    # 3x3 with depth multiplier 1 and no bias: depthwise 9*c_in + pointwise c_in*c_out.
    def bn(c: int) -> int:
        return 2 * c

    def sep(c_in: int, c_out: int) -> int:
        return 9 * c_in + c_in * c_out + bn(c_out)

    stem = 3 * 3 * 3 * 32 + bn(32) + 3 * 3 * 32 * 64 + bn(64)  # Conv 32 3x3/2, Conv 64 3x3
    entry = sum(sep(c_in, w) + sep(w, w) + c_in * w + bn(w)  # two SepConvs + Conv 1x1/2 shortcut
                for c_in, w in ((64, 128), (128, 256), (256, 728)))
    middle = 8 * 3 * sep(728, 728)  # 3 SepConv 728, repeated 8 times
    exit_ = sep(728, 728) + sep(728, 1024) + 728 * 1024 + bn(1024) + sep(1024, 1536) + sep(1536, 2048)
    fc = 2048 * 1000 + 1000
    assert stem + entry + middle + exit_ + fc == 22_855_952  # Table 3: "Xception 22,855,952"
    assert count_params(_meta("xception")) == 22_855_952
    with torch.device("meta"):
        reference = timm.create_model("legacy_xception", pretrained=False)
    assert count_params(reference) == 22_855_952


def test_mult_adds_equal_timm() -> None:
    # The paper publishes no operation count; timm's legacy_xception, the same network, counts
    # 8,357,403,496 mult-adds at 299x299 (one multiply-add = one operation).
    assert count_mult_adds(_meta("xception"), (3, 299, 299)) == 8_357_403_496
    with torch.device("meta"):
        reference = timm.create_model("legacy_xception", pretrained=False)
    assert count_mult_adds(reference, (3, 299, 299)) == 8_357_403_496


def test_flows_give_figure_5_map_sizes() -> None:
    model = _meta("xception")
    maps = model.forward_intermediates(torch.zeros(1, 3, 299, 299, device="meta"))
    assert [tuple(m.shape[1:]) for m in maps] == [
        (64, 147, 147), (128, 74, 74), (256, 37, 37), (728, 19, 19), (2048, 10, 10)]
    assert len(model.entry_flow) == 3 and len(model.middle_flow) == 8


def test_parity_with_timm_legacy_xception() -> None:
    torch.manual_seed(0)
    reference = timm.create_model("legacy_xception", pretrained=False, num_classes=10).eval()
    model = cnnzoo.create_model("xception", num_classes=10).eval()
    mapped = weight_mapping("xception", "timm")(reference.state_dict())
    report = assign_state_dict(model, mapped, source="test")
    assert report.loaded == len(reference.state_dict()) and not report.reset
    x = torch.randn(2, 3, 71, 71)
    with torch.no_grad():
        ours, theirs = model(x), reference(x)
    assert theirs.std() > 0
    assert (ours - theirs).abs().max() <= 1e-4


def test_separable_conv_has_no_activation_between_depthwise_and_pointwise() -> None:
    conv = SeparableConv2d(8, 16, 3)
    assert [n for n, _ in conv.named_children()] == ["depthwise", "pointwise"]
    assert conv.depthwise.groups == 8 and conv.depthwise.out_channels == 8  # depth multiplier 1
    assert conv.pointwise.kernel_size == (1, 1)
    x = torch.randn(2, 8, 5, 5)
    assert torch.equal(conv(x), conv.pointwise(conv.depthwise(x)))
    with pytest.raises(ValueError, match="activation"):
        SeparableConvNormAct(8, 16, activation="between")  # type: ignore[arg-type]


def test_module_layout_and_shortcut_reads_the_unactivated_input() -> None:
    model = cnnzoo.create_model("xception").eval()
    first, middle = model.entry_flow[0], model.middle_flow[0]
    assert "act" not in first.branch.sep1._modules  # Conv 64's ReLU precedes the first module
    assert [n for n in middle.branch.sep1._modules] == ["act", "conv", "bn"]
    assert not middle.branch.sep1.act.inplace  # it reads the input the identity shortcut adds
    x = torch.randn(1, 728, 5, 5)  # negative values: an in-place ReLU would corrupt the sum
    with torch.no_grad():
        expected = middle.branch(x.clone()) + x
        assert torch.allclose(middle(x), expected)


def test_attention_slots_and_se_variant() -> None:
    model = cnnzoo.create_model("xception")
    slots = [m for m in model.modules() if isinstance(m, AttentionSlot)]
    assert [s.channels for s in slots] == [128, 256, 728] + [728] * 8 + [1024]
    se = cnnzoo.create_model("xception", se_reduction=16)
    assert sum(isinstance(m, SqueezeExcite) for m in se.modules()) == 12
    assert count_params(add_squeeze_excite(model, 16)) == count_params(se)


def test_min_size_is_seven() -> None:
    model = cnnzoo.create_model("xception").eval()
    assert cnnzoo.model_card("xception").min_size == 7
    with torch.no_grad():
        assert model(torch.randn(1, 3, 7, 7)).shape == (1, 1000)
        with pytest.raises(RuntimeError):
            model(torch.randn(1, 3, 6, 6))  # the unpadded Conv 64 needs a 3x3 map


@pytest.mark.parametrize("kwargs", [{"dropout": 1.0}, {"se_reduction": 0}])
def test_bad_arguments(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        cnnzoo.create_model("xception", **kwargs)
