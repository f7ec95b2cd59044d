"""ResNeXt (Xie et al. 2016): grouped bottlenecks, torchvision/timm parity, Table 1's figures."""

from __future__ import annotations

import pytest
import torch
import torchvision

import cnnzoo
from cnnzoo.analysis import count_mult_adds, count_params
from parity import logits_difference

LIBRARY_PARAMS = {"resnext50_32x4d": 25_028_904, "resnext101_32x8d": 88_791_336,  # torchvision's
                  "resnext101_64x4d": 83_455_272, "resnext101_32x4d": 44_177_704}  # ... and timm's


def _meta(name: str) -> torch.nn.Module:
    with torch.device("meta"):
        return cnnzoo.create_model(name)


@pytest.mark.parametrize("name", LIBRARY_PARAMS)
def test_parameters_equal_the_libraries(name: str) -> None:
    assert count_params(_meta(name)) == LIBRARY_PARAMS[name] == cnnzoo.model_card(name).params
    if name != "resnext101_32x4d":
        with torch.device("meta"):
            assert count_params(getattr(torchvision.models, name)()) == LIBRARY_PARAMS[name]


def test_table_1_figures() -> None:
    # Table 1: ResNeXt-50 (32x4d) 25.0 x 10^6 parameters, 4.2 x 10^9 FLOPs (unit: one multiply-add)
    model = _meta("resnext50_32x4d")
    assert round(count_params(model) / 1e6, 1) == 25.0
    macs = count_mult_adds(model, (3, 224, 224))
    assert round(macs / 1e9, 1) == 4.2 == cnnzoo.model_card("resnext50_32x4d").mult_adds / 1e9
    assert [s.paper_columns()["blocks"] for s in model.stages] == [
        "[1x1, 128; 3x3, 128, C=32; 1x1, 256] x 3", "[1x1, 256; 3x3, 256, C=32; 1x1, 512] x 4",
        "[1x1, 512; 3x3, 512, C=32; 1x1, 1024] x 6", "[1x1, 1024; 3x3, 1024, C=32; 1x1, 2048] x 3"]
    block = model.layer2[0]
    assert block.conv2.groups == 32 and block.conv2.stride == (2, 2) and block.conv1.stride == (1, 1)
    assert _meta("resnext101_32x8d").layer1.paper_columns()["blocks"] == "[1x1, 256; 3x3, 256, C=32; 1x1, 256] x 3"
    assert _meta("resnext101_64x4d").layer1[0].conv2.groups == 64


@pytest.mark.parametrize("name", ["resnext50_32x4d", "resnext101_32x8d", "resnext101_64x4d"])
def test_parity_with_torchvision(name: str) -> None:
    torch.manual_seed(0)
    assert logits_difference(name, getattr(torchvision.models, name)(weights=None), "torchvision") <= 1e-4


def test_parity_with_timm() -> None:
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    assert logits_difference("resnext101_32x4d", timm.create_model("resnext101_32x4d", pretrained=False), "timm") <= 1e-4
