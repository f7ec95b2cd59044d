"""Issue 11's table rows: new layers, parallel branches, dense blocks, 1-D and 3-D networks."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import cnnzoo.netspec as netspec
from cnnzoo.layers.dense_block import DenseBlock
from cnnzoo.layers.dropconnect import DropConnectLinear
from cnnzoo.layers.highway import Highway, HighwayConv2d
from cnnzoo.layers.lp_pool import LpPool
from cnnzoo.layers.norm import GroupNorm2d, LayerNorm2d
from cnnzoo.netspec import SpecError, build_from_text, build_from_yaml, spec_input_size
from cnnzoo.netspec.parser import ALIASES, LAYERS

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "tables"


def _net(body: str, input_size: str = "4x8x8") -> netspec.NetSpecModel:
    torch.manual_seed(0)
    return build_from_text(f"input: {input_size}\nlayers:\n{body}", source="net.yaml")


def test_every_row_kind_is_in_the_grammar() -> None:
    doc = netspec.__doc__ or ""
    missing = [k for k in LAYERS if k not in doc and k not in ALIASES]  # aliases (leakyrelu) map to a row
    assert not missing, missing


@pytest.mark.parametrize("name,size", [("norms_highway", (3, 32, 32)), ("branches_dense", (3, 32, 32)),
                                       ("audio_1d", (1, 16000)), ("video_3d", (3, 8, 32, 32))])
def test_examples_build_and_train_a_step(name: str, size: tuple[int, ...]) -> None:
    model = build_from_yaml(EXAMPLES / f"{name}.yaml")
    x = torch.randn(2, *size)
    out = model(x)
    assert out.shape == (2, model.num_classes)
    F.cross_entropy(out, torch.tensor([0, 1])).backward()
    assert all(p.grad is not None for p in model.parameters())


def test_norm_pool_highway_rows_are_the_zoo_layers() -> None:
    model = _net("  - layernorm\n  - groupnorm 2\n  - lppool 2x2 p 3\n  - highway gate -2\n  - gap\n"
                 "  - highway\n  - fc 3 dropconnect 0.25\n")
    kinds = [type(m) for m in model.modules()]
    for cls in (LayerNorm2d, GroupNorm2d, LpPool, HighwayConv2d, Highway, DropConnectLinear):
        assert cls in kinds, cls
    hw = next(m for m in model.modules() if isinstance(m, HighwayConv2d))
    assert torch.equal(hw.gate.bias, torch.full((4,), -2.0))
    assert next(m for m in model.modules() if isinstance(m, LpPool)).p == 3.0
    assert next(m for m in model.modules() if isinstance(m, DropConnectLinear)).p == 0.25


def test_concat_split_and_elementwise_joins_by_hand() -> None:
    x = torch.randn(2, 4, 8, 8)
    cat = _net("  - concat: [[conv 1x1@3], [], [maxpool 3x3 stride 1 pad 1]]\n  - gap\n  - fc 2\n")
    b = cat.features[0].branches
    torch.testing.assert_close(cat.features(x), torch.cat([b[0](x), x, F.max_pool2d(x, 3, 1, 1)], 1))
    assert cat.features(x).shape == (2, 11, 8, 8)
    split = _net("  - split: {sizes: [1, 3], branches: [[conv 3x3@2], [conv 1x1@5]]}\n  - gap\n  - fc 2\n")
    b = split.features[0].branches
    torch.testing.assert_close(split.features(x), torch.cat([b[0](x[:, :1]), b[1](x[:, 1:])], 1))
    for join, op in (("add", torch.add), ("mul", torch.mul), ("max", torch.maximum)):
        net = _net(f"  - {join}: [[], [conv 3x3@4]]\n  - gap\n  - fc 2\n")
        conv = net.features[0].branches[1]
        torch.testing.assert_close(net.features(x), op(x, conv(x)))


def test_dense_block_row_is_densenets_block() -> None:
    model = _net("  - dense: {layers: 3, growth: 5}\n  - gap\n  - fc 2\n")
    block = model.features.dense
    assert isinstance(block, DenseBlock)
    assert model.features(torch.randn(1, 4, 8, 8)).shape == (1, 4 + 3 * 5, 8, 8)


def test_one_and_three_dimensional_networks() -> None:
    audio = _net("  - conv 9/2@8 bn relu\n  - maxpool 2 -> 25x8\n  - residual: [conv 3@8 bn relu, conv 3@8 bn]\n"
                 "  - gap\n  - fc 4\n", "1x100")
    assert isinstance(audio.features[0].conv, torch.nn.Conv1d) and audio(torch.randn(2, 1, 100)).shape == (2, 4)
    clip = _net("  - conv 3@8 relu\n  - maxpool 1x2x2 -> 4x4x4x8\n  - conv 3x3x3@8\n  - gap\n  - fc 3\n", "2x4x8x8")
    assert isinstance(clip.features[0].conv, torch.nn.Conv3d) and clip(torch.randn(2, 2, 4, 8, 8)).shape == (2, 3)
    assert clip.card.input_size == (2, 4, 8, 8)


@pytest.mark.parametrize("body,size,match", [
    ("  - groupnorm 3\n  - gap\n  - fc 2\n", "4x8x8", "groups must divide the input's 4 channels"),
    ("  - split: {sizes: [1, 2], branches: [[], []]}\n  - gap\n  - fc 2\n", "4x8x8", "add up to 3"),
    ("  - add: [[], [conv 3x3@5]]\n  - gap\n  - fc 2\n", "4x8x8", "element-wise join needs one shape"),
    ("  - concat: [[conv 3x3@5]]\n  - gap\n  - fc 2\n", "4x8x8", "two or more branches"),
    ("  - conv 3x3@4\n  - gap\n  - fc 2\n", "1x100", "3x3 window on a 1-D map"),
    ("  - se 4\n  - gap\n  - fc 2\n", "4x100", "se works on 2-D maps"),
    ("  - lppool 2x2 p 0.5\n  - gap\n  - fc 2\n", "4x8x8", "p must be >= 1"),
    ("  - dense: {layers: 2}\n  - gap\n  - fc 2\n", "4x8x8", "dense needs"),
])
def test_errors_name_the_row(body: str, size: str, match: str) -> None:
    with pytest.raises(SpecError, match=match):
        _net(body, size)


def test_one_dimensional_table_is_refused_by_the_image_commands() -> None:
    with pytest.raises(SpecError, match="1-D signal"):
        spec_input_size(EXAMPLES / "audio_1d.yaml")
