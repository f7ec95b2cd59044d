"""`--init` schemes against their formulas, `--init-from` copying by name and shape, `--se` in a run."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

import cnnzoo
from cnnzoo.errors import ConfigError
from cnnzoo.train.checkpoint import save_weights
from cnnzoo.train.init import init_from, initialise
from cnnzoo.train.model_options import rebuild_options


def _mlp() -> nn.Sequential:
    return nn.Sequential(nn.Linear(800, 400), nn.BatchNorm1d(400), nn.Linear(400, 300))


@pytest.mark.parametrize("scheme,var", [("he", lambda n, m: 2 / n), ("lecun", lambda n, m: 1 / n),
                                        ("xavier", lambda n, m: 2 / (n + m))])
def test_scheme_variances(scheme: str, var) -> None:
    torch.manual_seed(0)
    net = _mlp()
    initialise(net, scheme, name="mlp")
    w = net[0].weight
    assert abs(w.var().item() / var(800, 400) - 1) < 0.03  # 320,000 draws
    assert abs(w.mean().item()) < 3 * math.sqrt(var(800, 400) / w.numel())
    assert torch.equal(net[0].bias, torch.zeros(400)) and torch.equal(net[1].weight, torch.ones(400))


def test_orthogonal_rows() -> None:
    net = _mlp()
    initialise(net, "orthogonal", name="mlp")
    w = net[2].weight  # (300, 400): orthonormal rows
    torch.testing.assert_close(w @ w.T, torch.eye(300), atol=1e-4, rtol=0)


def test_paper_init_lenet_and_alexnet_biases() -> None:
    model = cnnzoo.create_model("lenet5")
    assert "Appendix A" in initialise(model, "paper", name="lenet5")
    w = model.c1[0].weight  # fan-in 25: U(-2.4/25, 2.4/25)
    assert w.abs().max() <= 2.4 / 25 and w.abs().max() > 0.9 * 2.4 / 25
    alex = cnnzoo.create_model("alexnet", num_classes=10)
    initialise(alex, "paper", name="alexnet")
    biases = {n: p.detach() for n, p in alex.named_parameters() if n.endswith("bias")}
    ones = {n for n, b in biases.items() if torch.all(b == 1.0)}
    assert ones and all(any(k in n for k in ("conv2", "conv4", "conv5", "fc6", "fc7")) for n in ones)
    conv_w = [p for n, p in alex.named_parameters() if n.endswith("weight") and p.ndim == 4]
    assert abs(conv_w[1].std().item() - 0.01) < 0.001


def test_highway_gates_survive_reinit() -> None:
    model = cnnzoo.create_model("highway_cifar")
    initialise(model, "he", name="highway_cifar")
    assert all(torch.equal(b, torch.full_like(b, -1.0)) for b in model.gates())


def test_init_from_copies_matching_layers(tmp_path: Path) -> None:
    torch.manual_seed(0)
    shallow = cnnzoo.create_model("lenet5", num_classes=10)
    save_weights(tmp_path / "best.safetensors", shallow.state_dict(), {"model": "lenet5"})
    deeper = cnnzoo.create_model("lenet5", num_classes=5)  # another head: the classifier does not match
    cnnzoo.layers.attention.add_squeeze_excite(deeper, 4)
    report = init_from(deeper, tmp_path / "best.safetensors")
    assert torch.equal(deeper.c1[0].weight, shallow.c1[0].weight)
    assert not torch.equal(deeper.output.bias[:5], shallow.output.bias[:5])
    assert "output.weight" in report.skipped and "c5.0.weight" in report.copied
    assert "stage_se.c1.fc1" in str(report)
    with pytest.raises(ConfigError, match="init-from"):
        init_from(deeper, tmp_path / "missing")


def test_checkpoint_of_an_se_run_rebuilds_with_se() -> None:
    model = rebuild_options(cnnzoo.create_model("lenet5", num_classes=3), {"config": {"se": 2}})
    assert len(model.stage_se) == len(model.feature_info)
