"""VGG: configurations A, A-LRN, B, C, D, E of Table 1, with and without BN, and torchvision's aliases."""

from __future__ import annotations

import pytest
import torch
import torchvision

import cnnzoo
from cnnzoo.analysis import count_mult_adds, count_params
from cnnzoo.errors import ConfigError
from cnnzoo.layers.local_response_norm import LocalResponseNorm
from cnnzoo.models.pretrained import assign_state_dict, weight_mapping
from cnnzoo.models.vgg import TABLE2_PARAMS_M


def _meta(name: str, **kwargs: object) -> torch.nn.Module:
    with torch.device("meta"):
        return cnnzoo.create_model(name, **kwargs)


def conv(k: int, c_in: int, c_out: int) -> int:
    return k * k * c_in * c_out + c_out  # weights + biases


FC = conv(1, 7 * 7 * 512, 4096) + conv(1, 4096, 4096) + conv(1, 4096, 1000)  # FC-4096, FC-4096, FC-1000
# Table 1, column by column. A: conv3-64 | conv3-128 | conv3-256 x2 | conv3-512 x2 | conv3-512 x2.
A = (conv(3, 3, 64) + conv(3, 64, 128) + conv(3, 128, 256) + conv(3, 256, 256) + conv(3, 256, 512)
     + conv(3, 512, 512) + 2 * conv(3, 512, 512) + FC)
B = A + conv(3, 64, 64) + conv(3, 128, 128)  # B adds a second conv3-64 and conv3-128
C = B + conv(1, 256, 256) + 2 * conv(1, 512, 512)  # C adds conv1-256, conv1-512, conv1-512
D = B + conv(3, 256, 256) + 2 * conv(3, 512, 512)  # D adds conv3-256, conv3-512, conv3-512
E = D + conv(3, 256, 256) + 2 * conv(3, 512, 512)  # E adds one more of each
COUNTS = {"vgg_a": A, "vgg_a_lrn": A, "vgg_b": B, "vgg_c": C, "vgg_d": D, "vgg_e": E}
CONV_CHANNELS = {"vgg_a": 64 + 128 + 2 * 256 + 4 * 512, "vgg_b": 2 * 64 + 2 * 128 + 2 * 256 + 4 * 512,
                 "vgg_d": 2 * 64 + 2 * 128 + 3 * 256 + 6 * 512, "vgg_e": 2 * 64 + 2 * 128 + 4 * 256 + 8 * 512}
# torchvision's num_params of its weights.
TORCHVISION_PARAMS = {"vgg11": 132_863_336, "vgg13": 133_047_848, "vgg16": 138_357_544, "vgg19": 143_667_240,
                      "vgg11_bn": 132_868_840, "vgg13_bn": 133_053_736, "vgg16_bn": 138_365_992,
                      "vgg19_bn": 143_678_248}
ALIASES = {"vgg11": "vgg_a", "vgg13": "vgg_b", "vgg16": "vgg_d", "vgg19": "vgg_e"}


@pytest.mark.parametrize("name", COUNTS)
def test_parameters_by_table_1_round_to_table_2(name: str) -> None:
    assert count_params(_meta(name)) == COUNTS[name]
    config = {"vgg_a": "A", "vgg_a_lrn": "A-LRN", "vgg_b": "B", "vgg_c": "C", "vgg_d": "D", "vgg_e": "E"}[name]
    assert round(COUNTS[name] / 1e6) == TABLE2_PARAMS_M[config]  # Table 2: 133, 133, 133, 134, 138, 144
    assert cnnzoo.model_card(name).params == TABLE2_PARAMS_M[config] * 1_000_000


@pytest.mark.parametrize("alias", ALIASES)
def test_aliases_are_torchvisions_networks(alias: str) -> None:
    for suffix in ("", "_bn"):
        ours, plain = _meta(alias + suffix), _meta(ALIASES[alias] + suffix)
        assert count_params(ours) == count_params(plain) == TORCHVISION_PARAMS[alias + suffix]
        assert list(ours.state_dict()) == list(plain.state_dict())
    # BN adds a scale and a shift per conv channel (the conv keeps its bias, as in torchvision).
    assert TORCHVISION_PARAMS[alias + "_bn"] - TORCHVISION_PARAMS[alias] == 2 * CONV_CHANNELS[ALIASES[alias]]


def test_mult_adds() -> None:
    # Unit: one multiply-add. torchvision publishes these ("_ops", GFLOPS that are mult-adds) at 224x224.
    published = {"vgg_a": 7.609, "vgg_b": 11.308, "vgg_d": 15.47, "vgg_e": 19.632}
    for name, gmacs in published.items():
        assert round(count_mult_adds(_meta(name), (3, 224, 224)) / 1e9, 3) == gmacs
    # seed 002 / MobileNet Table 8: VGG 16, 15,300 million mult-adds (1.1% below the layers' 15,470M:
    # MobileNet's figure is rounded and leaves out the FC layers' share; 2% tolerance).
    assert abs(count_mult_adds(_meta("vgg16"), (3, 224, 224)) - 15_300e6) / 15_300e6 < 0.02
    # C = B + three 1x1 convolutions at 56x56, 28x28 and 14x14; LRN and BN add no mult-adds.
    c_extra = 56 * 56 * 256 * 256 + 28 * 28 * 512 * 512 + 14 * 14 * 512 * 512
    assert count_mult_adds(_meta("vgg_c"), (3, 224, 224)) == count_mult_adds(_meta("vgg_b"), (3, 224, 224)) + c_extra
    assert count_mult_adds(_meta("vgg_a_lrn_bn"), (3, 224, 224)) == count_mult_adds(_meta("vgg_a"), (3, 224, 224))


def test_table_1_layers() -> None:
    c = _meta("vgg_c", num_classes=0)
    assert [s.paper_columns()["layers"] for s in c.stages] == [
        "conv3-64, conv3-64, maxpool", "conv3-128, conv3-128, maxpool", "conv3-256, conv3-256, conv1-256, maxpool",
        "conv3-512, conv3-512, conv1-512, maxpool", "conv3-512, conv3-512, conv1-512, maxpool"]
    assert c.stages[2].conv3.conv.kernel_size == (1, 1) and c.stages[2].conv3.conv.padding == (0, 0)
    lrn = _meta("vgg_a_lrn", num_classes=0).stages[0]
    assert lrn.paper_columns() == {"layers": "conv3-64, LRN, maxpool"}
    assert [n for n, _ in lrn.named_children()] == ["conv1", "lrn", "pool"]
    assert isinstance(lrn.lrn, LocalResponseNorm) and (lrn.lrn.k, lrn.lrn.size, lrn.lrn.alpha, lrn.lrn.beta) == (
        2.0, 5, 1e-4, 0.75)  # §2.1: Krizhevsky et al.'s parameters


def test_min_size_is_32_and_any_larger_input_works() -> None:
    model = _meta("vgg_a", num_classes=3).to_empty(device="cpu").eval()  # shapes only: weights left unset
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 32, 32)).shape == (1, 3)
        assert model(torch.zeros(1, 3, 48, 80)).shape == (1, 3)  # adaptive 7x7 pooling: any size >= 32
        with pytest.raises(RuntimeError):
            model(torch.zeros(1, 3, 31, 31))  # the fifth max-pool gets a 1x1 map
    assert cnnzoo.model_card("vgg_a").min_size == 32


def _random_state(model: torch.nn.Module, shared: dict[tuple[int, ...], torch.Tensor]) -> dict[str, torch.Tensor]:
    """Random parameters and BN statistics for `model` (which may be on the meta device), scaled
    so that logits stay O(1).

    The two 100M-parameter FC layers are drawn once per shape and shared between the tests:
    drawing them costs seconds on the 2-core test machine (the same reason the models are built
    on the meta device rather than initialised by their constructors).
    """
    g = torch.Generator().manual_seed(0)
    state = {}
    for name, t in model.state_dict().items():
        if name.endswith("num_batches_tracked"):
            state[name] = torch.zeros((), dtype=torch.long)
        elif name.endswith("running_var"):
            state[name] = torch.rand(t.shape, generator=g) + 0.5
        elif t.dim() > 1:  # weights: N(0, 2 / fan_in)
            big = t.numel() > 10_000_000
            if not big or tuple(t.shape) not in shared:
                w = torch.randn(t.shape, generator=g) * (2 / t[0].numel()) ** 0.5
                shared.update({tuple(t.shape): w} if big else {})
            state[name] = shared[tuple(t.shape)] if big else w
        else:  # biases, BN scale/shift, running means
            state[name] = torch.randn(t.shape, generator=g) * 0.1 + (1.0 if name.endswith("bn.weight") else 0.0)
    return state


_SHARED: dict[tuple[int, ...], torch.Tensor] = {}


@pytest.mark.parametrize("name", ["vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn"])
def test_parity_with_torchvision(name: str) -> None:
    with torch.device("meta"):
        theirs = getattr(torchvision.models, name)(weights=None, num_classes=10)
        ours = cnnzoo.create_model(name, num_classes=10)
    theirs.load_state_dict(_random_state(theirs, _SHARED), assign=True)
    ours = ours.to_empty(device="cpu")
    report = assign_state_dict(ours, weight_mapping(name, "torchvision")(theirs.state_dict()), source="test")
    assert report.loaded == len(theirs.state_dict()) and not report.reset
    plain = name.removesuffix("_bn")  # vgg16 and vgg_d share the mapping
    assert weight_mapping(ALIASES[plain] + name[len(plain):], "torchvision") is weight_mapping(name, "torchvision")
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert (ours.eval()(x) - theirs.eval()(x)).abs().max() <= 1e-4


def test_bad_config() -> None:
    with pytest.raises(ConfigError, match="config must be one of"):
        cnnzoo.create_model("vgg_a", config="F")
    with pytest.raises(ConfigError, match="drop_rate"):
        cnnzoo.create_model("vgg_a", drop_rate=-0.1)
