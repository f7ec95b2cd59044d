"""AlexNet: the 2012 paper's two-tower network and torchvision's single-tower layout."""

from __future__ import annotations

import pytest
import torch
import torchvision

import cnnzoo
from cnnzoo.analysis import count_mult_adds, count_params
from cnnzoo.errors import ConfigError
from cnnzoo.layers.local_response_norm import LocalResponseNorm
from cnnzoo.models.pretrained import assign_state_dict, weight_mapping


def _meta(name: str) -> torch.nn.Module:
    with torch.device("meta"):
        return cnnzoo.create_model(name)


def _paper_lrn(a: torch.Tensor, *, k: float = 2.0, n: int = 5, alpha: float = 1e-4, beta: float = 0.75) -> torch.Tensor:
    """§3.3 written out: b[i] = a[i] / (k + alpha * sum_{j=max(0, i-n/2)}^{min(N-1, i+n/2)} a[j]^2)^beta."""
    maps = a.shape[1]
    out = torch.empty_like(a)
    for i in range(maps):
        lo, hi = max(0, i - n // 2), min(maps - 1, i + n // 2)
        out[:, i] = a[:, i] / (k + alpha * (a[:, lo:hi + 1] ** 2).sum(1)) ** beta
    return out


def test_lrn_is_the_papers_formula_not_pytorchs() -> None:
    # Activations of the size conv1 gives on 0-255 inputs, so that the alpha term matters.
    a = torch.randn(2, 12, 3, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 100
    torch.testing.assert_close(LocalResponseNorm()(a), _paper_lrn(a))
    # PyTorch's own layer with the paper's numbers divides alpha by n: a different function.
    assert not torch.allclose(torch.nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)(a), _paper_lrn(a))
    # Per tower: each half of the maps is normalised on its own (the sums stop at the GPU's last map).
    grouped = LocalResponseNorm(groups=2)(a)
    torch.testing.assert_close(grouped, torch.cat([_paper_lrn(a[:, :6]), _paper_lrn(a[:, 6:])], 1))


def test_parameters_by_the_papers_layers() -> None:
    # §3.5 / Figure 2: weights (kernel area x input maps per GPU x kernels) + biases.
    conv1 = 11 * 11 * 3 * 96 + 96  # sees the whole image          34,944
    conv2 = 5 * 5 * 48 * 256 + 256  # own GPU's 48 conv1 maps        307,456
    conv3 = 3 * 3 * 256 * 384 + 384  # both GPUs' 256 conv2 maps     885,120
    conv4 = 3 * 3 * 192 * 384 + 384  # own GPU's 192 conv3 maps       663,936
    conv5 = 3 * 3 * 192 * 256 + 256  # own GPU's 192 conv4 maps       442,624
    fc6 = 6 * 6 * 256 * 4096 + 4096  # 37,752,832
    fc7 = 4096 * 4096 + 4096  # 16,781,312
    fc8 = 4096 * 1000 + 1000  # 4,097,000
    total = conv1 + conv2 + conv3 + conv4 + conv5 + fc6 + fc7 + fc8
    assert total == 60_965_224
    assert count_params(_meta("alexnet")) == total
    assert abs(total - cnnzoo.model_card("alexnet").params) / 60e6 < 0.02  # "60 million parameters" (§1)


def test_torchvision_layout_parameters() -> None:
    assert count_params(_meta("alexnet_tv")) == 61_100_840 == count_params(torchvision.models.alexnet())


def test_mult_adds() -> None:
    # Unit: one multiply-add. The paper publishes no figure; this is its layers at 227x227.
    paper = (55 * 55 * 96 * 11 * 11 * 3 + 27 * 27 * 256 * 5 * 5 * 48 + 13 * 13 * 384 * 3 * 3 * 256
             + 13 * 13 * 384 * 3 * 3 * 192 + 13 * 13 * 256 * 3 * 3 * 192 + 9216 * 4096 + 4096 * 4096 + 4096 * 1000)
    assert count_mult_adds(_meta("alexnet"), (3, 227, 227)) == paper == 724_406_816
    # torchvision publishes 0.714 GFLOPS (its "_ops", mult-adds in fact) for its layout at 224.
    tv = count_mult_adds(_meta("alexnet_tv"), (3, 224, 224))
    assert round(tv / 1e9, 3) == cnnzoo.model_card("alexnet_tv").mult_adds / 1e9 == 0.714


def test_two_towers_and_map_sizes() -> None:
    model = cnnzoo.create_model("alexnet").eval()
    convs = {name: getattr(model.features, name).conv for name in ("conv1", "conv2", "conv3", "conv4", "conv5")}
    assert {n: c.groups for n, c in convs.items()} == {"conv1": 1, "conv2": 2, "conv3": 1, "conv4": 2, "conv5": 2}
    # conv2's first 128 kernels (GPU 1) see only conv1's first 48 maps: changing GPU 2's maps
    # leaves them unchanged and changes the other 128.
    x = torch.randn(1, 96, 27, 27)
    y = x.clone()
    y[:, 48:] += 1.0
    with torch.no_grad():
        a, b = convs["conv2"](x), convs["conv2"](y)
    assert torch.equal(a[:, :128], b[:, :128]) and not torch.allclose(a[:, 128:], b[:, 128:])
    # The response normalisation of GPU 1's last map does not reach across to GPU 2's first.
    z = torch.rand(1, 96, 5, 5) * 100
    w = z.clone()
    w[:, 48] += 50
    assert torch.equal(model.features.lrn1(z)[:, 47], model.features.lrn1(w)[:, 47])
    # 227x227 gives Figure 2's 55x55 first map; the paper's stated 224 would not.
    with torch.no_grad():
        assert convs["conv1"](torch.zeros(1, 3, 227, 227)).shape[-1] == 55
        assert convs["conv1"](torch.zeros(1, 3, 224, 224)).shape[-1] == 54
        maps = model.forward_intermediates(torch.zeros(1, 3, 227, 227))
    assert [tuple(m.shape[1:]) for m in maps] == [(96, 27, 27), (256, 13, 13), (384, 13, 13), (384, 13, 13),
                                                  (256, 6, 6)]


def test_paper_initialisation_and_dropout_placement() -> None:
    torch.manual_seed(0)
    model = cnnzoo.create_model("alexnet")
    biases = {n: float(p.detach().mean()) for n, p in model.named_parameters() if n.endswith("bias")}
    assert biases == {"features.conv1.conv.bias": 0.0, "features.conv2.conv.bias": 1.0,
                      "features.conv3.conv.bias": 0.0, "features.conv4.conv.bias": 1.0,
                      "features.conv5.conv.bias": 1.0, "pre_logits.fc6.bias": 1.0, "pre_logits.fc7.bias": 1.0,
                      "fc8.bias": 0.0}
    assert abs(float(model.pre_logits.fc7.weight.detach().std()) - 0.01) < 1e-4
    # §4.2: dropout on the outputs of fc6 and fc7; torchvision drops their inputs.
    assert [n for n, _ in model.pre_logits.named_children()] == ["fc6", "act6", "drop6", "fc7", "act7", "drop7"]
    tv = cnnzoo.create_model("alexnet_tv", num_classes=0)
    assert [n for n, _ in tv.pre_logits.named_children()] == ["drop6", "fc6", "act6", "drop7", "fc7", "act7"]


@pytest.mark.parametrize("name", ["alexnet", "alexnet_tv"])
def test_min_size_is_the_smallest_input(name: str) -> None:
    card = cnnzoo.model_card(name)
    model = cnnzoo.create_model(name, num_classes=3).eval()
    with torch.no_grad():
        assert model(torch.zeros(1, 3, card.min_size, card.min_size)).shape == (1, 3)
        with pytest.raises(RuntimeError):
            model(torch.zeros(1, 3, card.min_size - 1, card.min_size - 1))


def test_parity_with_torchvision() -> None:
    torch.manual_seed(0)
    theirs = torchvision.models.alexnet(weights=None, num_classes=10).eval()
    ours = cnnzoo.create_model("alexnet_tv", num_classes=10).eval()
    report = assign_state_dict(ours, weight_mapping("alexnet_tv", "torchvision")(theirs.state_dict()), source="test")
    assert report.loaded == len(theirs.state_dict()) and not report.reset
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        assert (ours(x) - theirs(x)).abs().max() <= 1e-4


def test_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="towers"):
        cnnzoo.create_model("alexnet", towers=3)
    with pytest.raises(ConfigError, match="drop_rate"):
        cnnzoo.create_model("alexnet", drop_rate=1.0)
