"""MobileNet v1 (Howard et al. 2017) against seed 002's table (paper Table 1), Tables 6-8 and timm."""

from __future__ import annotations

import pytest
import timm
import torch
from torch import nn

import cnnzoo
from cnnzoo.analysis import count_mult_adds, count_params
from cnnzoo.layers.attention import SqueezeExcite
from cnnzoo.layers.depthwise import TableConv
from cnnzoo.models.pretrained import assign_state_dict, weight_mapping

# Seed 002's Table 1 as printed: (type / stride, filter shape, input size), the "5x" rows expanded.
# Erratum: the dw row on 7x7x1024 is printed "Conv dw / s2"; its output is 7x7 (next row), so s1.
PAPER_TABLE_1 = (
    ("Conv / s2", "3x3x3x32", 224),
    ("Conv dw / s1", "3x3x32 dw", 112),
    ("Conv / s1", "1x1x32x64", 112),
    ("Conv dw / s2", "3x3x64 dw", 112),
    ("Conv / s1", "1x1x64x128", 56),
    ("Conv dw / s1", "3x3x128 dw", 56),
    ("Conv / s1", "1x1x128x128", 56),
    ("Conv dw / s2", "3x3x128 dw", 56),
    ("Conv / s1", "1x1x128x256", 28),
    ("Conv dw / s1", "3x3x256 dw", 28),
    ("Conv / s1", "1x1x256x256", 28),
    ("Conv dw / s2", "3x3x256 dw", 28),
    ("Conv / s1", "1x1x256x512", 14),
    *(("Conv dw / s1", "3x3x512 dw", 14), ("Conv / s1", "1x1x512x512", 14)) * 5,
    ("Conv dw / s2", "3x3x512 dw", 14),
    ("Conv / s1", "1x1x512x1024", 7),
    ("Conv dw / s1", "3x3x1024 dw", 7),  # printed "Conv dw / s2"
    ("Conv / s1", "1x1x1024x1024", 7),
)


def _meta(name: str, **kwargs: object) -> nn.Module:
    with torch.device("meta"):
        return cnnzoo.create_model(name, **kwargs)


def _table_totals(alpha: float, resolution: int) -> tuple[int, int]:
    """Parameters and mult-adds of the paper's table, row by row (BN: scale and shift per channel)."""
    params = mult_adds = 0
    for type_stride, shape, size in PAPER_TABLE_1:
        dims = [int(d) for d in shape.removesuffix(" dw").split("x")]
        stride = int(type_stride[-1])
        out = -(-size * resolution // 224) // stride  # the row's output side at this resolution
        if shape.endswith("dw"):  # k x k x M depthwise: one k x k filter per channel
            k, _, m = dims
            m = max(8, int(m * alpha))
            weights, channels = k * k * m, m
        else:  # k x k x M x N: M = 3 for the first row
            k, _, m, n = dims
            m = m if m == 3 else max(8, int(m * alpha))
            n = max(8, int(n * alpha))
            weights, channels = k * k * m * n, n
        params += weights + 2 * channels
        mult_adds += weights * out * out
    features = max(8, int(1024 * alpha))
    return params + features * 1000 + 1000, mult_adds + features * 1000  # FC / s1: 1024 x 1000


def test_parameters_and_mult_adds_of_table_1() -> None:
    m = _meta("mobilenet_v1")
    params, mult_adds = _table_totals(1.0, 224)
    assert count_params(m) == params == 4_231_976
    assert count_mult_adds(m, (3, 224, 224)) == mult_adds == 568_740_352  # 568.7M
    # Tables 6 and 8 print 4.2M parameters and 569M mult-adds
    assert round(params / 1e6, 1) == 4.2 and round(mult_adds / 1e6) == 569


@pytest.mark.parametrize(("name", "alpha", "published_params", "published_mult_adds"), [
    ("mobilenet_v1", 1.0, 4.2, 569), ("mobilenet_v1_075", 0.75, 2.6, 325),
    ("mobilenet_v1_050", 0.5, 1.3, 149), ("mobilenet_v1_025", 0.25, 0.5, 41)])
def test_width_multipliers_of_table_6(name: str, alpha: float, published_params: float,
                                      published_mult_adds: int) -> None:
    m = _meta(name)
    params, mult_adds = _table_totals(alpha, 224)
    assert count_params(m) == params and count_mult_adds(m, (3, 224, 224)) == mult_adds
    # Table 6 prints millions to one decimal (parameters) and to the unit (mult-adds); the paper
    # truncates as often as it rounds (Table 7's 290.7M is printed 290), so: within one unit of the last digit
    assert abs(params / 1e6 - published_params) < 0.05 + 1e-9
    assert abs(mult_adds / 1e6 - published_mult_adds) < 1


@pytest.mark.parametrize(("resolution", "published"), [(224, 569), (192, 418), (160, 290), (128, 186)])
def test_resolution_multiplier_of_table_7(resolution: int, published: int) -> None:
    mult_adds = count_mult_adds(_meta("mobilenet_v1"), (3, resolution, resolution))
    assert mult_adds == _table_totals(1.0, resolution)[1]
    assert abs(mult_adds / 1e6 - published) < 1  # 568.7, 418.1, 290.7, 186.4


def test_rows_report_the_tables_columns_and_input_sizes() -> None:
    m = _meta("mobilenet_v1").eval()
    rows = [mod for mod in m.modules() if isinstance(mod, TableConv)]
    inputs: list[int] = []
    for row in rows:
        row.register_forward_hook(lambda _m, inp, _o: inputs.append(inp[0].shape[-1]))
    m(torch.zeros(1, 3, 224, 224, device="meta"))
    got = [(r.paper_columns()["type / stride"], r.paper_columns()["filter shape"], size)
           for r, size in zip(rows, inputs, strict=True)]
    assert got == list(PAPER_TABLE_1)


def test_every_convolution_is_followed_by_bn_and_relu() -> None:
    m = _meta("mobilenet_v1")
    rows = [mod for mod in m.modules() if isinstance(mod, TableConv)]
    assert len(rows) == 27  # 1 full convolution + 13 x (depthwise + pointwise)
    for row in rows:
        assert [type(c) for c in row] == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU]
    assert not any(isinstance(mod, nn.ReLU6) for mod in m.modules())


def test_stages_and_feature_info() -> None:
    m = cnnzoo.create_model("mobilenet_v1_050").eval()
    assert [(i.module, i.num_chs, i.reduction) for i in m.feature_info] == [
        ("blocks.0", 32, 2), ("blocks.1", 64, 4), ("blocks.2", 128, 8), ("blocks.3", 256, 16), ("blocks.4", 512, 32)]
    assert m.num_features == m.head_hidden_size == 512
    with torch.no_grad():
        maps = m.forward_intermediates(torch.randn(1, 3, 96, 96))
    assert [t.shape[-1] for t in maps] == [48, 24, 12, 6, 3]


def test_timm_layout_differs_only_by_relu6_and_its_weights_give_the_same_logits() -> None:
    torch.manual_seed(0)
    tm = timm.create_model("mobilenetv1_100", pretrained=False, num_classes=10).eval()
    for mod in tm.modules():  # random running statistics, so that batch-norm is not the identity
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.1, 0.1)
            mod.running_var.uniform_(0.5, 1.5)
    mapped = weight_mapping("mobilenet_v1_timm", "timm")(tm.state_dict())
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    big = 50 * x  # drives activations past 6, where ReLU and ReLU6 part
    logits = {}
    for name in ("mobilenet_v1_timm", "mobilenet_v1"):
        with torch.device("meta"):
            ours = cnnzoo.create_model(name, num_classes=10)
        ours.to_empty(device="cpu")  # every tensor is loaded below (assign_state_dict refuses missing keys)
        assign_state_dict(ours, mapped, source="test")  # same names: only the activation differs
        with torch.no_grad():
            logits[name] = ours.eval()(x), ours(big)
    with torch.no_grad():
        theirs, theirs_big = tm(x), tm(big)
    assert (logits["mobilenet_v1_timm"][0] - theirs).abs().max().item() <= 1e-4
    assert torch.allclose(logits["mobilenet_v1_timm"][1], theirs_big, rtol=1e-4, atol=1e-4)
    assert not torch.allclose(logits["mobilenet_v1"][1], theirs_big)  # ReLU is not ReLU6
    assert count_params(tm) == count_params(_meta("mobilenet_v1", num_classes=10))


def test_any_resolution_down_to_min_size() -> None:
    m = cnnzoo.create_model("mobilenet_v1_025").eval()
    with torch.no_grad():
        for size in (cnnzoo.model_card("mobilenet_v1_025").min_size, 33, 100):
            assert m(torch.randn(1, 3, size, size)).shape == (1, 1000)


def test_squeeze_excite_slots_sit_on_each_separable_blocks_output() -> None:
    m = cnnzoo.create_model("mobilenet_v1_025", se_reduction=4, num_classes=10)
    assert [s.channels for s in m.modules() if isinstance(s, SqueezeExcite)] == [
        16, 32, 32, 64, 64, 128, 128, 128, 128, 128, 128, 256, 256]  # 0.25 x Table 1's pointwise widths
    assert m(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_user_errors_raise_value_error() -> None:
    with pytest.raises(ValueError, match="width_mult"):
        cnnzoo.create_model("mobilenet_v1", width_mult=0.0)
    with pytest.raises(ValueError, match="activation"):
        cnnzoo.create_model("mobilenet_v1", activation="swish")
