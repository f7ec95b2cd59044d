"""DenseNet (Huang et al. 2016) against seed 002's table (paper Table 1), Table 2 and torchvision/timm."""

from __future__ import annotations

import pytest
import timm
import torch
import torchvision
from torch import nn

import cnnzoo
from cnnzoo.analysis import count_mult_adds, count_params
from cnnzoo.layers.attention import SqueezeExcite
from cnnzoo.layers.dense_block import DenseBlock, Transition
from cnnzoo.models.densenet import TABLE_1, TABLE_2_BC, cifar_blocks
from parity import logits_difference, randomise

TV = {"densenet121": 7_978_856, "densenet161": 28_681_000, "densenet169": 14_149_480, "densenet201": 20_013_928}


def _meta(name: str, **kwargs: object) -> nn.Module:
    with torch.device("meta"):
        return cnnzoo.create_model(name, **kwargs)


def densenet_bc_params(blocks: tuple[int, ...], k: int, *, imagenet: bool, classes: int) -> int:
    """Parameters of a DenseNet-BC written out from §3 (convolutions have no bias; BN: scale and shift)."""
    c = 2 * k  # the first convolution's 2k filters
    total = (7 * 7 * 3 * c + 2 * c) if imagenet else 3 * 3 * 3 * c  # 7x7/2 conv + BN, or 3x3 conv
    for i, n in enumerate(blocks):
        for _ in range(n):  # BN-ReLU-Conv(1x1, 4k)-BN-ReLU-Conv(3x3, k) on the c maps so far
            total += 2 * c + c * 4 * k + 2 * 4 * k + 9 * 4 * k * k
            c += k
        if i < len(blocks) - 1:  # transition: BN-ReLU-Conv(1x1, c/2)-AvgPool
            total += 2 * c + c * (c // 2)
            c //= 2
    return total + 2 * c + c * classes + classes  # final BN, classifier


@pytest.mark.parametrize("name", sorted(TV))
def test_parameters_and_mult_adds_equal_torchvisions(name: str) -> None:
    with torch.device("meta"):
        tv = getattr(torchvision.models, name)()
    m = _meta(name)
    assert count_params(m) == count_params(tv) == TV[name]
    k = 48 if name == "densenet161" else 32
    assert count_params(m) == densenet_bc_params(_blocks(name), k, imagenet=True, classes=1000)
    # torchvision's "_ops": mult-adds at 224x224 in G, 3 decimals (2.834 / 7.728 / 3.36 / 4.291)
    ops = torchvision.models.get_model_weights(name).IMAGENET1K_V1.meta["_ops"]
    assert round(count_mult_adds(m, (3, 224, 224)) / 1e9, 3) == ops


def _blocks(name: str) -> tuple[int, ...]:
    return {"densenet121": TABLE_1["DenseNet-121"], "densenet169": TABLE_1["DenseNet-169"],
            "densenet201": TABLE_1["DenseNet-201"], "densenet264": TABLE_1["DenseNet-264"],
            "densenet161": (6, 12, 36, 24)}[name]


def test_table_1_block_configurations() -> None:
    assert TABLE_1 == {"DenseNet-121": (6, 12, 24, 16), "DenseNet-169": (6, 12, 32, 32),
                       "DenseNet-201": (6, 12, 48, 32), "DenseNet-264": (6, 12, 64, 48)}
    # the name counts the layers with weights: first conv + 2 per dense layer + 3 transitions + classifier;
    # Table 1's DenseNet-264 column adds up to 265 (the name is one off; we build the table)
    depth = {name: 1 + 2 * sum(blocks) + 3 + 1 for name, blocks in TABLE_1.items()}
    assert depth == {"DenseNet-121": 121, "DenseNet-169": 169, "DenseNet-201": 201, "DenseNet-264": 265}


def test_densenet264_parameters_by_the_tables_arithmetic() -> None:
    # no library has it (timm's densenet264d has a deep stem): Table 1's column, written out
    expected = densenet_bc_params((6, 12, 64, 48), 32, imagenet=True, classes=1000)
    assert count_params(_meta("densenet264")) == expected == 33_337_704


def test_output_sizes_of_table_1_at_224() -> None:
    m = _meta("densenet121").eval()
    maps = m.forward_intermediates(torch.zeros(1, 3, 224, 224, device="meta"))
    # convolution 112, dense blocks (1)-(3) 56 / 28 / 14, dense block (4) 7 (after its BN-ReLU)
    assert [tuple(t.shape[1:]) for t in maps] == [(64, 112, 112), (256, 56, 56), (512, 28, 28),
                                                  (1024, 14, 14), (1024, 7, 7)]
    assert [(i.num_chs, i.reduction) for i in m.feature_info] == [(64, 2), (256, 4), (512, 8), (1024, 16), (1024, 32)]
    seen: dict[str, tuple[int, ...]] = {}
    for i in (1, 2, 3):
        m.features.get_submodule(f"transition{i}").register_forward_hook(
            lambda _m, _i, out, i=i: seen.__setitem__(f"transition{i}", tuple(out.shape[1:])))
    m(torch.zeros(1, 3, 224, 224, device="meta"))
    # transition layers: 1x1 conv halving the maps, 2x2 average pool, stride 2 (compression 0.5)
    assert seen == {"transition1": (128, 28, 28), "transition2": (256, 14, 14), "transition3": (512, 7, 7)}


@pytest.mark.parametrize("name", ["densenet121", "densenet169", "densenet201", "densenet264"])
def test_blocks_and_transitions_report_the_tables_cells(name: str) -> None:
    m = _meta(name)
    blocks = [b for b in m.modules() if isinstance(b, DenseBlock)]
    column = TABLE_1["DenseNet-" + name.removeprefix("densenet")]
    assert [b.paper_columns() for b in blocks] == [{"layers": f"[1x1 conv; 3x3 conv] x {n}"} for n in column]
    transitions = [t for t in m.modules() if isinstance(t, Transition)]
    assert [t.paper_columns() for t in transitions] == [{"layers": "1x1 conv; 2x2 average pool, stride 2"}] * 3


def test_cifar_densenet_bc_parameters_of_table_2() -> None:
    # Table 2: DenseNet-BC (L=100, k=12) 0.8M; (L=250, k=24) 15.3M; (L=190, k=40) 25.6M, 10 classes
    assert cifar_blocks(100) == (16, 16, 16) and cifar_blocks(250) == (41, 41, 41) and cifar_blocks(190) == (31, 31, 31)
    published = {100: 0.8, 250: 15.3, 190: 25.6}
    exact = {100: 769_162, 250: 15_324_406, 190: 25_624_430}
    for depth, k in TABLE_2_BC.items():
        m = _meta("densenet_bc_100", growth_rate=k, block_config=cifar_blocks(depth))
        assert count_params(m) == densenet_bc_params(cifar_blocks(depth), k, imagenet=False, classes=10) == exact[depth]
        assert round(exact[depth] / 1e6, 1) == published[depth]
    assert cnnzoo.model_card("densenet_bc_100").params == 800_000


def test_cifar_maps_are_32_16_8() -> None:
    m = cnnzoo.create_model("densenet_bc_100").eval()
    with torch.no_grad():
        maps = m.forward_intermediates(torch.randn(1, 3, 32, 32))
    # 2k = 24 maps in, + 16 x 12 per block; transitions halve: 216 -> 108, 300 -> 150
    assert [tuple(t.shape[1:]) for t in maps] == [(24 + 16 * 12, 32, 32), (108 + 16 * 12, 16, 16),
                                                  (150 + 16 * 12, 8, 8)]
    assert m.num_features == 342


def _tv_legacy(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """torchvision's published files spell `norm1` as `norm.1` (its first release's names)."""
    out = {}
    for key, value in state.items():
        for part in ("norm1", "conv1", "norm2", "conv2"):
            if f".{part}." in key and ".denselayer" in key:
                key = key.replace(f".{part}.", f".{part[:-1]}.{part[-1]}.")
        out[key] = value
    return out


@pytest.mark.parametrize("name", sorted(TV))
def test_torchvision_weights_give_the_same_logits(name: str) -> None:
    torch.manual_seed(0)
    tv = randomise(getattr(torchvision.models, name)(num_classes=10))
    state = _tv_legacy(tv.state_dict())
    assert any(".norm.1." in k for k in state)
    assert logits_difference(name, tv, "torchvision", size=40, state=state, num_classes=10) <= 1e-4


def test_timm_weights_give_the_same_logits() -> None:
    torch.manual_seed(0)
    tm = randomise(timm.create_model("densenet121", pretrained=False, num_classes=10))
    assert logits_difference("densenet121", tm, "timm", size=40, num_classes=10) <= 1e-4


def test_squeeze_excite_slots_sit_on_each_dense_layers_new_maps() -> None:
    m = cnnzoo.create_model("densenet_bc_100", se_reduction=4)
    se = [s for s in m.modules() if isinstance(s, SqueezeExcite)]
    assert len(se) == 48 and all(s.channels == 12 for s in se)
    assert m(torch.randn(2, 3, 8, 8)).shape == (2, 10)


def test_dropout_after_every_convolution_but_the_first() -> None:
    m = cnnzoo.create_model("densenet_bc_100", drop_rate=0.2)
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert not torch.equal(m.train()(x), m(x))
        assert torch.equal(m.eval()(x), m(x))


@pytest.mark.parametrize("name", ["densenet121", "densenet_bc_100"])
def test_min_size_is_the_smallest_input_that_works(name: str) -> None:
    m = cnnzoo.create_model(name).eval()
    card = cnnzoo.model_card(name)
    with torch.no_grad():
        assert m(torch.randn(1, 3, card.min_size, card.min_size)).shape == (1, card.num_classes)
        with pytest.raises(RuntimeError):
            m(torch.randn(1, 3, card.min_size - 1, card.min_size - 1))


def test_user_errors_raise_value_error() -> None:
    with pytest.raises(ValueError, match="6n \\+ 4"):
        cifar_blocks(101)
    with pytest.raises(ValueError, match="compression"):
        cnnzoo.create_model("densenet121", compression=0.0)
    with pytest.raises(ValueError, match="stem"):
        cnnzoo.create_model("densenet121", stem="deep")
    with pytest.raises(ValueError, match="block_config"):
        cnnzoo.create_model("densenet121", block_config=())
