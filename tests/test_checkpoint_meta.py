"""CheckpointMeta: one record written and read whole; checkpoints of the first format still load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from cnnzoo.cli import main
from cnnzoo.data import load_data
from cnnzoo.errors import ConfigError
from cnnzoo.models import create_model
from cnnzoo.train.checkpoint import save_weights
from cnnzoo.train.checkpoint_meta import CheckpointMeta
from cnnzoo.train.config import TrainConfig
from cnnzoo.train.inference import open_model

# what cnnzoo wrote before CheckpointMeta existed (trainer.model_meta + epoch/metrics), literally
OLD_META = {
    "format": "cnnzoo-checkpoint/1", "model": "lenet5", "model_args": {"num_classes": 10}, "model_spec": None,
    "classes": [str(i) for i in range(10)], "input_size": [1, 32, 32], "mean": [0.2], "std": [0.3],
    "data": {"name": "digits", "channels": 1, "hflip_valid": False, "eval_crop": 1.0},
    "config": {"model": "lenet5", "data": "digits", "seed": 3, "val_fraction": 0.15, "epochs": 1},
    "epoch": 7, "metrics": {"val_acc": 0.5},
}


def old_checkpoint(folder: Path, meta: dict) -> Path:
    torch.manual_seed(0)
    model = create_model("lenet5", num_classes=10)
    path = folder / "checkpoints" / "best.safetensors"
    save_weights(path, model.state_dict(), meta)
    return path


def test_round_trip_keeps_the_first_formats_keys() -> None:
    meta = CheckpointMeta.from_dict(OLD_META)
    assert meta.input_size == (1, 32, 32) and meta.classes[3] == "3" and meta.epoch == 7
    again = meta.to_dict()
    assert {k: v for k, v in OLD_META.items() if k != "format"} == again
    assert CheckpointMeta.from_json(meta.to_json()) == meta
    assert meta["classes"] == list(meta.classes) and meta.get("nothing", 1) == 1  # the dict view


def test_an_old_checkpoint_opens_with_its_preprocessing_and_data(tmp_path: Path) -> None:
    old_checkpoint(tmp_path, OLD_META)
    loaded = open_model(tmp_path, device=torch.device("cpu"))
    assert loaded.classes == tuple(str(i) for i in range(10))
    p = loaded.pipeline
    assert p.out_size == (32, 32) and p.mean == (0.2,) and p.std == (0.3,) and p.in_chans == 1
    data_cfg = loaded.meta.data_config(data_dir=None)
    # the run's own split (seed, fractions); fields the old config lacks take today's defaults
    assert (data_cfg.data, data_cfg.seed, data_cfg.val_fraction) == ("digits", 3, 0.15)
    assert data_cfg.test_fraction == TrainConfig().test_fraction
    assert load_data(data_cfg, size=32).sizes() == load_data("digits", size=32, seed=3, val_fraction=0.15).sizes()


def test_eval_and_predict_read_an_old_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old_checkpoint(tmp_path, OLD_META)
    assert main(["eval", str(tmp_path), "--json", "--device", "cpu"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["data"] == "digits" and out["count"] == len(load_data("digits", size=32, seed=3,
                                                                       val_fraction=0.15).test)
    Image.new("L", (8, 8), 128).save(tmp_path / "x.png")
    assert main(["predict", str(tmp_path), str(tmp_path / "x.png"), "--json", "--top-k", "2"]) == 0
    assert len(json.loads(capsys.readouterr().out)[0]["predictions"]) == 2


def test_a_minimal_record_without_data_or_config_needs_data_for_eval(tmp_path: Path) -> None:
    minimal = {k: OLD_META[k] for k in ("model", "classes", "input_size", "mean", "std")}
    old_checkpoint(tmp_path, minimal)
    loaded = open_model(tmp_path, device=torch.device("cpu"))
    assert loaded.meta.stored_channels == 1 and loaded.pipeline.eval_crop == 1.0
    with pytest.raises(ConfigError, match="pass --data"):
        loaded.meta.data_config()
    assert loaded.meta.data_config(data="digits").data == "digits"


def test_a_model_name_gets_a_record_too() -> None:
    loaded = open_model("lenet5", device=torch.device("cpu"))
    assert isinstance(loaded.meta, CheckpointMeta) and loaded.meta.input_size == (1, 32, 32)
    assert loaded.meta.config is None and len(loaded.classes) == loaded.model.num_classes
