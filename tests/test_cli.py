"""The main job through the real CLI entry point: train -> eval -> predict, and user errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]  # not `from conftest import`: tests/*/conftest.py shadow it
from PIL import Image, ImageDraw

from cnnzoo.cli import main


def test_train_writes_a_complete_run_folder(trained_run: Path) -> None:
    run = trained_run
    for name in ("config.yaml", "provenance.json", "metrics.csv", "summary.json", "confusion_matrix.png",
                 "learning_curves.png", "checkpoints/best.safetensors", "checkpoints/best.json",
                 "checkpoints/last.safetensors", "checkpoints/last.json", "checkpoints/last.state.pt"):
        assert (run / name).is_file(), name
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
    assert yaml.safe_load((run / "config.yaml").read_text())["epochs"] == 2
    prov = json.loads((run / "provenance.json").read_text())
    for key in ("cnnzoo_version", "git", "torch", "torchvision", "device", "cpu", "seed", "command_line"):
        assert key in prov, key
    assert "--epochs 2" in prov["command_line"]
    rows = (run / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("epoch,lr,train_loss,train_acc") and len(rows) == 3
    meta = json.loads((run / "checkpoints" / "best.json").read_text())
    assert meta["model"] == "lenet5" and meta["classes"] == [str(i) for i in range(10)]
    assert meta["input_size"] == [1, 32, 32] and len(meta["mean"]) == 1


def test_train_json_eval_json_and_predict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--epochs", "1", "--output", str(tmp_path), "--name", "r", "--json"]) == 0
    trained = json.loads(capsys.readouterr().out)
    for key in ("top1", "top5", "macro_f1", "loss"):
        assert 0 <= trained[key] <= 10
    assert main(["eval", str(tmp_path / "r"), "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["top1"] == pytest.approx(trained["top1"]) and evaluated["count"] == 359
    assert (tmp_path / "r" / "eval_digits_test_confusion.png").is_file()

    img = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(img).ellipse((16, 8, 48, 56), outline=255, width=6)
    img.save(tmp_path / "zero.png")
    assert main(["predict", str(tmp_path / "r"), str(tmp_path / "zero.png"), "--top-k", "3", "--json", "--tta"]) == 0
    out = json.loads(capsys.readouterr().out)
    probs = [p["probability"] for p in out[0]["predictions"]]
    assert len(probs) == 3 and probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-6
    assert {p["class"] for p in out[0]["predictions"]} <= {str(i) for i in range(10)}


def test_config_file_and_flags_share_one_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "job.yaml"
    cfg.write_text("epochs: 1\nbatch-size: 64\nlr: 0.02\nschedule: onecycle\n")
    assert main(["train", "--config", str(cfg), "--lr", "0.03", "--output", str(tmp_path), "--name", "c", "--quiet"]) == 0
    saved = yaml.safe_load((tmp_path / "c" / "config.yaml").read_text())
    assert (saved["epochs"], saved["batch_size"], saved["lr"], saved["schedule"]) == (1, 64, 0.03, "onecycle")
    capsys.readouterr()


@pytest.mark.parametrize("argv, message", [
    (["train", "--model", "lenet", "--epochs", "1"], "unknown model 'lenet'; did you mean: lenet5"),
    (["train", "--config", "{cfg}"], "unknown key 'epoch' (did you mean epochs"),
    (["train", "--config", "{bad_type}"], "key 'epochs': expected an integer, got 'many'"),
    (["train", "--config", "{missing}"], "does not exist"),
    (["train", "--data", "{missing}"], "does not exist"),
    (["train", "--data", "imagenet"], "unknown data set 'imagenet'"),
    (["train", "--epochs", "0"], "epochs must be > 0"),
    (["eval", "{missing}"], "does not exist"),
    (["predict", "{run}", "{missing}"], "does not exist"),
])
def test_user_errors_are_one_line_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     trained_run: Path, argv: list[str], message: str) -> None:
    (tmp_path / "c.yaml").write_text("epoch: 3\n")
    (tmp_path / "t.yaml").write_text("epochs: many\n")
    paths = {"cfg": tmp_path / "c.yaml", "bad_type": tmp_path / "t.yaml", "missing": tmp_path / "nope",
             "run": trained_run}
    argv = [a.format(**paths) for a in argv] + ["--output", str(tmp_path)] * (argv[0] == "train")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert err.startswith("cnnzoo: error: ")


def test_a_checkpoint_that_does_not_fit_its_model_is_a_clear_error(
        trained_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cnnzoo.train.checkpoint import load_weights, save_weights
    state, meta = load_weights(trained_run / "checkpoints" / "best.safetensors")
    meta["model"] = "lenet5_modern"  # same layer names, but C3 is a full 16x6x5x5 convolution
    save_weights(tmp_path / "wrong.safetensors", state, meta)
    assert main(["eval", str(tmp_path / "wrong.safetensors")]) == 2
    err = capsys.readouterr().err
    assert "does not fit lenet5_modern" in err and "Traceback" not in err


def test_models_lists_the_registry_with_params_and_mult_adds(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "lenet*"]) == 0
    out = capsys.readouterr().out
    assert "lenet5 " in out and "60,850" in out and "333K" in out
    assert main(["models", "lenet5", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["params"] == 60_850 and row["mult_adds"] == 332_824


def test_every_subcommand_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for cmd in ("train", "eval", "predict", "models"):
        with pytest.raises(SystemExit) as e:
            main([cmd, "--help"])
        assert e.value.code == 0
        assert "usage: cnnzoo " + cmd in capsys.readouterr().out


@pytest.mark.parametrize("table", ["seed002_64x64.yaml", "seed002_400x400.yaml"])
def test_seed_002_table_networks_train_show_and_eval_through_the_cli(
        table: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = ROOT / "examples" / "tables" / table
    for c, colour in enumerate(((220, 40, 40), (40, 40, 220))):
        (tmp_path / "faces" / f"class{c}").mkdir(parents=True)
        for i in range(4):
            Image.new("RGB", (80, 60), tuple(v + 7 * i for v in colour)).save(tmp_path / "faces" / f"class{c}" / f"{i}.png")
    assert main(["show", str(spec)]) == 0
    assert "table row" in capsys.readouterr().out
    assert main(["train", "--model", str(spec), "--data", str(tmp_path / "faces"), "--epochs", "1", "--batch-size", "4",
                 "--val-fraction", "0", "--test-fraction", "0.25", "--output", str(tmp_path), "--name", "t",
                 "--json"]) == 0
    trained = json.loads(capsys.readouterr().out)
    meta = json.loads((tmp_path / "t" / "checkpoints" / "best.json").read_text())
    assert meta["model_spec"] and meta["classes"] == ["class0", "class1"]
    # eval rebuilds the network from the table text the checkpoint carries, not from the file
    assert main(["eval", str(tmp_path / "t"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["top1"] == pytest.approx(trained["top1"])


def test_a_model_name_with_cnnzoo_weights_uses_their_preprocessing_and_writes_no_stray_png(
        trained_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from cnnzoo.train.inference import load_checkpoint, open_model
    weights = trained_run / "checkpoints" / "best.safetensors"
    run = load_checkpoint(trained_run, device=torch.device("cpu"))
    named = open_model("lenet5", device=torch.device("cpu"), pretrained=str(weights))
    # the run's own normalisation and class names, not the model card's
    assert (named.meta.mean, named.meta.std, named.classes) == (run.meta.mean, run.meta.std, run.classes)
    monkeypatch.chdir(tmp_path)
    assert main(["eval", "lenet5", "--pretrained", str(weights), "--data", "digits", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["top1"] > 0.5
    assert list(tmp_path.iterdir()) == []  # no confusion PNG dropped into the working folder
