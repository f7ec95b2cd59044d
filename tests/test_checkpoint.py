"""Checkpoints: atomic under kill -9, and never running pickled code."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from cnnzoo.cli import main
from cnnzoo.errors import CheckpointError
from cnnzoo.train.checkpoint import load_state, load_weights

WRITER = r"""
import sys, torch
from pathlib import Path
from cnnzoo.train.checkpoint import save_state, save_weights
folder = Path(sys.argv[1])
version = 0
while True:
    version += 1
    weights = {"w": torch.full((512, 1024), float(version))}   # 2 MiB: a save takes a while
    save_weights(folder / "best.safetensors", weights, {"epoch": version})
    save_state(folder / "last.state.pt", {"epoch": version, "model": weights})
    print(version, flush=True)
"""


def test_a_kill_during_saving_leaves_a_loadable_checkpoint(tmp_path: Path) -> None:
    """kill -9 a process that saves in a loop, at several moments; every time the files on
    disk are a complete earlier version whose metadata matches its weights."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for delay in (0.3, 0.6, 0.9):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, env=env)
        assert proc.stdout is not None
        proc.stdout.readline()  # one full version exists
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        state, meta = load_weights(tmp_path / "best.safetensors")
        assert torch.all(state["w"] == meta["epoch"])  # weights and their metadata belong together
        full = load_state(tmp_path / "last.state.pt")
        assert torch.all(full["model"]["w"] == full["epoch"])
    # a write killed half-way leaves at most a hidden temporary file, never a damaged checkpoint
    assert {p.name for p in tmp_path.iterdir() if not p.name.startswith(".")} == {
        "best.safetensors", "best.json", "last.state.pt"}


class Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return os.system, (f"touch {self.marker}",)


def test_a_malicious_pickle_checkpoint_is_refused_and_never_runs(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / "model.state.pt"
    with open(evil, "wb") as f:
        pickle.dump({"format": "cnnzoo-checkpoint/1", "model": Exploit(marker)}, f, protocol=2)
    torch.save({"format": "cnnzoo-checkpoint/1", "payload": Exploit(marker)}, tmp_path / "also.pt")
    assert not marker.exists()
    for path in (evil, tmp_path / "also.pt"):
        with pytest.raises(CheckpointError, match="refused to load"):
            load_state(path)
        assert main(["eval", str(path)]) == 2
        assert main(["predict", str(path), str(path)]) == 2
        assert "refused to load" in capsys.readouterr().err
    assert not marker.exists()

    from cnnzoo.models.pretrained import read_state_dict
    with pytest.raises(CheckpointError, match="refused to load"):
        read_state_dict(tmp_path / "also.pt")
    assert not marker.exists()


def test_safetensors_without_metadata_points_to_pretrained(tmp_path: Path) -> None:
    from safetensors.torch import save_file
    save_file({"w": torch.zeros(2)}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(CheckpointError, match="without cnnzoo metadata"):
        load_weights(tmp_path / "plain.safetensors")
