"""The CIFAR-10 ResNets of He et al. 2015 §4.2 (Table 6), their plain twins, option A, skipping blocks."""

from __future__ import annotations

import pytest
import torch

import cnnzoo
from cnnzoo.analysis import count_params
from cnnzoo.layers.residual import ZeroPadShortcut
from cnnzoo.models.resnet import TABLE6, CifarResNet

DEPTHS = (20, 32, 44, 56, 110)


def _meta(name: str) -> torch.nn.Module:
    with torch.device("meta"):
        return cnnzoo.create_model(name)


def cifar_params(depth: int) -> int:
    """§4.2's 6n+2 layers: 3x3 conv (16), then 2n 3x3 convs each on 16, 32 and 64 filters, then a 10-way fc.

    Every conv is bias-free and followed by BN (2 parameters per channel); option A shortcuts
    have no parameters.
    """
    n = (depth - 2) // 6

    def conv_bn(c_in: int, c_out: int) -> int:
        return 3 * 3 * c_in * c_out + 2 * c_out

    first = conv_bn(3, 16)
    stage1 = 2 * n * conv_bn(16, 16)
    stage2 = conv_bn(16, 32) + (2 * n - 1) * conv_bn(32, 32)  # the first conv subsamples, 16 -> 32
    stage3 = conv_bn(32, 64) + (2 * n - 1) * conv_bn(64, 64)
    fc = 64 * 10 + 10
    return first + stage1 + stage2 + stage3 + fc


@pytest.mark.parametrize("depth", DEPTHS)
def test_parameters_by_arithmetic_round_to_table_6(depth: int) -> None:
    exact = cifar_params(depth)
    assert count_params(_meta(f"resnet{depth}")) == count_params(_meta(f"plain{depth}")) == exact
    published = TABLE6[depth][0]  # Table 6: 0.27M, 0.46M, 0.66M, 0.85M, 1.7M
    digits = 1 if depth == 110 else 2
    assert round(exact / 1e6, digits) == published / 1e6 == cnnzoo.model_card(f"resnet{depth}").params / 1e6


def test_exact_counts() -> None:
    assert [cifar_params(d) for d in DEPTHS] == [269_722, 464_154, 658_586, 853_018, 1_727_962]


def test_cards() -> None:
    card = cnnzoo.model_card("resnet56")
    assert card.input_size == (3, 32, 32) and card.num_classes == 10
    assert card.mean == (0.4914, 0.4822, 0.4465) and card.std == (0.2470, 0.2435, 0.2616)
    assert card.top1_err is None and "6.97%" in card.notes  # CIFAR-10 error, Table 6


def test_option_a_shortcut_is_subsampling_and_zero_padding() -> None:
    model = cnnzoo.create_model("resnet20")
    shortcuts = [b.downsample for b in model.blocks() if b.downsample is not None]
    assert len(shortcuts) == 2 and all(isinstance(s, ZeroPadShortcut) for s in shortcuts)
    x = torch.randn(2, 16, 9, 9)
    y = shortcuts[0](x)  # 16 -> 32 channels, stride 2
    assert y.shape == (2, 32, 5, 5)  # the same size as the strided conv's output
    assert torch.equal(y[:, :16], x[:, :, ::2, ::2]) and not y[:, 16:].any()
    assert not list(shortcuts[0].parameters())


def test_stage_maps_and_plain_twins() -> None:
    res, plain = cnnzoo.create_model("resnet32").eval(), cnnzoo.create_model("plain32").eval()
    with torch.no_grad():
        maps = res.forward_intermediates(torch.randn(1, 3, 32, 32))
    assert [tuple(m.shape[1:]) for m in maps] == [(16, 32, 32), (16, 32, 32), (32, 16, 16), (64, 8, 8)]
    assert [s.paper_columns()["blocks"] for s in res.stages] == [
        "[3x3, 16; 3x3, 16] x 5", "[3x3, 32; 3x3, 32] x 5", "[3x3, 64; 3x3, 64] x 5"]
    assert {k: v.shape for k, v in res.state_dict().items()} == {k: v.shape for k, v in plain.state_dict().items()}
    assert all(b.residual for b in res.blocks()) and not any(b.residual for b in plain.blocks())
    plain.load_state_dict(res.state_dict())  # same weights, without the shortcuts: another function
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert not torch.allclose(res(x), plain(x))


def test_dropping_blocks_at_test_time() -> None:
    """Veit et al. 2016 (seed 000 §3.6): deleting a residual block leaves its shortcut."""
    torch.manual_seed(0)
    model = cnnzoo.create_model("resnet20").eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        full = model(x)
        for block in model.blocks():
            block.skip = True
        # every branch gone: relu of the stem's output, subsampled and zero-padded twice
        stem = model.stem(x)
        expected = model.fc(torch.nn.functional.pad(stem[:, :, ::4, ::4], (0, 0, 0, 0, 0, 48)).mean((2, 3)))
        assert torch.allclose(model(x), expected, atol=1e-6)
        for block in model.blocks():
            block.skip = False
        assert torch.equal(model(x), full)
    assert "skip=True" not in repr(model)


def test_depth_must_be_6n_plus_2() -> None:
    with pytest.raises(ValueError, match="6n\\+2"):
        CifarResNet(depth=21)
    assert CifarResNet(depth=8).depth == 8
