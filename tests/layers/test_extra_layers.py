"""The lectures' extra layers against their formulas written out by hand."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import cnnzoo
from cnnzoo.layers.activations import SELU
from cnnzoo.layers.dropconnect import DropConnectLinear
from cnnzoo.layers.highway import Highway, HighwayConv2d
from cnnzoo.layers.lp_pool import LpPool
from cnnzoo.layers.norm import GroupNorm2d, LayerNorm2d


def _x(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(0)) * 3 + 1


def test_layer_norm_2d_by_hand_and_against_functional() -> None:
    x = _x(4, 6, 5, 5)
    ln = LayerNorm2d(6)
    with torch.no_grad():
        ln.weight.copy_(torch.linspace(0.5, 2, 6))
        ln.bias.copy_(torch.linspace(-1, 1, 6))
    flat = x.flatten(1)  # seed 003: mu_i, sigma_i^2 over the d features of object i
    mu = flat.mean(1).view(4, 1, 1, 1)
    var = ((flat - flat.mean(1, keepdim=True)) ** 2).mean(1).view(4, 1, 1, 1)
    by_hand = (x - mu) / torch.sqrt(var + 1e-5) * ln.weight.view(1, 6, 1, 1) + ln.bias.view(1, 6, 1, 1)
    torch.testing.assert_close(ln(x), by_hand, atol=1e-5, rtol=1e-5)
    plain = F.layer_norm(x, x.shape[1:], eps=1e-5)  # no affine: exactly torch's layer norm
    torch.testing.assert_close(LayerNorm2d(6, affine=False)(x), plain, atol=1e-5, rtol=1e-5)


def test_group_norm_by_hand_and_against_functional() -> None:
    x = _x(3, 8, 4, 4)
    gn = GroupNorm2d(8, groups=4)
    groups = x.view(3, 4, 2 * 16)
    z = (groups - groups.mean(-1, keepdim=True)) / torch.sqrt(groups.var(-1, unbiased=False, keepdim=True) + 1e-5)
    torch.testing.assert_close(gn(x), z.view_as(x), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(gn(x), F.group_norm(x, 4, eps=1e-5), atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(GroupNorm2d(8, groups=1)(x), LayerNorm2d(8)(x), atol=1e-6, rtol=1e-6)
    with pytest.raises(ValueError, match="must divide"):
        GroupNorm2d(8, groups=3)


def test_selu_formula() -> None:
    x = torch.linspace(-4, 4, 101)
    expected = SELU.LAMBDA * torch.where(x > 0, x, SELU.ALPHA * (torch.exp(x) - 1))
    torch.testing.assert_close(SELU()(x), expected)


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_lp_pool_p1_p2_inf_are_avg_l2_max(dims: int) -> None:
    x = _x(2, 3, *([8] * dims)).abs()
    avg = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}[dims]
    mx = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}[dims]
    torch.testing.assert_close(LpPool(1, 2, dims=dims)(x), avg(x, 2))
    torch.testing.assert_close(LpPool(2, 2, dims=dims)(x), avg(x * x, 2).sqrt())
    torch.testing.assert_close(LpPool(math.inf, 2, dims=dims)(x), mx(x, 2))
    # p grows -> from the mean towards the max
    p3, p8 = LpPool(3, 2, dims=dims)(x), LpPool(8, 2, dims=dims)(x)
    assert (avg(x, 2) <= p3 + 1e-6).all() and (p3 <= p8 + 1e-6).all() and (p8 <= mx(x, 2) + 1e-6).all()


def test_drop_connect_mask_statistics() -> None:
    torch.manual_seed(0)
    layer = DropConnectLinear(200, 300, p=0.3)
    x = torch.eye(200)  # row i of the output is column i of the masked weight (+ bias)
    layer.train()
    masked = (layer(x) - layer.bias).T  # (300, 200): M * W
    dropped = (masked == 0).float().mean().item()
    assert abs(dropped - 0.3) < 0.01  # 60,000 Bernoulli(0.3) draws
    kept = masked != 0
    torch.testing.assert_close(masked[kept], layer.weight[kept] / 0.7)  # inverted scaling
    assert not torch.equal(layer(x), layer(x))  # a new mask per pass
    layer.eval()
    torch.testing.assert_close(layer(x), F.linear(x, layer.weight, layer.bias))


def test_highway_gate_at_bias_minus_one() -> None:
    hw = Highway(16)
    with torch.no_grad():
        hw.gate.weight.zero_()  # T(x) = sigmoid(-1) everywhere
    x = _x(5, 16)
    t = torch.sigmoid(torch.tensor(-1.0))
    expected = torch.relu(hw.transform(x)) * t + x * (1 - t)
    torch.testing.assert_close(hw(x), expected)
    conv = HighwayConv2d(4)
    assert torch.equal(conv.gate.bias, torch.full((4,), -1.0))
    assert conv(_x(2, 4, 6, 6)).shape == (2, 4, 6, 6)


def test_highway_network_in_the_zoo() -> None:
    assert "highway_cifar" in cnnzoo.list_models()
    model = cnnzoo.create_model("highway_cifar", num_classes=5)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 5)
    assert all(torch.equal(b, torch.full_like(b, -1.0)) for b in model.gates())
