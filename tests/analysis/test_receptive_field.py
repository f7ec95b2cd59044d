"""Receptive fields: analytic (dispatch-level, max over paths) and checked by the gradient method."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

import cnnzoo
from cnnzoo.analysis.receptive_field import receptive_field, receptive_field_by_gradient
from cnnzoo.layers.attention import SqueezeExcite


@pytest.mark.parametrize("n,expected", [(1, 3), (2, 5), (3, 7)])
def test_stacked_3x3_convolutions(n, expected):
    # Seed 000 §3.2 / seed 001: two stacked 3x3 convolutions see 5x5, three see 7x7.
    net = nn.Sequential(*[nn.Conv2d(2, 2, 3, padding=1) for _ in range(n)])
    assert receptive_field(net, (2, 32, 32)).size == (expected, expected)
    assert receptive_field_by_gradient(net, (2, 32, 32)) == (expected, expected)


class _Branchy(nn.Module):
    """Stride, two branches of different width (concatenated), max pooling, dilation, a residual
    addition and an SE gate: every rule of the analytic method at once."""

    def __init__(self, se: bool) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.b5 = nn.Conv2d(8, 8, 5, padding=2)
        self.b3 = nn.Conv2d(8, 8, 3, padding=1)
        self.pool = nn.MaxPool2d(3, 2, padding=1)
        self.d = nn.Conv2d(16, 16, 3, dilation=2, padding=2)
        self.se = SqueezeExcite(16, 4) if se else nn.Identity()
        self.k = nn.Conv2d(16, 16, (1, 5), padding=(0, 2))

    def forward(self, x):
        x = self.a(x)
        x = self.pool(torch.cat([self.b5(x), self.b3(x)], 1))
        x = x + self.se(self.d(x))
        return self.k(x)


def test_branches_residuals_dilation_against_the_gradient_method():
    # a 3x3/2: 3, jump 2; widest branch 5x5: 3 + 4*2 = 11; pool 3x3/2: 11 + 2*2 = 15, jump 4;
    # dilated 3x3 (d=2): 15 + 2*2*4 = 31 (the residual keeps the max: 31); 1x5: width 31 + 4*4 = 47
    rf = receptive_field(_Branchy(se=False), (3, 128, 128))
    assert rf.size == (31, 47)
    assert receptive_field_by_gradient(_Branchy(se=False), (3, 128, 128)) == (31, 47)
    assert rf.layers["a"].text() == "3" and rf.layers["pool"].text() == "15"
    # The SE gate (pooled, then broadcast from a 1x1 map) does reach every pixel — the gradient
    # method says 128 — but is left out of the analytic field, or every SE network would be global.
    se = receptive_field(_Branchy(se=True), (3, 128, 128))
    assert se.size == (31, 47) and se.layers["se"].text() == "31"
    assert receptive_field_by_gradient(_Branchy(se=True), (3, 128, 128)) == (128, 128)


def test_global_pooling_is_global():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    rf = receptive_field(net, (3, 16, 16))
    assert rf.layers["1"].text() == "global" and rf.layers["3"].text() == "global"
    assert rf.output is not None and rf.output.text() == "3"  # the last map before the pooling


def test_vgg16_is_212():
    # VGG-16's pool5 sees 212x212 pixels (conv5_3: 196); Araujo et al., Distill 2019, Table 1.
    with torch.device("meta"):
        model = cnnzoo.create_model("vgg16")
    assert receptive_field(model, (3, 224, 224)).size == (212, 212)


def test_resnet50_layouts():
    # torchvision's ResNet-50 (stride on the 3x3 of a downsampling block, "v1.5"): 427.
    with torch.device("meta"):
        tv = torchvision.models.resnet50()
    assert receptive_field(tv, (3, 224, 224)).size == (427, 427)
    # The paper's / Caffe's layout strides the first 1x1 of conv3_1, conv4_1, conv5_1: each of the
    # three downsampling 3x3s then runs at twice the jump: 427 + 2 * (8 + 16 + 32) = 539 - 56 = 483
    # (Araujo et al. list resnet_v1_50 at 483).
    with torch.device("meta"):
        assert receptive_field(cnnzoo.create_model("resnet50")).size == (483, 483)
        assert receptive_field(cnnzoo.create_model("resnet50_tv")).size == (427, 427)


def test_lenet5_output_sees_the_whole_32x32_input():
    torch.manual_seed(0)
    model = cnnzoo.create_model("lenet5")
    assert receptive_field(model).size == (32, 32)
    assert receptive_field_by_gradient(model, (1, 32, 32)) == (32, 32)
