"""LeNet-5 against LeCun et al. 1998 (seed 000 §3.1, Fig. 1 / Table I)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import cnnzoo
from cnnzoo.analysis import count_mult_adds, count_params
from cnnzoo.layers.activations import ScaledTanh
from cnnzoo.layers.sparse_conv import SparseConv2d
from cnnzoo.models.lenet import C3_TABLE


def test_parameter_count_equals_the_paper_layer_by_layer() -> None:
    m = cnnzoo.create_model("lenet5")
    per_layer = {name: count_params(getattr(m, name)) for name in ("c1", "s2", "c3", "s4", "c5", "f6", "output")}
    assert per_layer == {
        "c1": 6 * (5 * 5 + 1),  # 156
        "s2": 6 * 2,  # 12: one coefficient and one bias per map
        "c3": 60 * 5 * 5 + 16,  # 1,516: 60 connections of Table I, one 5x5 kernel each, + 16 biases
        "s4": 16 * 2,  # 32
        "c5": 120 * (16 * 5 * 5 + 1),  # 48,120
        "f6": 84 * (120 + 1),  # 10,164
        "output": 10 * (84 + 1),  # 850 (the paper's RBF layer: 84 x 10 = 840 fixed codes)
    }
    assert sum(per_layer.values()) == count_params(m) == 60_850
    # the paper: "60,000 trainable parameters" = everything up to F6
    assert count_params(m) - per_layer["output"] == 60_000 == cnnzoo.model_card("lenet5").params


def test_c3_connection_table_is_lecuns_table_one() -> None:
    fan_in = [sum(row[j] == "X" for row in C3_TABLE) for j in range(16)]
    assert fan_in == [3] * 6 + [4] * 9 + [6]
    for j in range(6):  # columns 0-5: three contiguous maps (cyclically)
        assert {i for i in range(6) if C3_TABLE[i][j] == "X"} == {j % 6, (j + 1) % 6, (j + 2) % 6}
    for j in range(6, 12):  # columns 6-11: four contiguous maps
        assert {i for i in range(6) if C3_TABLE[i][j] == "X"} == {(j - 6 + k) % 6 for k in range(4)}
    # rows 0-2 as printed in seed 000 Fig. 1 (its rows 3-5 are shifted by the text extraction)
    assert C3_TABLE[:3] == ("X...XXX..XXXX.XX", "XX...XXX..XXXX.X", "XXX...XXX..X.XXX")


def test_sparse_conv_equals_a_masked_dense_conv_and_its_gradients() -> None:
    torch.manual_seed(0)
    table = [[c == "X" for c in row] for row in C3_TABLE]
    layer = SparseConv2d(table, 5).double()
    x = torch.randn(2, 6, 14, 14, dtype=torch.float64, requires_grad=True)
    mask = torch.tensor(table, dtype=torch.float64).t()[:, :, None, None]  # (out, in, 1, 1)
    dense = layer.dense_weight()
    assert torch.equal(dense == 0, (mask == 0).expand_as(dense) | (dense == 0))
    ref = F.conv2d(x, dense * mask, layer.bias)
    torch.testing.assert_close(layer(x), ref)
    assert torch.autograd.gradcheck(lambda inp, w, b: torch.ops.cnnzoo.sparse_conv2d(inp, w, b, layer.index, 6, 1, 0),
                                    (x[:1, :, :7, :7].detach().requires_grad_(), layer.weight.detach().requires_grad_(),
                                     layer.bias.detach().requires_grad_()))


def test_mult_adds_count_only_the_connections_the_paper_has() -> None:
    with torch.device("meta"):
        m = cnnzoo.create_model("lenet5")
    expected = (6 * 25 * 28 * 28  # C1: 117,600
                + 6 * 14 * 14 * 4  # S2: 4 inputs per unit
                + 60 * 25 * 10 * 10  # C3: 150,000 (the paper's 151,600 connections include the biases)
                + 16 * 5 * 5 * 4  # S4
                + 120 * 400  # C5: 48,000
                + 120 * 84 + 84 * 10)  # F6, output
    assert count_mult_adds(m, (1, 32, 32)) == expected == 332_824


def test_squashing_function_is_lecuns_scaled_tanh() -> None:
    x = torch.linspace(-4, 4, 101, dtype=torch.float64, requires_grad=True)
    y = ScaledTanh()(x)
    torch.testing.assert_close(y, 1.7159 * torch.tanh(2 / 3 * x))
    assert abs(float(ScaledTanh()(torch.tensor(1.0))) - 1.0) < 1e-3  # f(1) = 1 (Appendix A)
    assert torch.autograd.gradcheck(ScaledTanh(), (x[:10].detach().requires_grad_(),))


def test_modern_variant_uses_relu_maxpool_and_full_c3() -> None:
    m = cnnzoo.create_model("lenet5_modern")
    assert isinstance(m.c3[0], torch.nn.Conv2d) and m.c3[0].weight.shape == (16, 6, 5, 5)
    assert isinstance(m.s2, torch.nn.MaxPool2d)
    assert count_params(m) == 60_850 - 1516 + 2416 - 12 - 32


@pytest.mark.parametrize("name, size", [("lenet5", 32), ("lenet5", 40)])
def test_folded_forward_equals_the_layer_by_layer_forward(name: str, size: int) -> None:
    torch.manual_seed(0)
    model = cnnzoo.create_model(name).double()
    x = torch.randn(3, 1, size, size, dtype=torch.float64)
    folded = model(x)  # no hooks: the folded path
    grads = torch.autograd.grad(folded.square().sum(), list(model.parameters()))
    handle = model.c1.register_forward_hook(lambda *_: None)  # a hook forces the layer-by-layer path
    layered = model(x)
    reference = torch.autograd.grad(layered.square().sum(), list(model.parameters()))
    handle.remove()
    torch.testing.assert_close(folded, layered)
    for (n, _), a, b in zip(model.named_parameters(), grads, reference, strict=True):
        torch.testing.assert_close(a, b, msg=n)
    assert torch.equal(model.forward_head(model.forward_features(x)), layered)


def test_full_conv_is_a_conv() -> None:
    from cnnzoo.layers.conv import FullConv2d
    torch.manual_seed(0)
    conv = FullConv2d(16, 120, 5)
    for size in (5, 7):
        x = torch.randn(2, 16, size, size)
        torch.testing.assert_close(conv(x), F.conv2d(x, conv.weight, conv.bias))
        torch.testing.assert_close(conv(x.contiguous(memory_format=torch.channels_last)), F.conv2d(x, conv.weight, conv.bias))
