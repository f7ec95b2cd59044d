"""Gradient-flow measurements against torch.autograd, and the experiment's folder on a tiny setting."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from cnnzoo.experiments.deep_nets import DeepConvNet, layer_statistics
from cnnzoo.experiments.gradflow import DESIGNS, GradflowSettings, run_gradflow


@pytest.mark.parametrize("design", DESIGNS)
def test_gradient_norms_equal_autograd(design: str) -> None:
    torch.manual_seed(0)
    model = DeepConvNet(depth=5, width=3, activation="tanh", bn="bn" in design, skip="skip" in design).train()
    x, y = torch.randn(4, 1, 6, 6), torch.tensor([0, 1, 2, 3])
    stats = layer_statistics(model, x, y)
    # independently: gradients of the same loss with torch.autograd.grad, responses by hand
    torch.manual_seed(0)
    twin = DeepConvNet(depth=5, width=3, activation="tanh", bn="bn" in design, skip="skip" in design).train()
    grads = torch.autograd.grad(F.cross_entropy(twin(x), y), [c.weight for c in twin.convs])
    assert [s["grad_norm"] for s in stats] == pytest.approx([float(g.norm()) for g in grads], rel=1e-5)
    h = torch.tanh(twin.stem(x))
    first = twin.norms[0](twin.convs[0](h))  # the first layer's response: after BN, before tanh
    assert stats[0]["response_std"] == pytest.approx(first.detach().std().item(), rel=1e-5)
    assert len(stats) == 5 and [s["layer"] for s in stats] == [1, 2, 3, 4, 5]


def test_skip_connections_are_identities_every_two_layers() -> None:
    model = DeepConvNet(depth=4, width=2, activation="relu", bn=False, skip=True)
    for conv in model.convs:  # zero residual branches: the stack is the identity
        torch.nn.init.zeros_(conv.weight)
        torch.nn.init.zeros_(conv.bias)
    x = torch.randn(1, 1, 5, 5)
    h = torch.relu(model.stem(x))
    assert torch.allclose(model(x), model.fc(h.mean((2, 3))))


def test_experiment_folder_and_reuse(tmp_path: Path) -> None:
    settings = GradflowSettings(data="digits", img_size=8, depth=4, width=4, steps=3, batch_size=16,
                                limit_train=200, limit_eval=100, activations="sigmoid,relu", out=str(tmp_path / "g"),
                                device="cpu")
    log: list[str] = []
    folder = run_gradflow(settings, log=log.append)
    for name in ("experiment.yaml", "layers.csv", "results.csv", "gradflow.png", "summary.md"):
        assert (folder.path / name).is_file(), name
    assert len(list((folder.path / "runs").glob("*/stats.json"))) == 8
    again: list[str] = []
    run_gradflow(settings, log=again.append)
    assert len(again) == 8 and all("reused" in line for line in again)
