"""`cnnzoo compress`: the printed sparsity and bits are those of the written file (zeros and
distinct values counted), the size is the file's, accuracy is reported before and after."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from cnnzoo.cli import main
from cnnzoo.compression import load_compressed, prune_, share_
from cnnzoo.train.config import TrainConfig
from cnnzoo.train.trainer import Trainer


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs")
    cfg = TrainConfig(epochs=2, limit_train=512, quiet=True, output=str(out), name="small", workers=0)
    return Trainer(cfg, argv=[]).run().run_dir


def test_prune_and_share_by_hand() -> None:
    w = torch.arange(1, 101, dtype=torch.float32).view(10, 10) * torch.tensor([1.0, -1.0]).repeat(50).view(10, 10)
    prune_(w, 0.67)
    assert int((w == 0).sum()) == 67 and w.abs().min().item() == 0 and w[w != 0].abs().min() == 68
    share_(w, 2)
    assert torch.unique(w[w != 0]).numel() <= 4 and int((w == 0).sum()) == 67


def test_compress_reports_the_real_numbers(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = run_dir / "small.cnz"
    assert main(["compress", str(run_dir), "--prune", "0.67", "--bits", "6", "--output", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    state, meta = load_compressed(out)
    assert report["size_mb"] == pytest.approx(out.stat().st_size / 1e6)
    assert meta["compressed"] == {"prune": 0.67, "bits": 6, "retrain": 0}
    total = nonzero = 0
    for layer in report["layers"]:
        w = state[layer["layer"]]
        unique = torch.unique(w[w != 0]).numel()
        assert layer["nonzero"] == int((w != 0).sum()) and layer["params"] == w.numel()
        assert unique <= 2 ** 6 and layer["bits"] == max(1, math.ceil(math.log2(unique)))
        total, nonzero = total + w.numel(), nonzero + int((w != 0).sum())
    assert report["sparsity"] == pytest.approx(1 - nonzero / total) and abs(report["sparsity"] - 0.67) < 0.01
    assert report["bits"] <= 6 and report["params_before"] == total
    summary = json.loads((run_dir / "summary.json").read_text())
    assert report["accuracy_before"] == pytest.approx(summary["test"]["top1"])
    assert 0 <= report["accuracy_after"] <= 1 and report["size_mb"] < report["dense_mb"] / 4


def test_compress_prints_the_seeds_columns(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compress", str(run_dir), "--bits", "4", "--retrain", "1", "--output", str(run_dir / "b4.cnz")]) == 0
    text = capsys.readouterr().out
    assert "#params before" in text and "#params after" in text and "bits" in text
    assert "MB" in text and "before" in text and "after" in text
    assert "sparsity 67.0%" in text  # retraining keeps the pruned weights at 0
    with pytest.raises(SystemExit) as refused:  # checked where parsed (argparse exits)
        main(["compress", str(run_dir), "--prune", "1.5"])
    assert refused.value.code == 2
