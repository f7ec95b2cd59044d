"""Same seed, same metrics; kill -9 and --resume gives the uninterrupted run's metrics."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cnnzoo.cli import main

ARGS = ["--epochs", "4", "--batch-size", "64", "--quiet"]


def run_json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_same_seed_gives_the_same_metrics(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = run_json(capsys, ["train", *ARGS, "--epochs", "2", "--output", str(tmp_path), "--name", "a", "--json"])
    b = run_json(capsys, ["train", *ARGS, "--epochs", "2", "--output", str(tmp_path), "--name", "b", "--json"])
    c = run_json(capsys, ["train", *ARGS, "--epochs", "2", "--seed", "1", "--output", str(tmp_path), "--name", "c",
                          "--json"])
    for key in ("top1", "macro_f1", "loss", "top5"):
        assert a[key] == b[key], key
    assert a["loss"] != c["loss"]
    assert metric_rows(tmp_path / "a") == metric_rows(tmp_path / "b")


def test_kill_and_resume_equals_the_uninterrupted_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    full = run_json(capsys, ["train", *ARGS, "--output", str(tmp_path), "--name", "full", "--json"])

    # same environment, so the same number of threads: results are bitwise reproducible
    proc = subprocess.Popen([sys.executable, "-m", "cnnzoo", "train", *ARGS, "--output", str(tmp_path),
                             "--name", "killed"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = tmp_path / "killed" / "checkpoints" / "last.state.pt"
    deadline = time.time() + 120
    while not state.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert state.exists(), "the run died before its first checkpoint"
    rows = (tmp_path / "killed" / "metrics.csv").read_text().splitlines()
    assert len(rows) - 1 < 4, "killed too late: the run had finished"

    resumed = run_json(capsys, ["train", "--resume", str(tmp_path / "killed"), "--json"])
    for key in ("top1", "macro_f1", "loss", "top5", "best_epoch", "epochs"):
        assert resumed[key] == full[key], key
    assert metric_rows(tmp_path / "full") == metric_rows(tmp_path / "killed")


def metric_rows(run: Path) -> list[dict[str, str]]:
    """metrics.csv without the timing columns."""
    with open(run / "metrics.csv") as f:
        return [{k: v for k, v in row.items() if k not in ("train_samples_per_s", "epoch_s")}
                for row in csv.DictReader(f)]


def test_resume_of_a_folder_without_state_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--resume", str(tmp_path)]) == 2
    assert "nothing to resume" in capsys.readouterr().err


def test_early_stopping_stops_after_the_patience(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # lr so small that validation accuracy cannot change: the run stops after 1 + patience epochs
    out = run_json(capsys, ["train", "--epochs", "30", "--lr", "1e-12", "--early-stopping", "2", "--quiet",
                            "--output", str(tmp_path), "--json"])
    assert out["epochs"] == 3 and out["best_epoch"] <= 3
