"""SqueezeNet (Iandola et al. 2016) against seed 002's table (paper Table 1) and torchvision."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

import cnnzoo
from cnnzoo.analysis import count_mult_adds, count_params
from cnnzoo.layers.attention import SqueezeExcite, add_squeeze_excite
from cnnzoo.layers.fire import Fire
from cnnzoo.models.squeezenet import SQUEEZENET_1_0, FireRow
from parity import logits_difference, randomise


def _meta(name: str, **kwargs: object) -> nn.Module:
    with torch.device("meta"):
        return cnnzoo.create_model(name, **kwargs)


def fire(c_in: int, s1x1: int, e1x1: int, e3x3: int) -> int:
    # squeeze 1x1 + expand 1x1 + expand 3x3, each with biases (§3.2)
    return (c_in * s1x1 + s1x1) + (s1x1 * e1x1 + e1x1) + (9 * s1x1 * e3x3 + e3x3)


# "#parameter before pruning" column of seed 002's table (pooling rows have none)
TABLE_PARAMS = {"conv1": 14_208, "fire2": 11_920, "fire3": 12_432, "fire4": 45_344, "fire5": 49_440,
                "fire6": 104_880, "fire7": 111_024, "fire8": 188_992, "fire9": 197_184, "conv10": 513_000}


def test_every_row_of_the_table_before_pruning() -> None:
    arithmetic = {
        "conv1": 7 * 7 * 3 * 96 + 96,  # 7x7/2 (x96), with biases
        "fire2": fire(96, 16, 64, 64),
        "fire3": fire(128, 16, 64, 64),
        "fire4": fire(128, 32, 128, 128),
        "fire5": fire(256, 32, 128, 128),
        "fire6": fire(256, 48, 192, 192),
        "fire7": fire(384, 48, 192, 192),
        "fire8": fire(384, 64, 256, 256),
        "fire9": fire(512, 64, 256, 256),
        "conv10": 512 * 1000 + 1000,  # 1x1/1 (x1000)
    }
    assert arithmetic == TABLE_PARAMS
    m = _meta("squeezenet1_0")
    rows = {name: count_params(layer) for name, layer in m.features.named_children() if "pool" not in name}
    rows["conv10"] = count_params(m.conv10)
    assert rows == TABLE_PARAMS
    assert sum(TABLE_PARAMS.values()) == count_params(m) == 1_248_424 == cnnzoo.model_card("squeezenet1_0").params


def test_fire_modules_report_the_tables_columns() -> None:
    m = _meta("squeezenet1_0")
    fires = {row.name: (row.s1x1, row.e1x1, row.e3x3) for row in SQUEEZENET_1_0 if isinstance(row, FireRow)}
    assert fires == {"fire2": (16, 64, 64), "fire3": (16, 64, 64), "fire4": (32, 128, 128),
                     "fire5": (32, 128, 128), "fire6": (48, 192, 192), "fire7": (48, 192, 192),
                     "fire8": (64, 256, 256), "fire9": (64, 256, 256)}
    for name, (s, e1, e3) in fires.items():
        assert m.features.get_submodule(name).paper_columns() == {"s1x1": s, "e1x1": e1, "e3x3": e3}


def test_output_sizes_of_the_table_at_227() -> None:
    # The table's output column (its "13x12x512" for maxpool8 is a typo: 13x13x512).
    m = _meta("squeezenet1_0")
    shapes: dict[str, tuple[int, ...]] = {}
    for name, layer in m.features.named_children():
        layer.register_forward_hook(lambda _m, _i, out, name=name: shapes.__setitem__(name, tuple(out.shape[1:])))
    m.eval()(torch.zeros(1, 3, 227, 227, device="meta"))
    assert shapes == {"conv1": (96, 111, 111), "maxpool1": (96, 55, 55), "fire2": (128, 55, 55),
                      "fire3": (128, 55, 55), "fire4": (256, 55, 55), "maxpool4": (256, 27, 27),
                      "fire5": (256, 27, 27), "fire6": (384, 27, 27), "fire7": (384, 27, 27),
                      "fire8": (512, 27, 27), "maxpool8": (512, 13, 13), "fire9": (512, 13, 13)}


@pytest.mark.parametrize(("name", "params"), [("squeezenet1_0", 1_248_424), ("squeezenet1_1", 1_235_496)])
def test_parameters_and_mult_adds_equal_torchvisions(name: str, params: int) -> None:
    with torch.device("meta"):
        tv = getattr(torchvision.models, name)()
    assert count_params(_meta(name)) == count_params(tv) == params
    # torchvision's "_ops" (mult-adds at 224x224, in G, 3 decimals): 0.819 and 0.349
    ops = torchvision.models.get_model_weights(name).IMAGENET1K_V1.meta["_ops"]
    assert round(count_mult_adds(_meta(name), (3, 224, 224)) / 1e9, 3) == ops


def test_squeezenet1_1_moves_pooling_earlier_and_costs_less() -> None:
    m = _meta("squeezenet1_1")
    assert [n for n, _ in m.features.named_children()] == [
        "conv1", "maxpool1", "fire2", "fire3", "maxpool3", "fire4", "fire5", "maxpool5",
        "fire6", "fire7", "fire8", "fire9"]
    assert m.features.conv1.conv.kernel_size == (3, 3) and m.features.conv1.conv.out_channels == 64
    # the repository's claim: 2.4x less computation than 1.0 (at 227x227: 832.7M / 387.7M = 2.15;
    # at 224x224: 818.9M / 349.2M = 2.35)
    ratio = count_mult_adds(_meta("squeezenet1_0"), (3, 224, 224)) / count_mult_adds(m, (3, 224, 224))
    assert 2.3 < ratio < 2.45


@pytest.mark.parametrize("name", ["squeezenet1_0", "squeezenet1_1"])
def test_torchvision_weights_give_the_same_logits(name: str) -> None:
    torch.manual_seed(0)
    tv = randomise(getattr(torchvision.models, name)(num_classes=10))
    x = torch.randn(2, 3, 48, 48, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert tv(x).abs().max() > 0  # the final ReLU leaves some logits non-zero
    assert logits_difference(name, tv, "torchvision", size=48, num_classes=10) <= 1e-4


def test_classifier_is_conv10_a_1x1_convolution_before_relu_and_pooling() -> None:
    m = cnnzoo.create_model("squeezenet1_0", num_classes=10).eval()
    assert m.classifier_path == "conv10" and isinstance(m.get_classifier(), nn.Conv2d)
    assert m.get_classifier().kernel_size == (1, 1)
    assert m.num_features == m.head_hidden_size == 512
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        feats = m.forward_features(x)
        logits = m.forward_head(feats)
        assert torch.allclose(logits, torch.relu(m.conv10(feats)).mean((2, 3)))
        assert (logits >= 0).all()
        assert m.forward_head(feats, pre_logits=True).shape == (1, 512)
    m.reset_classifier(5)
    assert isinstance(m.conv10, nn.Conv2d) and m.conv10.in_channels == 512 and m.conv10.out_channels == 5


def test_simple_bypass_wraps_the_fire_modules_of_equal_width() -> None:
    # §6: simple bypass around fire3, fire5, fire7 and fire9; no parameters added (Table 3)
    m = cnnzoo.create_model("squeezenet1_0_bypass", num_classes=10).eval()
    bypassed = [n for n, layer in m.features.named_children() if isinstance(layer, Fire) and layer.bypass]
    assert bypassed == ["fire3", "fire5", "fire7", "fire9"]
    assert count_params(m) == count_params(_meta("squeezenet1_0", num_classes=10))
    plain = cnnzoo.create_model("squeezenet1_0", num_classes=10).eval()
    plain.load_state_dict(m.state_dict())  # same names, same weights
    x, inp = torch.randn(1, 3, 64, 64), torch.rand(1, 128, 8, 8)
    with torch.no_grad():
        assert torch.equal(m.features.fire3(inp), plain.features.fire3(inp) + inp)
        assert not torch.allclose(m(x), plain(x))


def test_squeeze_excite_slots_sit_on_each_fire_modules_output() -> None:
    m = add_squeeze_excite(cnnzoo.create_model("squeezenet1_1", num_classes=10), reduction=16)
    assert [s.channels for s in m.modules() if isinstance(s, SqueezeExcite)] == [128, 128, 256, 256, 384, 384, 512, 512]
    assert m(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_user_errors_raise_value_error() -> None:
    with pytest.raises(ValueError, match="version"):
        cnnzoo.create_model("squeezenet1_0", version="2_0")
    with pytest.raises(ValueError, match="drop_rate"):
        cnnzoo.create_model("squeezenet1_0", drop_rate=1.5)
    with pytest.raises(ValueError, match="bypass"):
        Fire(96, 16, 64, 64, bypass=True)


def test_min_size_is_the_smallest_input_that_works() -> None:
    for name in ("squeezenet1_0", "squeezenet1_1"):
        m = cnnzoo.create_model(name).eval()
        size = cnnzoo.model_card(name).min_size
        with torch.no_grad():
            assert m(torch.randn(1, 3, size, size)).shape == (1, 1000)
            with pytest.raises(RuntimeError):
                m(torch.randn(1, 3, size - 1, size - 1))
