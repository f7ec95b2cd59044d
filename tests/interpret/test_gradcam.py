"""Grad-CAM finds the evidence where it is: a bright square whose place is the class."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from cnnzoo.cli import main
from cnnzoo.errors import CnnzooError
from cnnzoo.interpret import LayerError, explain_cam, grad_cam, mass_in_box, peak
from cnnzoo.interpret.layers import tap
from cnnzoo.models import create_model


def _inside(points: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    x, y = points[:, 0], points[:, 1]
    return (boxes[:, 0] <= y) & (y < boxes[:, 2]) & (boxes[:, 1] <= x) & (x < boxes[:, 3])


@pytest.mark.parametrize("method", ["gradcam", "gradcam++"])
def test_heat_map_peaks_inside_the_square(squares_net, method: str) -> None:
    model, held_out = squares_net
    result = explain_cam(model, held_out.inputs(), method=method)
    assert result.layer == "conv3"  # the last feature_info stage with a spatial map
    assert (result.targets == held_out.labels).float().mean() > 0.95
    hits = _inside(peak(result.heat), held_out.boxes).float().mean().item()
    assert hits >= 0.9, f"{method} peaks inside the square on only {hits:.0%} of held-out images"


def test_frozen_parameters_batches_and_in_place_relu_give_the_same_maps(squares_net) -> None:
    model, held_out = squares_net
    x = held_out.inputs()[:6]
    batch = grad_cam(model, x, target=held_out.labels[:6])
    flags = [p.requires_grad for p in model.parameters()]
    for p in model.parameters():
        p.requires_grad_(False)
    try:
        single = torch.cat([grad_cam(model, x[i:i + 1], target=int(held_out.labels[i])) for i in range(6)])
    finally:
        for p, f in zip(model.parameters(), flags, strict=True):
            p.requires_grad_(f)
    assert batch.shape == (6, 32, 32) and torch.allclose(batch, single, atol=1e-5)
    assert float(batch.min()) >= 0 and torch.allclose(batch.flatten(1).amax(1), torch.ones(6))
    assert all(p.grad is None for p in model.parameters())
    # the in-place ReLU after conv3's batch norm must not overwrite the map read there
    with tap(model, "conv3.1") as t:
        model(x)
    assert t.output is not None and float(t.output.detach().min()) < 0


def test_mass_in_box() -> None:
    heat = torch.zeros(1, 10, 10)
    heat[0, 2:4, 6:8] = 1.0
    assert mass_in_box(heat, (0.6, 0.2, 0.8, 0.4)).item() == pytest.approx(1.0)
    assert mass_in_box(heat, (0.0, 0.0, 0.5, 1.0)).item() == pytest.approx(0.0)
    assert peak(heat).tolist() == [[6, 2]]


def test_unknown_layer_lists_the_valid_ones_and_a_flat_layer_is_refused(squares_net) -> None:
    model, held_out = squares_net
    x = held_out.inputs()[:2]
    with pytest.raises(LayerError) as e:
        grad_cam(model, x, layer="conv9")
    text = str(e.value)
    assert "\n" not in text and "conv1 (0), conv2 (1), conv3 (2)" in text and "fc" in text
    assert isinstance(e.value, CnnzooError)
    with pytest.raises(LayerError, match="spatial map.*'fc'.*\\(N, 4\\)"):
        grad_cam(model, x, layer="fc")
    lenet = create_model("lenet5").eval()
    with pytest.raises(LayerError, match="spatial map.*'c5'"):
        grad_cam(lenet, torch.zeros(1, 1, 32, 32), layer="c5")  # a 1x1 map
    assert grad_cam(lenet, torch.randn(2, 1, 32, 32)).shape == (2, 32, 32)  # default: s4, 5x5
    assert torch.equal(grad_cam(lenet, torch.ones(1, 1, 32, 32), layer=-2),
                       grad_cam(lenet, torch.ones(1, 1, 32, 32), layer="s4"))


def test_cli_gradcam_json_with_box(trained_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    img = tmp_path / "seven.png"
    canvas = Image.new("L", (32, 32), 0)
    canvas.paste(255, (10, 4, 22, 7))
    canvas.paste(255, (18, 7, 21, 28))
    canvas.save(img)
    out = tmp_path / "out"
    assert main(["explain", "gradcam", str(trained_run), str(img), "--class", "7", "--box", "0,0,1,1",
                 "--json", "--out", str(out)]) == 0
    entry = json.loads(capsys.readouterr().out)[0]
    assert entry["class"] == "7" and entry["layer"] == "s4"
    assert entry["mass_in_boxes"] == pytest.approx(1.0) == entry["area_of_boxes"]
    assert all(0 <= v < 1 for v in entry["peak_fraction"]) and Path(entry["png"]).is_file()
    assert json.loads((out / "gradcam.json").read_text())["images"][0]["index"] == 7
    assert main(["explain", "gradcam", str(trained_run), str(img), "--layer", "f6", "--out", str(out)]) == 2
    assert "spatial map" in capsys.readouterr().err
    assert main(["explain", "gradcam", str(trained_run), str(img), "--layer", "c9", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "c1 (0)" in err and "c5 (4)" in err and "f6" in err
