"""ResNet (He et al. 2015) for ImageNet: paper layout, torchvision's v1.5, plain twins, blocks."""

from __future__ import annotations

from functools import cache

import pytest
import torch
import torchvision

import cnnzoo
from cnnzoo.analysis import count_mult_adds, count_params
from cnnzoo.layers.attention import SqueezeExcite, add_squeeze_excite
from cnnzoo.layers.residual import BasicBlock, BlockDesign, Bottleneck, PreActBottleneck, make_shortcut
from cnnzoo.models.pretrained import assign_state_dict, weight_mapping
from cnnzoo.models.resnet import ResNet
from parity import logits_difference

TV_PARAMS = {"resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032,
             "resnet101": 44_549_160, "resnet152": 60_192_808}  # torchvision's num_params


def _meta(name: str, **kwargs: object) -> torch.nn.Module:
    with torch.device("meta"):
        return cnnzoo.create_model(name, **kwargs)


@cache
def _macs(name: str, shortcut: str | None = None) -> int:
    return count_mult_adds(_meta(name, **({"shortcut": shortcut} if shortcut else {})), (3, 224, 224))


def _gmacs(name: str, shortcut: str | None = None) -> float:
    return _macs(name, shortcut) / 1e9


def conv(k: int, c_in: int, c_out: int) -> int:
    return k * k * c_in * c_out  # bias-free: a BN follows


def bn(c: int) -> int:
    return 2 * c  # scale and shift


@pytest.mark.parametrize("name", ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"])
def test_parameters_equal_torchvisions(name: str) -> None:
    with torch.device("meta"):
        tv = getattr(torchvision.models, name)()
    assert count_params(_meta(name + "_tv")) == count_params(tv) == TV_PARAMS[name] == \
        cnnzoo.model_card(name + "_tv").params
    if name not in ("resnet18", "resnet34"):  # the stride's place changes no shape
        assert count_params(_meta(name)) == TV_PARAMS[name] == cnnzoo.model_card(name).params
    else:  # the paper's option A shortcuts have no parameters: the plain twin's count
        assert count_params(_meta(name)) == count_params(_meta(name.replace("resnet", "plain")))


def test_plain_parameters_by_table_1() -> None:
    # Table 1, 18/34-layer columns without shortcuts: conv1 7x7,64 | conv2_x..conv5_x [3x3,w; 3x3,w] x n | fc.
    def plain(depths: tuple[int, ...]) -> int:
        total, c_in = conv(7, 3, 64) + bn(64), 64
        for n, w in zip(depths, (64, 128, 256, 512)):
            total += conv(3, c_in, w) + bn(w) + conv(3, w, w) + bn(w)  # first block (stride 2 after conv2_x)
            total += (n - 1) * 2 * (conv(3, w, w) + bn(w))
            c_in = w
        return total + 512 * 1000 + 1000  # 1000-d fc

    assert count_params(_meta("plain18")) == plain((2, 2, 2, 2)) == cnnzoo.model_card("plain18").params
    assert count_params(_meta("plain34")) == plain((3, 4, 6, 3)) == cnnzoo.model_card("plain34").params
    # option B adds three projections (1x1 conv + BN) where the width doubles
    projections = sum(conv(1, w, 2 * w) + bn(2 * w) for w in (64, 128, 256))
    assert plain((2, 2, 2, 2)) + projections == TV_PARAMS["resnet18"]
    assert plain((3, 4, 6, 3)) + projections == TV_PARAMS["resnet34"]


def test_mult_adds_against_table_1() -> None:
    # Unit: one multiply-add (the paper's "FLOPs": "3.6 billion FLOPs (multiply-adds)", §3.3).
    for name, flops in (("resnet18", 1.8), ("resnet34", 3.6), ("resnet101", 7.6), ("resnet152", 11.3),
                        ("plain18", 1.8), ("plain34", 3.6)):
        assert round(_gmacs(name), 1) == flops == cnnzoo.model_card(name).mult_adds / 1e9, name
    # The paper's ResNet-34 (option A) counts as its plain twin, 3.64; option B's three
    # projections add 3 x 6.4M mult-adds: torchvision's resnet34 counts 3.66.
    assert round(_gmacs("resnet34"), 2) == round(_gmacs("plain34"), 2) == 3.64
    assert round(_gmacs("resnet34_tv"), 2) == 3.66
    # Table 1 prints 3.8 for 50 layers, but the network it describes counts 3.86 (conv1 118.0M,
    # conv2_x 668.0M, conv3_x 950.7M, conv4_x 1,387.5M, conv5_x 732.3M, fc 2.0M), as the SE
    # paper's own re-count (Table 2: ResNet-50 3.86 GFLOPs). No layout of the paper gives 3.8:
    # the test pins 3.86 and allows 2% against the printed figure.
    assert round(_gmacs("resnet50"), 2) == 3.86
    assert abs(_gmacs("resnet50") - 3.8) / 3.8 < 0.02
    # torchvision's v1.5 moves the stride to the 3x3: the first 1x1 of conv3_1, conv4_1, conv5_1
    # runs at 4x the pixels: 3 x (3/4) x 102.8M more (torchvision publishes 4.09, 7.80, 11.51).
    assert [round(_gmacs(f"resnet{d}_tv"), 2) for d in (50, 101, 152)] == [4.09, 7.80, 11.51]
    moved = 3 * 3 * (56 * 56 * 256 * 128) // 4
    assert _macs("resnet50_tv") - _macs("resnet50") == moved


def test_stride_placement() -> None:
    paper, tv = _meta("resnet50").layer2[0], _meta("resnet50_tv").layer2[0]
    assert (paper.conv1.stride, paper.conv2.stride) == ((2, 2), (1, 1))  # Caffe models: stride in the first 1x1
    assert (tv.conv1.stride, tv.conv2.stride) == ((1, 1), (2, 2))  # torchvision v1.5: stride in the 3x3
    assert _meta("resnet18").layer2[0].conv1.stride == (2, 2)


@pytest.mark.parametrize("name", ["resnet18_tv", "resnet34_tv", "resnet50_tv", "resnet101_tv", "resnet152_tv"])
def test_parity_with_torchvision(name: str) -> None:
    torch.manual_seed(0)
    theirs = getattr(torchvision.models, name.removesuffix("_tv"))(weights=None)
    assert logits_difference(name, theirs, "torchvision") <= 1e-4


def test_parity_with_timm() -> None:
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    theirs = timm.create_model("resnet50", pretrained=False)
    assert logits_difference("resnet50_tv", theirs, "timm") <= 1e-4


def test_torchvision_weights_load_into_the_paper_layout() -> None:
    torch.manual_seed(0)
    theirs = torchvision.models.resnet50(weights=None).eval()
    ours = cnnzoo.create_model("resnet50")
    report = assign_state_dict(ours, weight_mapping("resnet50_tv", "torchvision")(theirs.state_dict()), source="tv")
    assert report.loaded == len(theirs.state_dict()) and not report.reset
    assert weight_mapping("resnet50", "torchvision") is None  # v1.5 weights are not registered for v1
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():  # same tensors, the stride elsewhere: another function
        assert (ours.eval()(x) - theirs(x)).abs().max().item() > 1e-3


def test_plain_twins_have_no_shortcuts() -> None:
    plain, res = _meta("plain34"), _meta("resnet34_tv")
    assert all(not b.residual and b.downsample is None for b in plain.blocks())
    assert all(b.residual for b in res.blocks())
    assert sum(b.downsample is not None for b in res.blocks()) == 3  # option B: where the shape changes
    plain_keys = set(plain.state_dict())
    assert plain_keys < set(res.state_dict())
    assert all(".downsample." in k for k in set(res.state_dict()) - plain_keys)


def test_paper_columns() -> None:
    r50, r18 = _meta("resnet50"), _meta("resnet18")
    assert [s.paper_columns()["blocks"] for s in r50.stages] == [
        "[1x1, 64; 3x3, 64; 1x1, 256] x 3", "[1x1, 128; 3x3, 128; 1x1, 512] x 4",
        "[1x1, 256; 3x3, 256; 1x1, 1024] x 6", "[1x1, 512; 3x3, 512; 1x1, 2048] x 3"]
    assert r18.layer3.paper_columns() == {"blocks": "[3x3, 256; 3x3, 256] x 2"}
    assert [(row.name, row.depth, row.width, row.stride) for row in _meta("resnet152").stage_table] == [
        ("conv2_x", 3, 64, 1), ("conv3_x", 8, 128, 2), ("conv4_x", 36, 256, 2), ("conv5_x", 3, 512, 2)]


def test_squeeze_excite_slots() -> None:
    model = add_squeeze_excite(_meta("resnet50"), reduction=16)
    assert sum(isinstance(b.se, SqueezeExcite) for b in model.blocks()) == 16
    assert model.layer1.paper_columns()["blocks"] == "[1x1, 64; 3x3, 64; 1x1, 256; fc, [16, 256]] x 3"
    assert count_params(model) == count_params(_meta("resnet50", se_reduction=16)) == 28_088_024  # SE-ResNet-50


def test_skip_returns_the_shortcut() -> None:
    torch.manual_seed(0)
    model = cnnzoo.create_model("resnet18").eval()
    x = torch.randn(1, 64, 8, 8)
    block = model.layer1[1]
    block.skip = True
    with torch.no_grad():
        assert torch.equal(block(x), torch.relu(x))  # identity shortcut: relu(x + 0)
        down = model.layer2[0]
        down.skip = True
        assert torch.equal(down(x), torch.relu(down.downsample(x)))  # projection shortcut alone
        image = torch.randn(1, 3, 64, 64)
        skipped = model(image)
        down.skip = block.skip = False
        assert not torch.allclose(model(image), skipped)
    plain = cnnzoo.create_model("plain18")
    plain.layer1[1].skip = True  # same shape: the layer pair is deleted
    with torch.no_grad():
        assert torch.equal(plain.layer1[1](x), x.relu())
    with pytest.raises(ValueError, match="cannot be skipped"):
        plain.layer2[0].skip = True


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="shortcut"):
        cnnzoo.create_model("resnet18", shortcut="D")
    with pytest.raises(ValueError, match="PreActResNet"):
        ResNet(depths=(2, 2, 2, 2), block=PreActBottleneck)
    with pytest.raises(ValueError, match="width"):
        ResNet(depths=(2, 2, 2))
    with pytest.raises(ValueError, match="basic blocks"):
        BasicBlock(64, 64, design=BlockDesign(groups=32))
    with pytest.raises(ValueError, match="first_ratio"):
        BlockDesign(first_ratio=0)
    with pytest.raises(ValueError, match="option A"):
        make_shortcut("A", 64, 32, 1)
    assert isinstance(Bottleneck(64, 64).downsample, torch.nn.Sequential)  # 64 -> 256: projection
