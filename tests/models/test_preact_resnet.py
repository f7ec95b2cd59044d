"""Pre-activation ResNets (He et al. 2016): parameter arithmetic, layout, timm parity."""

from __future__ import annotations

import pytest
import torch

import cnnzoo
from cnnzoo.analysis import count_mult_adds, count_params
from parity import logits_difference
from cnnzoo.models.preact_resnet import PreActResNet


def _meta(name: str) -> torch.nn.Module:
    with torch.device("meta"):
        return cnnzoo.create_model(name)


def conv(k: int, c_in: int, c_out: int) -> int:
    return k * k * c_in * c_out  # every conv is bias-free


def bn(c: int) -> int:
    return 2 * c


def preact_params(bottleneck: bool, depths: tuple[int, ...], widths: tuple[int, ...], stem: int, stem_chs: int,
                  num_classes: int, projections: bool = True) -> int:
    """Unit by unit: [BN-ReLU] conv [BN-ReLU conv]... + a bias-free 1x1 projection where the shape changes.

    The network's first unit has no BN of its own (the stem's conv-BN-ReLU precedes it); the
    network ends with BN-ReLU and the fc. `projections=False`: option A (parameter-free) shortcuts.
    """
    total = conv(stem, 3, stem_chs) + bn(stem_chs)
    c_in, first = stem_chs, True
    for n, w in zip(depths, widths):
        out = 4 * w if bottleneck else w
        for i in range(n):
            total += 0 if first else bn(c_in)  # the unit's pre-activation
            if bottleneck:  # 1x1, w | BN-ReLU 3x3, w | BN-ReLU 1x1, 4w
                total += conv(1, c_in, w) + bn(w) + conv(3, w, w) + bn(w) + conv(1, w, out)
            else:  # 3x3, w | BN-ReLU 3x3, w
                total += conv(3, c_in, w) + bn(w) + conv(3, w, w)
            if i == 0 and c_in != out and projections:
                total += conv(1, c_in, out)
            c_in, first = out, False
    return total + bn(c_in) + c_in * num_classes + num_classes  # final BN, fc


IMAGENET = {18: (False, (2, 2, 2, 2)), 34: (False, (3, 4, 6, 3)), 50: (True, (3, 4, 6, 3)),
            101: (True, (3, 4, 23, 3)), 152: (True, (3, 8, 36, 3))}  # 2015 paper's Table 1
TIMM_PARAMS = {18: 11_687_720, 34: 21_795_880, 50: 25_549_352, 101: 44_541_480}  # timm resnetv2_*


@pytest.mark.parametrize("depth", IMAGENET)
def test_imagenet_parameters_by_arithmetic(depth: int) -> None:
    bottleneck, depths = IMAGENET[depth]
    exact = preact_params(bottleneck, depths, (64, 128, 256, 512), 7, 64, 1000)
    assert count_params(_meta(f"preact_resnet{depth}")) == exact == cnnzoo.model_card(f"preact_resnet{depth}").params
    if depth in TIMM_PARAMS:  # timm's layout moves one BN (stem -> first unit): the same count
        assert count_params(_meta(f"preact_resnet{depth}_timm")) == exact == TIMM_PARAMS[depth]


def test_cifar_parameters_by_arithmetic_round_to_the_paper() -> None:
    # 1.7M parameters each: ResNet-110 (2015 paper, Table 6), ResNet-164 (2016 paper, Table 3)
    r110 = preact_params(False, (18, 18, 18), (16, 32, 64), 3, 16, 10, projections=False)
    r164 = preact_params(True, (18, 18, 18), (16, 32, 64), 3, 16, 10)
    assert (count_params(_meta("preact_resnet110")), count_params(_meta("preact_resnet164"))) == (r110, r164)
    assert (r110, r164) == (1_727_962, 1_703_258)
    assert round(r110 / 1e6, 1) == round(r164 / 1e6, 1) == 1.7 == cnnzoo.model_card("preact_resnet164").params / 1e6
    assert r110 == count_params(_meta("resnet110"))  # BNs move, none is added or removed
    # the units' convs: (6n+2 = 110 and 9n+2 = 164 weighted layers: n = 18)
    assert count_mult_adds(_meta("preact_resnet110"), (3, 32, 32)) == count_mult_adds(_meta("resnet110"), (3, 32, 32))


@pytest.mark.parametrize("depth", TIMM_PARAMS)
def test_parity_with_timm_resnetv2(depth: int) -> None:
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    theirs = timm.create_model(f"resnetv2_{depth}", pretrained=False).eval()
    assert logits_difference(f"preact_resnet{depth}_timm", theirs, "timm") <= 1e-4


def test_layouts() -> None:
    paper, tv = _meta("preact_resnet50"), _meta("preact_resnet50_timm")
    assert not paper.layer1[0].preact and paper.layer2[0].preact and "bn1" in dict(paper.stem.named_children())
    assert tv.layer1[0].preact and "bn1" not in dict(tv.stem.named_children())
    assert paper.layer2[0].conv1.stride == (2, 2) and tv.layer2[0].conv2.stride == (2, 2)
    assert len(paper.layer2[0].downsample) == 1  # a bias-free 1x1 conv, no BN
    assert paper.layer1.paper_columns() == {"blocks": "[1x1, 64; 3x3, 64; 1x1, 256] x 3"}
    assert _meta("preact_resnet164").layer3.paper_columns() == {"blocks": "[1x1, 64; 3x3, 64; 1x1, 256] x 18"}


def test_unit_computes_x_plus_f_of_the_preactivation() -> None:
    torch.manual_seed(0)
    model = cnnzoo.create_model("preact_resnet164").eval()
    x = torch.randn(2, 64, 8, 8)
    with torch.no_grad():
        for block in (model.layer2[0], model.layer2[1]):  # projection / identity shortcut
            pre = torch.relu(block.bn1(x))
            shortcut = x if block.downsample is None else block.downsample(pre)  # a projection sees pre(x)
            assert torch.allclose(block(x), block.branch(pre) + shortcut, atol=1e-6)
            block.skip = True
            assert torch.equal(block(x), shortcut)
            block.skip = False
            x = block(x)  # (2, 128, 4, 4)
        features = model.forward_features(torch.randn(2, 3, 32, 32))
        assert features.shape == (2, 256, 8, 8) and (features >= 0).all()  # final BN-ReLU


def test_bad_arguments() -> None:
    from cnnzoo.layers.residual import Bottleneck
    with pytest.raises(ValueError, match="PreActBasicBlock"):
        PreActResNet(depths=(1, 1, 1, 1), block=Bottleneck)
    with pytest.raises(ValueError, match="stem"):
        PreActResNet(depths=(1, 1, 1, 1), stem="3x3x3")
