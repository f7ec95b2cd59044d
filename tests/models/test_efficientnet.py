"""EfficientNet-B0..B7 (Tan & Le 2019, arXiv 1905.11946): Table 1 as data, compound scaling,
torchvision's counts and parity, Table 2's mult-adds, MBConv and stochastic depth."""

from __future__ import annotations

import pytest
import torch
import torchvision

import cnnzoo
from cnnzoo.analysis import count_mult_adds, count_params
from cnnzoo.layers.mbconv import MBConv, StochasticDepth
from cnnzoo.models.efficientnet import B0_STAGES, SCALING, TABLE_2, round_channels, round_layers
from cnnzoo.models.pretrained import assign_state_dict, weight_mapping

VARIANTS = list(SCALING)
# torchvision.models.efficientnet_b0..b7(weights=None), 1000 classes
TORCHVISION_PARAMS = {"b0": 5_288_548, "b1": 7_794_184, "b2": 9_109_994, "b3": 12_233_232,
                      "b4": 19_341_616, "b5": 30_389_784, "b6": 43_040_704, "b7": 66_347_960}


def _meta(name: str, **kw: object) -> torch.nn.Module:
    with torch.device("meta"):
        return cnnzoo.create_model(name, **kw)


def _meta_torchvision(v: str) -> torch.nn.Module:
    with torch.device("meta"):
        return getattr(torchvision.models, f"efficientnet_{v}")(weights=None)


def test_table_1_strides_match_its_resolution_column() -> None:
    # Table 1: a row's stride halves the next row's "Resolution"; the stem (224 -> 112) strides 2.
    sizes = [224 // 2] + [row.resolution for row in B0_STAGES[1:]] + [7]
    assert [row.resolution for row in B0_STAGES] == sizes[:-1]
    assert [a // b for a, b in zip(sizes, sizes[1:])] == [row.stride for row in B0_STAGES]
    assert sum(row.layers for row in B0_STAGES) == 16


def test_rounding() -> None:
    assert [round_channels(c, 1.1) for c in (32, 16, 24, 40, 80, 112, 192, 320, 1280)] == \
        [32, 16, 24, 48, 88, 120, 208, 352, 1408]  # B2: 35.2 -> 32, 44 -> 48, 211.2 -> 208
    assert round_channels(32, 1.2) == 40 and round_channels(16, 0.25) == 8  # never below 8
    assert [round_layers(n, 3.1) for n in (1, 2, 3, 4)] == [4, 7, 10, 13]  # ceil: 12.4 -> 13


def test_b0_blocks_follow_table_1() -> None:
    model = _meta("efficientnet_b0")
    blocks = [b for stage in model.stages for b in stage]
    expected = [f"MBConv{r.expand_ratio}, k{r.kernel}x{r.kernel}" for r in B0_STAGES for _ in range(r.layers)]
    assert [b.paper_columns()["operator"] for b in blocks] == expected
    assert [len(s) for s in model.stages] == [r.layers for r in B0_STAGES]
    assert [s[-1].out_chs for s in model.stages] == [r.channels for r in B0_STAGES]
    assert model.stem.out_chs == 32 and model.num_features == 1280
    # SE squeezes to a quarter of the block's *input* channels, not of the expanded width
    block = model.stages[1][0]  # 16 -> 96 (expand 6) -> 24
    assert (block.se.channels, block.se.hidden) == (96, 4)
    assert not hasattr(model.stages[0][0], "expand")  # MBConv1 has no expansion conv
    # stochastic depth: 0.2 x block index / 16, only on blocks with a residual connection
    probs = [b.stochastic_depth.p for b in blocks]
    assert probs == [0.2 * i / 16 if b.has_residual else 0.0 for i, b in enumerate(blocks)]


@pytest.mark.parametrize("v", VARIANTS)
def test_params_equal_torchvision_and_table_2(v: str) -> None:
    n = count_params(_meta(f"efficientnet_{v}"))
    assert n == TORCHVISION_PARAMS[v] == count_params(_meta_torchvision(v))
    if f"efficientnet_{v}_tv" in cnnzoo.list_models():
        assert count_params(_meta(f"efficientnet_{v}_tv")) == n
    # Table 2 prints two significant digits (B2: 9.2M for 9.11M, B3: 12M for 12.23M)
    assert abs(n / TABLE_2[v].params - 1) < 0.02


@pytest.mark.parametrize("v", VARIANTS)
def test_mult_adds_against_table_2(v: str) -> None:
    # Unit: one multiply-add = one operation (the paper's "FLOPS" column is mult-adds).
    # Counted at each variant's resolution; they equal torchvision's count of its own model
    # exactly (its published `_ops`: B0 0.386, B4 4.394, B5 10.266 G). Against Table 2 they are
    # within 5%: B0 -1.1%, B1 -1.9%, B2 -0.6%, B3 +1.5%, B4 +4.6%, B5 +3.7%, B6 +0.4%, B7 +2.0%.
    # Table 2 rounds to two digits (+-2.5% at "19B", +-5% at "1.0B"); B4 and B5 are further off
    # than rounding explains and the paper does not say how it counted (the architecture is the
    # released one: parameters match exactly), so the tolerance is 5%.
    res = SCALING[v].resolution
    ours = count_mult_adds(_meta(f"efficientnet_{v}"), (3, res, res))
    assert ours == count_mult_adds(_meta_torchvision(v), (3, res, res))
    assert abs(ours / TABLE_2[v].flops - 1) <= 0.05


@pytest.mark.parametrize("name", ["efficientnet_b0_tv", "efficientnet_b5"])
def test_parity_with_torchvision(name: str) -> None:
    torch.manual_seed(0)
    v = name.removeprefix("efficientnet_").removesuffix("_tv")
    reference = getattr(torchvision.models, f"efficientnet_{v}")(weights=None, num_classes=10).eval()
    model = cnnzoo.create_model(name, num_classes=10).eval()
    report = assign_state_dict(model, weight_mapping(name, "torchvision")(reference.state_dict()), source="test")
    assert report.loaded == len(reference.state_dict()) and not report.reset
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        ours, theirs = model(x), reference(x)
    assert theirs.std() > 0
    assert (ours - theirs).abs().max() <= 1e-4


def test_batch_norm_settings() -> None:
    # Paper §5.2: BN momentum 0.99 (TensorFlow's decay; PyTorch momentum 0.01); eps 1e-3 as the
    # released code. torchvision builds B0..B4 with PyTorch's defaults, B5..B7 as the paper.
    for name, eps, momentum in (("efficientnet_b0", 1e-3, 0.01), ("efficientnet_b0_tv", 1e-5, 0.1),
                                ("efficientnet_b7", 1e-3, 0.01)):
        bns = [m for m in _meta(name).modules() if isinstance(m, torch.nn.BatchNorm2d)]
        assert {(m.eps, m.momentum) for m in bns} == {(eps, momentum)}, name
    tv_bn = next(m for m in _meta_torchvision("b5").modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert (tv_bn.eps, tv_bn.momentum) == (1e-3, 0.01)
    assert [n for n in cnnzoo.list_models("efficientnet_*_tv")] == [f"efficientnet_b{i}_tv" for i in range(5)]


def test_stochastic_depth_drops_whole_samples_in_training_only() -> None:
    torch.manual_seed(0)
    block = MBConv(8, 8, expand_ratio=6, kernel_size=3, drop_path=0.5)
    x = torch.randn(64, 8, 4, 4)
    block.eval()
    with torch.no_grad():
        branch = block.project(block.se(block.dw(block.expand(x))))
        assert torch.allclose(block(x), x + branch)
        block.train()
        block.dw.bn.eval(), block.expand.bn.eval(), block.project.bn.eval()  # keep BN fixed
        out = block(x)
    dropped = torch.isclose(out, x).flatten(1).all(1)
    kept = torch.isclose(out, x + 2 * branch, atol=1e-5).flatten(1).all(1)  # scaled by 1/(1-p)
    assert bool((dropped | kept).all()) and 10 < int(dropped.sum()) < 54
    with pytest.raises(ValueError):
        StochasticDepth(1.0)


def test_dropout_rises_from_b0_to_b7_and_min_size() -> None:
    assert [SCALING[v].dropout for v in VARIANTS] == [0.2, 0.2, 0.3, 0.3, 0.4, 0.4, 0.5, 0.5]
    assert [_meta(f"efficientnet_{v}").dropout.p for v in ("b0", "b7")] == [0.2, 0.5]
    model = cnnzoo.create_model("efficientnet_b0").eval()
    with torch.no_grad():  # every stride-2 layer pads: a 1x1 input keeps 1x1 maps throughout
        assert model(torch.randn(1, 3, 1, 1)).shape == (1, 1000)


@pytest.mark.parametrize("kwargs", [{"width_mult": 0.0}, {"dropout": 1.0}, {"drop_path_rate": -0.1}])
def test_bad_arguments(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        cnnzoo.create_model("efficientnet_b0", **kwargs)


def test_mbconv_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="stride"):
        MBConv(8, 8, expand_ratio=6, kernel_size=3, stride=3)
    with pytest.raises(ValueError, match="kernel_size"):
        MBConv(8, 8, expand_ratio=6, kernel_size=4)
    with pytest.raises(ValueError, match="expand_ratio"):
        MBConv(8, 8, expand_ratio=0, kernel_size=3)
