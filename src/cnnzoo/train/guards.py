"""What keeps a run honest when the input is hostile or the optimisation blows up.

- `check_finite_epoch`: a non-finite training loss stops the run with one line (exit 2); the
  epoch's weights are never saved as best (and `finite_weights` guards the best checkpoint).
- `json_safe`: nan / inf become null, so summary.json and the sidecars are valid JSON.
- `remove_orphaned_temporaries`: atomic writes leave `.NAME.tmp-PID` files when the process is
  killed mid-write; those of processes that no longer exist are removed when a run (re)starts.
- `first_epoch_unfinished`: a run folder whose first epoch never ended (no state, no weights)
  can be started again under its name.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any

import torch

from ..errors import CnnzooError


class TrainingDiverged(CnnzooError):
    """The loss became nan or inf: the learning rate is too high for this model and data."""


def check_finite_epoch(row: dict[str, float], *, lr: float, grad_clip: float | None) -> None:
    """Raise TrainingDiverged when the epoch's mean training loss is not a finite number."""
    loss = row.get("train_loss", 0.0)
    if math.isfinite(loss):
        return
    hint = f"lower --lr (it is {lr:g}; try {lr / 10:g})" + ("" if grad_clip else " or add --grad-clip 1")
    raise TrainingDiverged(f"training diverged: the training loss is {loss} in epoch {int(row['epoch'])}; "
                           f"{hint}. No weights of this epoch were saved")


def finite_weights(state: dict[str, torch.Tensor]) -> bool:
    """True when every floating-point tensor of a state dict is finite."""
    return all(bool(torch.isfinite(v).all()) for v in state.values() if v.is_floating_point())


def json_safe(value: Any) -> Any:
    """`value` with every nan / inf float replaced by None (JSON has no such numbers)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


_TMP = re.compile(r"^\..+\.tmp-(\d+)$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process: leave its file alone
    return True


def remove_orphaned_temporaries(folder: Path) -> list[Path]:
    """Delete the `.NAME.tmp-PID` files in `folder` (not below) whose writer process is gone."""
    removed = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for p in entries:
        m = _TMP.match(p.name)
        if m and int(m.group(1)) != os.getpid() and not _alive(int(m.group(1))):
            try:
                p.unlink()
                removed.append(p)
            except OSError:
                pass
    return removed


def first_epoch_unfinished(run_dir: Path) -> bool:
    """True for a run folder killed before its first epoch ended: no resume state, no weights."""
    ckpts = run_dir / "checkpoints"
    return ckpts.is_dir() and not any(p.suffix in (".pt", ".safetensors") for p in ckpts.iterdir())
