"""Seed 001's gender-classification networks FCNN-1/2/3, CNN-1, CNN-2 (neon layer lists)."""

from __future__ import annotations

import pytest
import torch

import cnnzoo
from cnnzoo.analysis import count_mult_adds, count_params
from cnnzoo.errors import ConfigError

PIXELS = 3 * 128 * 128  # the flattened 128x128 RGB input the FCNNs' first Affine layer reads

# Seed 001's tables, layer by layer; neon adds no biases unless given a bias initialiser.
PARAMS = {
    "fcnn_1": PIXELS * 128 + 128 * 2,  # Affine(128), Affine(2)
    "fcnn_2": PIXELS * 128 + 128 * 64 + 64 * 2,  # Affine(128), Affine(64), Affine(2)
    "fcnn_3": PIXELS * 400 + 400 * 50 + 50 * 2,  # Affine(400), Affine(50), Affine(2)
    # Conv((3,3,32)), Conv((3,3,64)), Affine(2) on the 64 x 32 x 32 map after two 3x3/2 pools
    "cnn_1": 3 * 3 * 3 * 32 + 3 * 3 * 32 * 64 + 64 * 32 * 32 * 2,
    # Conv((3,3,32)), Conv((3,3,32)), Conv((1,1,64)), Conv((3,3,64)), Conv((1,1,128)), Conv((3,3,128)),
    # Conv((3,3,2)), Conv((1,1,2)); a BatchNorm (scale + shift) after all but the first; Affine(2) on 2 pooled maps
    "cnn_2": (3 * 3 * 3 * 32 + 3 * 3 * 32 * 32 + 32 * 64 + 3 * 3 * 64 * 64 + 64 * 128 + 3 * 3 * 128 * 128
              + 3 * 3 * 128 * 2 + 2 * 2 + 2 * (32 + 64 + 64 + 128 + 128 + 2 + 2) + 2 * 2),
}


def _meta(name: str, **kwargs: object) -> torch.nn.Module:
    with torch.device("meta"):
        return cnnzoo.create_model(name, **kwargs)


@pytest.mark.parametrize("name", PARAMS)
def test_parameters_by_the_layer_lists(name: str) -> None:
    assert count_params(_meta(name)) == PARAMS[name]
    assert PARAMS == {"fcnn_1": 6_291_712, "fcnn_2": 6_299_776, "fcnn_3": 19_680_900, "cnn_1": 150_368,
                      "cnn_2": 207_792}


def test_biases_on_request() -> None:
    assert count_params(_meta("fcnn_1", bias=True)) == PARAMS["fcnn_1"] + 128 + 2
    assert count_params(_meta("cnn_1", bias=True)) == PARAMS["cnn_1"] + 32 + 64 + 2


def test_mult_adds_at_128() -> None:
    # Unit: one multiply-add; the lecture publishes none. Output side x side x kernels x (k x k x input maps).
    fcnn_1 = PIXELS * 128 + 128 * 2
    cnn_1 = 128 * 128 * 32 * 27 + 64 * 64 * 64 * 288 + 65536 * 2  # "same" dilated convs at 128 and 64
    cnn_2 = (126 * 126 * 32 * 27 + 59 * 59 * 32 * 288 + 59 * 59 * 64 * 32 + 57 * 57 * 64 * 576 + 57 * 57 * 128 * 64
             + 55 * 55 * 128 * 1152 + 53 * 53 * 2 * 1152 + 53 * 53 * 2 * 2 + 2 * 2)  # valid convs; pool 5x5/2 -> 61
    for name, expected in (("fcnn_1", fcnn_1), ("cnn_1", cnn_1), ("cnn_2", cnn_2)):
        assert count_mult_adds(_meta(name), (3, 128, 128)) == expected


def test_map_sizes() -> None:
    cnn_1 = cnnzoo.create_model("cnn_1").eval()
    x = torch.zeros(1, 3, 128, 128)
    with torch.no_grad():
        assert cnn_1.features.conv1(x).shape == (1, 32, 128, 128)  # padding 2, dilation 2: size kept
        assert [tuple(m.shape[1:]) for m in cnn_1.forward_intermediates(x)] == [(32, 64, 64), (64, 32, 32)]
        cnn_2 = cnnzoo.create_model("cnn_2").eval()
        assert [tuple(m.shape[1:]) for m in cnn_2.forward_intermediates(x)] == [(32, 61, 61), (2, 53, 53)]
        fcnn = cnnzoo.create_model("fcnn_2").eval()
        assert torch.equal(fcnn.forward_features(x), x)  # no convolutional part: the image itself
        assert fcnn.forward_head(x, pre_logits=True).shape == (1, 64)


def test_neon_layer_order_and_activations() -> None:
    cnn_2 = cnnzoo.create_model("cnn_2")
    assert [n for n, _ in cnn_2.features.conv1.named_children()] == ["conv", "act"]  # no BatchNorm after the first
    assert [n for n, _ in cnn_2.features.conv2.named_children()] == ["conv", "act", "bn"]  # Conv(..., Explin), BatchNorm
    assert isinstance(cnn_2.features.conv2.act, torch.nn.ELU) and cnn_2.features.conv2.bn.eps == 1e-3
    assert cnn_2.features.conv2.conv.bias is None and cnn_2.output.bias is None
    assert cnn_2.features.conv7.paper_columns() == {"neon layer": "Conv((3,3,2), Explin), BatchNorm"}
    fcnn_3 = cnnzoo.create_model("fcnn_3")
    assert [type(m.act) for m in fcnn_3.hidden] == [torch.nn.ReLU, torch.nn.Sigmoid]  # Rectlin, Logistic
    # CNN-1's DataTransform(Normalizer(divisor=128)): 0-255 pixels / 128 = (0-1 pixels) / (128 / 255).
    assert cnnzoo.model_card("cnn_1").std == (128 / 255,) * 3 and cnnzoo.model_card("cnn_1").mean == (0.0,) * 3


def test_input_sizes() -> None:
    cnn_2 = cnnzoo.create_model("cnn_2").eval()
    assert cnnzoo.model_card("cnn_2").min_size == 23
    with torch.no_grad():
        assert cnn_2(torch.zeros(1, 3, 23, 23)).shape == (1, 2)  # global pooling: any size from 23 up
        with pytest.raises(RuntimeError):
            cnn_2(torch.zeros(1, 3, 22, 22))
        # The flattening networks work at the size they are built for, and say so otherwise.
        with pytest.raises(ValueError, match="img_size"):
            cnnzoo.create_model("fcnn_1")(torch.zeros(1, 3, 64, 64))
        assert cnnzoo.create_model("cnn_1", img_size=64)(torch.zeros(1, 3, 64, 64)).shape == (1, 2)
    assert cnnzoo.model_card("fcnn_1").min_size == cnnzoo.model_card("fcnn_1").input_size[1] == 128
    with pytest.raises(ConfigError, match="larger input"):
        cnnzoo.create_model("cnn_2", img_size=22)
    with pytest.raises(ConfigError, match="network must be one of"):
        cnnzoo.create_model("cnn_1", network="CNN-3")
