"""A run's folder: everything a training run writes, and where.

    <output>/<name>/config.yaml        the resolved TrainConfig (loads back with --config / --resume)
    provenance.json                    versions, git revision, command line, data description
    metrics.csv, tensorboard/          one row / one step per epoch
    checkpoints/                       best and last weights + metadata, the resume state
                                       (see `train.checkpoint` for the formats)
    confusion_matrix.png, learning_curves.png, summary.json   written when the run ends

Under DDP every process holds a `RunFolder` with the same path; only rank 0 (`is_main`) writes.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch
import yaml

from ..csv_rows import csv_text
from ..config import to_mapping
from ..errors import ConfigError
from . import checkpoint as ckpt
from . import distributed as dist
from .config import TrainConfig
from .guards import first_epoch_unfinished, json_safe, remove_orphaned_temporaries


def new_run_path(cfg: TrainConfig) -> Path:
    """Make `<output>/<name>/checkpoints` (an existing run there is an error), or with no
    name `<output>/<model>-<data>-<time>`, with -2, -3... when runs start within the same second."""
    output = Path(cfg.output)
    if output.exists() and not output.is_dir():
        raise ConfigError(f"--output {cfg.output}: is a file; expected a folder to hold the run folders")
    if cfg.name:
        run_dir = Path(cfg.output) / cfg.name
        if (run_dir / "checkpoints").exists() and not first_epoch_unfinished(run_dir):
            raise ConfigError(f"run folder {run_dir} already holds a run; choose another --name, "
                              f"or continue it with --resume {run_dir}")
    else:
        stem = f"{Path(cfg.model).stem}-{Path(cfg.data).name}-{time.strftime('%Y%m%d-%H%M%S')}"
        run_dir, k = Path(cfg.output) / stem, 1
        while run_dir.exists():
            k += 1
            run_dir = Path(cfg.output) / f"{stem}-{k}"
    try:
        (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"--output {cfg.output}: cannot make the run folder {run_dir} ({e.strerror}); "
                          "expected a writable folder") from None
    return run_dir


class RunFolder:
    """The files of one run. `RunFolder.create(cfg, is_main=...)` agrees on a new folder across
    processes; `RunFolder(path, is_main=...)` opens an existing one (resume)."""

    def __init__(self, path: Path, *, is_main: bool = True) -> None:
        self.path, self.is_main = Path(path), is_main
        self.writer: Any = None  # TensorBoard SummaryWriter, opened by `start`

    @classmethod
    def create(cls, cfg: TrainConfig, *, is_main: bool) -> RunFolder:
        """Rank 0 makes the folder; every rank learns its path (or rank 0's error)."""
        made: Path | Exception | None = None
        if is_main:
            try:
                made = new_run_path(cfg)
            except ConfigError as e:
                made = e
        made = dist.broadcast_object(made)  # type: ignore[assignment]
        if isinstance(made, Exception):
            raise made
        assert made is not None
        return cls(made, is_main=is_main)

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    def _write(self, name: str, text: str) -> None:
        ckpt.atomic_write(self.path / name, lambda f: f.write(text.encode()))

    def start(self, cfg: TrainConfig, provenance: dict[str, Any], *, epochs_done: int) -> None:
        """config.yaml, provenance.json, and TensorBoard from the step after `epochs_done`."""
        if not self.is_main:
            return
        for folder in (self.path, self.checkpoints):
            remove_orphaned_temporaries(folder)
        self._write("config.yaml", yaml.safe_dump(to_mapping(cfg), sort_keys=False))
        self._write("provenance.json", json.dumps(provenance, indent=2))
        from torch.utils.tensorboard import SummaryWriter
        self.writer = SummaryWriter(str(self.path / "tensorboard"), purge_step=epochs_done + 1)

    def log_epoch(self, history: list[dict[str, float]]) -> None:
        """metrics.csv (all rows so far) and the last row as TensorBoard scalars (`train/loss`...)."""
        if not self.is_main:
            return
        self._write("metrics.csv", csv_text({k: (int(v) if k == "epoch" else f"{v:.6g}") for k, v in row.items()}
                                            for row in history))
        row = history[-1]
        for key, value in row.items():
            if key != "epoch":
                split, _, metric = key.partition("_")
                self.writer.add_scalar(f"{split}/{metric}" if metric else key, value, int(row["epoch"]))
        self.writer.flush()

    def save_weights(self, which: str, state: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        """checkpoints/<which>.safetensors + .json (which: best, last)."""
        if self.is_main:
            ckpt.save_weights(self.checkpoints / f"{which}.safetensors", state, meta)

    def save_state(self, state: dict[str, Any]) -> None:
        """checkpoints/last.state.pt: the resume point."""
        if self.is_main:
            ckpt.save_state(self.checkpoints / "last.state.pt", state)

    def load_best_everywhere(self) -> dict[str, torch.Tensor]:
        """The best weights from rank 0's disk, on every rank."""
        state = ckpt.load_weights(self.checkpoints / "best.safetensors")[0] if self.is_main else None
        return dist.broadcast_object(state)  # type: ignore[return-value]

    def finish(self, *, test: Any, history: list[dict[str, float]], classes: tuple[str, ...], title: str,
               summary: dict[str, Any]) -> None:
        """The confusion matrix and learning curves PNGs, and summary.json."""
        if not self.is_main:
            return
        from .report import plot_confusion, plot_curves
        plot_confusion(test.confusion, classes, self.path / "confusion_matrix.png",
                       title=f"{title}: test top-1 {test.top1:.4f}")
        plot_curves(history, self.path / "learning_curves.png", title=title)
        self._write("summary.json", json.dumps(json_safe(summary), indent=2))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
