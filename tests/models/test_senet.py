"""SENet (Hu et al. 2017): SE-ResNet, SE-ResNeXt, SENet-154 against timm's legacy models and Table 2."""

from __future__ import annotations

import pytest
import torch

import cnnzoo
from cnnzoo.analysis import count_mult_adds, count_params
from cnnzoo.layers.attention import SqueezeExcite
from parity import logits_difference

timm = pytest.importorskip("timm")

LEGACY = {"se_resnet50": "legacy_seresnet50", "se_resnet101": "legacy_seresnet101",
          "se_resnet152": "legacy_seresnet152", "se_resnext50_32x4d": "legacy_seresnext50_32x4d",
          "se_resnext101_32x4d": "legacy_seresnext101_32x4d", "senet154": "legacy_senet154"}
TIMM_PARAMS = {"se_resnet50": 28_088_024, "se_resnet101": 49_326_872, "se_resnet152": 66_821_848,
               "se_resnext50_32x4d": 27_559_896, "se_resnext101_32x4d": 48_955_416, "senet154": 115_088_984}
# SE paper Table 2, SENet column: GFLOPs (one multiply-add each) at 224x224
TABLE2_GFLOPS = {"se_resnet50": 3.87, "se_resnet101": 7.60, "se_resnet152": 11.32, "se_resnext50_32x4d": 4.25,
                 "se_resnext101_32x4d": 8.00}


def _meta(name: str, **kwargs: object) -> torch.nn.Module:
    with torch.device("meta"):
        return cnnzoo.create_model(name, **kwargs)


@pytest.mark.parametrize("name", LEGACY)
def test_parameters_equal_timms(name: str) -> None:
    with torch.device("meta"):
        theirs = timm.create_model(LEGACY[name], pretrained=False)
    assert count_params(_meta(name)) == count_params(theirs) == TIMM_PARAMS[name] == cnnzoo.model_card(name).params
    assert cnnzoo.model_card(name).weights[0].name == LEGACY[name]


def test_se_resnet50_parameters_by_arithmetic() -> None:
    # ResNet-50 (25,557,032) + one SE per bottleneck: FCs C -> C/16 -> C with biases (Table 1's fc, [C/16, C])
    se = sum(n * (2 * c * (c // 16) + c // 16 + c) for n, c in ((3, 256), (4, 512), (6, 1024), (3, 2048)))
    assert count_params(_meta("se_resnet50")) == 25_557_032 + se
    assert round((25_557_032 + se) / 1e6, 2) == 28.09  # the SE paper: ~10% more than ResNet-50's ~25M


def test_mult_adds_against_table_2() -> None:
    # Our counter takes convs and fcs only; Table 2's figures are 0.2-0.4% higher (the SE paper also
    # counts some of the element-wise work): tolerance 0.5%.
    for name, gflops in TABLE2_GFLOPS.items():
        counted = count_mult_adds(_meta(name), (3, 224, 224)) / 1e9
        assert abs(counted - gflops) / gflops < 0.005, (name, counted)
    # the SE blocks' fcs add 0.26% to ResNet-50's 3.86 (Table 2: 3.86 -> 3.87)
    extra = count_mult_adds(_meta("se_resnet50"), (3, 224, 224)) - count_mult_adds(_meta("resnet50"), (3, 224, 224))
    assert extra == sum(n * 2 * c * (c // 16) for n, c in ((3, 256), (4, 512), (6, 1024), (3, 2048)))


@pytest.mark.parametrize("name", LEGACY)
def test_parity_with_timm_legacy(name: str) -> None:
    torch.manual_seed(0)
    theirs = timm.create_model(LEGACY[name], pretrained=False).eval()
    assert logits_difference(name, theirs, "timm", size=35) <= 1e-4  # odd size: the ceil-mode pool matters


def test_layouts() -> None:
    r50, x50, s154 = _meta("se_resnet50"), _meta("se_resnext50_32x4d"), _meta("senet154")
    assert r50.layer2[0].conv1.stride == (2, 2) and x50.layer2[0].conv2.stride == (2, 2)
    assert all(isinstance(b.se, SqueezeExcite) and b.se.hidden == b.out_chs // 16 for b in r50.blocks())
    assert r50.layer1.paper_columns() == {"blocks": "[1x1, 64; 3x3, 64; 1x1, 256; fc, [16, 256]] x 3"}
    assert x50.layer1.paper_columns() == {"blocks": "[1x1, 128; 3x3, 128, C=32; 1x1, 256; fc, [16, 256]] x 3"}
    # SENet-154 (appendix): halved first 1x1, three 3x3 stem convs, 3x3 stride-2 projections, dropout 0.2
    assert s154.layer1.paper_columns() == {"blocks": "[1x1, 128; 3x3, 256, C=64; 1x1, 256; fc, [16, 256]] x 3"}
    assert [m.kernel_size for m in s154.stem if isinstance(m, torch.nn.Conv2d)] == [(3, 3)] * 3
    assert [getattr(s154, f"layer{i}")[0].downsample[0].kernel_size for i in (1, 2, 3, 4)] == [(1, 1)] + [(3, 3)] * 3
    assert s154.head_drop.p == 0.2 and isinstance(r50.head_drop, torch.nn.Identity)
    assert r50.maxpool.ceil_mode and r50.maxpool.padding == 0  # Caffe's pooling, as the released models


def test_se_reduction_is_configurable() -> None:
    model = _meta("se_resnet50", se_reduction=8)
    assert model.layer4[0].se.hidden == 2048 // 8
    with pytest.raises(ValueError, match="se_reduction"):
        cnnzoo.create_model("se_resnet50", se_reduction=0)


def test_smallest_inputs() -> None:
    model = cnnzoo.create_model("se_resnet50").eval()
    assert cnnzoo.model_card("se_resnet50").min_size == 32  # the total stride; smaller inputs still run
    with torch.no_grad():
        assert model(torch.randn(1, 3, 3, 3)).shape == (1, 1000)
        with pytest.raises(RuntimeError):  # 2x2 -> 1x1 after the 7x7/2: too small for the unpadded 3x3 pool
            model(torch.randn(1, 3, 2, 2))
