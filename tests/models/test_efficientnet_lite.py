"""EfficientNet-Lite0..4 (TensorFlow's release): no SE, ReLU6, fixed stem/head, TF "same"
padding; timm's parameter counts and parity, the release's mult-adds, efficientnet_pytorch names."""

from __future__ import annotations

import pytest
import torch
from parity import logits_difference, randomise
from torch import nn

import cnnzoo
from cnnzoo.analysis import build_on_meta, count_mult_adds, count_params
from cnnzoo.layers.conv import Conv2dSameTF
from cnnzoo.models.efficientnet_lite import LITE
from cnnzoo.models.pretrained import weight_mapping

timm = pytest.importorskip("timm")
VARIANTS = list(LITE)


@pytest.mark.parametrize("v", VARIANTS)
def test_params_and_mult_adds(v: str) -> None:
    model = build_on_meta(f"efficientnet_{v}")
    # counted == timm's tf_efficientnet_lite{i} (4,652,008 ... 13,006,568); the release's table
    # rounds to 0.1M: 4.7M, 5.4M, 6.1M, 8.2M, 13.0M
    assert count_params(model) == LITE[v].params
    assert abs(LITE[v].params / 1e6 - round(LITE[v].params / 1e6, 1)) < 0.05
    # One multiply-add = one operation. Counted at each variant's resolution: 385M, 600M, 860M,
    # 1.383G, 2.553G, i.e. 3.3-5.4% below the release's "MAdds" column (407M ... 2.64B); the
    # release does not say how it counted (BN, ReLU6 and the residual additions, which the
    # counter leaves out, are about that much at these widths).
    r = LITE[v].resolution
    assert -0.06 <= count_mult_adds(model, (3, r, r)) / LITE[v].mult_adds - 1 <= -0.03


def test_lite_is_b0_without_se_with_relu6_and_fixed_stem_head() -> None:
    model = build_on_meta("efficientnet_lite4")
    assert not any(isinstance(m, (nn.SiLU, cnnzoo.layers.attention.SqueezeExcite)) for m in model.modules())
    assert sum(isinstance(m, nn.ReLU6) for m in model.modules()) > 0
    assert model.stem.out_chs == 32 and model.num_features == 1280  # not x1.4
    # first and last rows keep 1 layer; the middle rows grow by ceil(layers x 1.8)
    assert [len(s) for s in model.stages] == [1, 4, 4, 6, 6, 8, 1]
    assert sum(isinstance(m, Conv2dSameTF) for m in model.modules()) == 5  # stem + 4 strided dw convs


def test_parity_with_timm() -> None:
    torch.manual_seed(0)
    theirs = randomise(timm.create_model("tf_efficientnet_lite0", num_classes=10))
    for size in (64, 57):  # even and odd sizes: TF "same" pads differently
        assert logits_difference("efficientnet_lite0", theirs, "timm", size=size, num_classes=10) <= 1e-4
    with torch.no_grad():
        assert theirs(torch.randn(2, 3, 64, 64)).std() > 0.1  # the comparison is not of zeros


def test_symmetric_padding_option_differs_only_in_padding() -> None:
    torch.manual_seed(0)
    same = randomise(cnnzoo.create_model("efficientnet_lite0", num_classes=10))
    symmetric = cnnzoo.create_model("efficientnet_lite0", num_classes=10, tf_same=False).eval()
    symmetric.load_state_dict(same.state_dict())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        a, b = same(x), symmetric(x)
    assert a.shape == b.shape and (a - b).abs().max() > 1e-3 * a.abs().max()


def test_conv2d_same_tf_pads_the_extra_pixel_bottom_right() -> None:
    conv = Conv2dSameTF(1, 1, 3, stride=2, bias=False)
    nn.init.ones_(conv.weight)
    x = torch.arange(16.0).view(1, 1, 4, 4)
    # TF "SAME" at 4x4, k3, s2: output 2x2, total padding 1, all of it at the bottom/right
    expected = nn.functional.conv2d(nn.functional.pad(x, (0, 1, 0, 1)), conv.weight, stride=2)
    assert torch.equal(conv(x), expected)
    assert conv(torch.zeros(1, 1, 5, 7)).shape[-2:] == (3, 4)  # ceil(H / 2)


# efficientnet_pytorch's names (the PyPI package's file), written out for the test
_TO_EP = {"stem.conv": "_conv_stem", "stem.bn": "_bn0", "head.conv": "_conv_head", "head.bn": "_bn1", "fc": "_fc"}
_BLOCK_TO_EP = {"expand.conv": "_expand_conv", "expand.bn": "_bn0", "dw.conv": "_depthwise_conv", "dw.bn": "_bn1",
                "project.conv": "_project_conv", "project.bn": "_bn2"}


def efficientnet_pytorch_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A cnnzoo EfficientNet state dict renamed to efficientnet_pytorch's flat `_blocks.{n}` names."""
    out, flat = {}, {}
    for k, v in state.items():
        if k.startswith("stages."):
            _, i, j, part, kind, rest = k.split(".", 5)
            n = flat.setdefault((int(i), int(j)), len(flat))
            out[f"_blocks.{n}.{_BLOCK_TO_EP[f'{part}.{kind}']}.{rest}"] = v
        else:
            prefix, _, rest = k.rpartition(".")
            out[f"{_TO_EP[prefix]}.{rest}"] = v
    return out


@pytest.mark.parametrize("name", ["efficientnet_lite0", "efficientnet_lite3"])
def test_efficientnet_pytorch_mapping_covers_every_tensor(name: str) -> None:
    model = cnnzoo.create_model(name, num_classes=7)
    own = model.state_dict()
    mapped = weight_mapping(name, "efficientnet_pytorch")(efficientnet_pytorch_state(own))
    assert mapped.keys() == own.keys()
    assert all(mapped[k] is own[k] for k in own)
