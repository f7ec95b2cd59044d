"""Top patches against a brute-force pass; class visualisation reaches the class from grey."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from cnnzoo.cli import main
from cnnzoo.interpret import ClassVizConfig, class_visualization, crop, top_patches
from cnnzoo.interpret.patches import field_boxes


def test_top_patches_come_from_the_most_active_images(squares_net) -> None:
    model, held_out = squares_net
    x = held_out.inputs()[:60]
    top = top_patches(model, x.split(25), "conv2", k=5)  # batches of 25: the search spans batches
    # brute force: one image at a time through the model's own forward_intermediates
    with torch.no_grad():
        maps = torch.cat([model.forward_intermediates(x[i:i + 1], indices=[1])[0] for i in range(len(x))])
    best = maps.flatten(2).amax(2)  # (N, C)
    assert top.values.shape == (32, 5) and top.field == (5, 5) and top.map_size == (16, 16)
    for c in range(32):
        expected = best[:, c].topk(5)
        assert torch.allclose(top.values[c], expected.values, atol=1e-5)
        assert set(top.image_index[c].tolist()) == set(expected.indices.tolist())
        n, (r, col) = int(top.image_index[c, 0]), top.position[c, 0].tolist()
        assert maps[n, c, r, col] == pytest.approx(float(top.values[c, 0]), abs=1e-5)


def test_patch_boxes_hold_every_pixel_the_unit_sees(squares_net) -> None:
    model, held_out = squares_net
    x = held_out.inputs()[:12]
    top = top_patches(model, [x], "conv2", k=2, channels=[0, 7, 19])
    assert top.channels.tolist() == [0, 7, 19]
    for row in range(3):
        n, (r, c) = int(top.image_index[row, 0]), top.position[row, 0].tolist()
        image = x[n:n + 1].clone().requires_grad_(True)
        unit = model.forward_intermediates(image, indices=[1])[0][0, int(top.channels[row]), r, c]
        seen = torch.autograd.grad(unit, image)[0][0, 0].abs() > 0
        t, left, b, right = top.boxes[row, 0].tolist()
        inside = torch.zeros_like(seen)
        inside[max(t, 0):b, max(left, 0):right] = True
        assert seen.any() and not (seen & ~inside).any()
        assert crop(held_out.images[n], top.boxes[row, 0]).shape == (1, 5, 5)
    # a valid (unpadded) 5x5 layer: the field of map pixel (0, 0) is the input's top-left 5x5
    box = field_boxes(torch.tensor([[0, 0], [27, 27]]), (5, 5), (1.0, 1.0), (32, 32), (28, 28))
    assert box.tolist() == [[0, 0, 5, 5], [27, 27, 32, 32]]


def test_crop_pads_fields_that_leave_the_image() -> None:
    image = torch.ones(3, 4, 4)
    patch = crop(image, torch.tensor([-2, -1, 3, 3]))
    assert patch.shape == (3, 5, 4) and patch[0, 0, 0] == 0.5 and patch[0, 2, 1] == 1.0


def test_class_visualisation_raises_the_class_probability_from_grey(squares_net) -> None:
    model, _ = squares_net
    config = ClassVizConfig(steps=40, lr=0.1, l2=1e-4, jitter=1)
    for k in (0, 3):
        viz = class_visualization(model, k, input_size=(1, 32, 32), mean=(0.5,), std=(0.5,), config=config)
        assert viz.start_probability < 0.9 < viz.probability, (k, viz.start_probability, viz.probability)
        assert viz.image.shape == (1, 32, 32) and 0 <= float(viz.image.min()) <= float(viz.image.max()) <= 1
    assert all(p.grad is None and p.requires_grad for p in model.parameters()) and not model.training
    fft = class_visualization(model, 2, input_size=(1, 32, 32), mean=(0.5,), std=(0.5,),
                              config=ClassVizConfig(steps=40, lr=0.1, param="fft", blur_every=0))
    assert fft.probability > fft.start_probability


def test_cli_patches_and_classviz(trained_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "p"
    assert main(["explain", "patches", str(trained_run), "--data", "digits", "--layer", "c3", "--top", "3",
                 "--channels", "0,5", "--limit", "60", "--out", str(out)]) == 0
    printed = capsys.readouterr().out.split()
    assert printed == [str(out / "patches_c3.png"), str(out / "patches.json")]
    report = json.loads((out / "patches.json").read_text())["layers"][0]
    assert report["field"] == [14, 14] and set(report["channels"]) == {"0", "5"}
    assert main(["explain", "classviz", "lenet5", "--class", "3", "--steps", "3", "--out", str(tmp_path / "c")]) == 0
    text = capsys.readouterr().out
    assert "class '3' (3): logit" in text and (tmp_path / "c" / "classviz_3.png").is_file()
    assert main(["explain", "classviz", "lenet5", "--class", "eleven", "--out", str(tmp_path / "c")]) == 2
    assert "unknown class 'eleven'" in capsys.readouterr().err
