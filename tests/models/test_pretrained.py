"""Published weights onto our module names: heads of another size, auxiliary heads, files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torchvision
from PIL import Image

import cnnzoo
from cnnzoo.cli import main
from cnnzoo.errors import CheckpointError
from cnnzoo.models.pretrained import assign_state_dict, load_pretrained, weight_mapping


def tv_googlenet() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=True).state_dict()


def test_fine_tuning_keeps_fresh_heads_of_another_size() -> None:
    state = weight_mapping("googlenet_tv", "torchvision")(tv_googlenet())
    model = cnnzoo.create_model("googlenet_tv", num_classes=5)
    before = model.fc.weight.clone()
    report = assign_state_dict(model, state, source="tv")
    assert set(report.reset) == {"fc.weight", "fc.bias", "aux1.fc2.weight", "aux1.fc2.bias",
                                 "aux2.fc2.weight", "aux2.fc2.bias"}
    assert torch.equal(model.fc.weight, before)  # the new head keeps its initialisation
    assert torch.equal(model.conv1.conv.weight, state["conv1.conv.weight"])
    assert "kept freshly initialised" in str(report)


def test_weights_with_aux_heads_load_into_a_model_without_them_and_back() -> None:
    state = weight_mapping("googlenet_tv", "torchvision")(tv_googlenet())
    assign_state_dict(cnnzoo.create_model("googlenet_tv", aux_logits=False), state, source="tv")
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    no_aux = timm.create_model("inception_v3", pretrained=False).state_dict()
    model = cnnzoo.create_model("inception_v3")  # built with its auxiliary head
    report = assign_state_dict(model, weight_mapping("inception_v3", "timm")(no_aux), source="timm")
    assert report.reset and all(k.startswith("AuxLogits.") for k in report.reset)


def test_weights_that_do_not_fit_name_the_keys() -> None:
    state = weight_mapping("resnet18_tv", "torchvision")(torchvision.models.resnet34(weights=None).state_dict())
    with pytest.raises(CheckpointError, match="does not fit ResNet: unexpected: layer1.2"):
        assign_state_dict(cnnzoo.create_model("resnet18_tv"), state, source="resnet34 weights")


def test_local_files_and_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch.manual_seed(0)
    theirs = torchvision.models.resnet18(weights=None)
    torch.save(theirs.state_dict(), tmp_path / "resnet18.pth")
    model = cnnzoo.create_model("resnet18_tv", num_classes=3)
    report = load_pretrained(model, tmp_path / "resnet18.pth")
    assert report.reset == ("fc.weight", "fc.bias")
    assert torch.equal(model.layer4[1].conv2.weight, theirs.layer4[1].conv2.weight)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_pretrained(model, tmp_path / "missing.pth")

    for c, colour in enumerate(((200, 20, 20), (20, 200, 20))):
        (tmp_path / "data" / f"c{c}").mkdir(parents=True)
        for i in range(6):
            Image.new("RGB", (40, 40), tuple(v + 5 * i for v in colour)).save(tmp_path / "data" / f"c{c}" / f"{i}.png")
    assert main(["train", "--model", "resnet18_tv", "--pretrained", str(tmp_path / "resnet18.pth"), "--data",
                 str(tmp_path / "data"), "--img-size", "32", "--epochs", "1", "--batch-size", "4",
                 "--val-fraction", "0", "--test-fraction", "0.34", "--output", str(tmp_path), "--name", "ft"]) == 0
    out = capsys.readouterr().out
    assert f"pretrained: loaded {len(theirs.state_dict()) - 2} tensors" in out and "fc.weight" in out
    meta = json.loads((tmp_path / "ft" / "checkpoints" / "best.json").read_text())
    assert meta["mean"] == list(cnnzoo.model_card("resnet18_tv").mean)  # the weights' normalisation
    assert meta["classes"] == ["c0", "c1"]
