"""Where a job runs: the device a user names (or the best one present) and its autocast type."""

from __future__ import annotations

import torch

from ..errors import ConfigError


def _mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def pick_device(name: str) -> torch.device:
    """`auto` -> CUDA, then MPS, then CPU; a named device that is absent is a ConfigError."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda: no CUDA device is available (use --device cpu or auto)")
    if name == "mps" and not _mps_available():
        raise ConfigError("--device mps: MPS is not available on this machine (use --device cpu or auto)")
    return torch.device(name)


def autocast_dtype(precision: str) -> torch.dtype | None:
    """The autocast element type of a `--precision` (None: plain fp32, no autocast)."""
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
