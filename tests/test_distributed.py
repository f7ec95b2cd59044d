"""torchrun + DDP on CPU (gloo): two processes train one model and write one run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def test_two_process_torchrun_trains_and_writes_one_checkpoint_set(tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # two processes on two cores
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         "-m", "cnnzoo", "train", "--epochs", "2", "--output", str(tmp_path), "--name", "ddp", "--json"],
        env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])  # only rank 0 prints
    assert len([ln for ln in proc.stdout.splitlines() if ln.startswith("{")]) == 1
    assert result["top1"] > 0.3

    assert [p.name for p in tmp_path.iterdir()] == ["ddp"]
    ckpts = sorted(p.name for p in (tmp_path / "ddp" / "checkpoints").iterdir())
    assert ckpts == ["best.json", "best.safetensors", "last.json", "last.safetensors", "last.state.pt"]
    assert len(list((tmp_path / "ddp" / "tensorboard").iterdir())) == 1
    assert len((tmp_path / "ddp" / "metrics.csv").read_text().splitlines()) == 3
    prov = json.loads((tmp_path / "ddp" / "provenance.json").read_text())
    assert prov["world_size"] == 2
    summary = json.loads((tmp_path / "ddp" / "summary.json").read_text())
    assert summary["test"]["count"] == 359  # the test split is sharded without padding: every image once
