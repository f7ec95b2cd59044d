"""Filters are the model's weights; per-layer statistics are the responses and gradients."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from cnnzoo.cli import main
from cnnzoo.interpret import layer_filters, layer_statistics
from cnnzoo.interpret.filters import channel_grid, rgb_tiles
from cnnzoo.models import create_model
from cnnzoo.train.inference import open_model


def test_lenet5_first_layer_filters_are_its_trained_weights(trained_run: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    stored = load_file(str(trained_run / "checkpoints" / "best.safetensors"))["c1.0.weight"]  # (6, 1, 5, 5)
    f = layer_filters(open_model(trained_run, device=torch.device("cpu")).model)
    assert f.layer == "c1.0" and torch.equal(f.weight, stored)
    grid = channel_grid(f, max_out=6, max_in=1)  # tiles stacked with one NaN row between them
    for k in range(6):
        tile = torch.from_numpy(grid[k * 6:k * 6 + 5])
        assert torch.allclose(tile * stored[k].abs().max(), stored[k, 0], atol=1e-6)
    out = tmp_path / "f"
    assert main(["explain", "filters", str(trained_run), "--out", str(out)]) == 0
    assert capsys.readouterr().out.split() == [str(out / "filters_c1.0.png"), str(out / "filters.json")]
    meta = json.loads((out / "filters.json").read_text())
    assert meta["shape"] == [6, 1, 5, 5]
    assert meta["abs_max_per_kernel"] == pytest.approx(stored.flatten(1).abs().amax(1).tolist())


def test_rgb_first_layer_and_deeper_layers() -> None:
    model = create_model("resnet20")
    f = layer_filters(model)
    w = model.stem.conv1.weight.detach()
    assert f.layer == "stem.conv1" and f.rgb
    tiles = torch.from_numpy(rgb_tiles(f))  # (16, 3, 3, 3) as (out, kh, kw, rgb), 0.5 = zero weight
    expected = (w / w.flatten(1).abs().amax(1)[:, None, None, None] + 1) / 2
    assert torch.allclose(tiles, expected.permute(0, 2, 3, 1), atol=1e-6)
    assert layer_filters(model, "layer2").layer == "layer2.0.conv1"
    assert layer_filters(model, 1).layer == "layer1.0.conv1"  # feature_info index 1 = layer1


def test_layer_statistics_responses_after_bn_and_weight_gradients(squares_net) -> None:
    model, held_out = squares_net
    x, y = held_out.inputs()[:16], held_out.labels[:16]
    rows = layer_statistics(model, x, y)
    assert [(r.layer, r.response_at) for r in rows] == [
        ("conv1.0", "conv1.1"), ("conv2.0", "conv2.1"), ("conv3.0", "conv3.1"), ("fc", "fc")]
    bn_out = model.conv2[1](model.conv2[0](model.conv1(torch.cat([x, *_coords(x)], 1))))
    assert rows[1].std == pytest.approx(bn_out.std().item(), rel=1e-4)
    weights = [model.conv1[0].weight, model.conv2[0].weight, model.conv3[0].weight, model.fc.weight]
    with torch.enable_grad():
        grads = torch.autograd.grad(F.cross_entropy(model(x), y), weights)
    assert [r.grad_norm for r in rows] == pytest.approx([g.norm().item() for g in grads], rel=1e-4)
    assert all(p.grad is None and p.requires_grad for p in model.parameters())


def _coords(x: torch.Tensor) -> list[torch.Tensor]:
    n, _, h, w = x.shape
    return [torch.linspace(-1, 1, h).view(1, 1, h, 1).expand(n, 1, h, w),
            torch.linspace(-1, 1, w).view(1, 1, 1, w).expand(n, 1, h, w)]


def test_cli_stats_writes_csv_for_each_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s"
    assert main(["explain", "stats", "lenet5", "--with", "lenet5_modern", "--data", "digits",
                 "--batch-size", "16", "--out", str(out)]) == 0
    assert capsys.readouterr().out.split() == [str(out / n) for n in ("stats.png", "stats.csv", "stats.json")]
    lines = (out / "stats.csv").read_text().splitlines()
    assert lines[0] == "model,index,layer,response_at,kind,shape,mean,std,weight_norm,grad_norm"
    assert sum(ln.startswith("lenet5,") for ln in lines) == 5  # c1, c3, c5, f6, output
    assert sum(ln.startswith("lenet5_modern,") for ln in lines) == 5
    assert all(ln.split(",")[-1] for ln in lines[1:])  # every layer has a gradient norm
    assert main(["explain", "activations", "lenet5", "--data", "digits", "--batch-size", "8", "--out", str(out)]) == 0
    assert not any(ln.split(",")[-1] for ln in (out / "activations.csv").read_text().splitlines()[1:])


def test_batch_statistics_leave_the_model_as_it_was(squares_net) -> None:
    model, held_out = squares_net
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = held_out.inputs()[:16]
    rows = layer_statistics(model, x, gradients=False, batch_stats=True)
    twin = copy.deepcopy(model).train()  # BN on the batch's own statistics
    expected = twin.conv1[1](twin.conv1[0](torch.cat([x, *_coords(x)], 1)))
    assert rows[0].std == pytest.approx(expected.std().item(), rel=1e-4)
    assert not model.training and all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
