"""Checkpoints: weights in safetensors with a JSON sidecar, training state for resume.

    checkpoints/best.safetensors   weights + metadata (model name and arguments, classes,
    checkpoints/best.json          normalisation, input size, metrics, epoch); the .json is the
                                   same metadata, for people and scripts; written whenever
                                   validation improves
    checkpoints/last.state.pt      everything a resume needs: model, optimizer, scheduler,
                                   scaler, RNG states, epoch, best metric (tensors and plain
                                   data only: it loads with torch.load(weights_only=True));
                                   written after every epoch
    checkpoints/last.safetensors   the last epoch's weights + metadata, written when the run
    checkpoints/last.json          ends (during a run, last.state.pt holds them)

Every file is written atomically: to a temporary file in the same folder, flushed and fsynced,
then `os.replace`d over the old one, and the folder fsynced; a kill at any moment leaves the
previous version intact. The metadata is a `train.checkpoint_meta.CheckpointMeta` record in
JSON (this module reads and writes it as a plain dict). The metadata inside the safetensors header is authoritative (the
sidecar is written after it, so a kill between the two cannot pair weights with foreign
metadata). Loading never runs pickled code: safetensors has none, and `.pt` files are read with
`weights_only=True` only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import torch
from torch import Tensor

from ..errors import CheckpointError, OutputError

FORMAT = "cnnzoo-checkpoint/1"
_META_KEY = "cnnzoo"


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds (Windows)
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Write `path` through `write(file)` so that readers see the old or the new file, never a mix."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot write {path} ({e.strerror or e})") from None
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:  # disk full, read-only, quota: the previous version is intact
        raise OutputError(f"cannot write {path} ({e.strerror or e}); the previous version is kept") from None
    finally:
        if tmp.exists():
            tmp.unlink()
    _fsync_dir(path.parent)


def _plain_tensors(state: dict[str, Tensor]) -> dict[str, Tensor]:
    # safetensors wants contiguous CPU tensors that share no storage
    return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in state.items()}


def save_weights(path: Path, state: dict[str, Tensor], meta: dict[str, Any]) -> None:
    """`path` (.safetensors) with `meta` in its header, then the sidecar `path`.json."""
    from safetensors.torch import save
    meta = {"format": FORMAT, **meta}
    text = json.dumps(meta, sort_keys=True)
    blob = save(_plain_tensors(state), metadata={_META_KEY: text})
    atomic_write(path, lambda f: f.write(blob))
    atomic_write(path.with_suffix(".json"), lambda f: f.write(json.dumps(meta, indent=2, sort_keys=True).encode()))


def load_weights(path: Path) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """(state dict, metadata) of a cnnzoo .safetensors checkpoint."""
    from safetensors import SafetensorError
    from safetensors.torch import safe_open
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
            state = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: not a readable safetensors file ({e})") from None
    from .checkpoint_meta import parse_meta_json
    if _META_KEY in header:
        meta = parse_meta_json(header[_META_KEY], source=str(path), full=False)
    elif path.with_suffix(".json").is_file():
        meta = parse_meta_json(path.with_suffix(".json").read_text(errors="replace"), source=str(path), full=False)
    else:
        raise CheckpointError(f"{path}: safetensors file without cnnzoo metadata (model name, classes); "
                              f"to start from plain weights use `--pretrained {path}`")
    return state, meta


def save_state(path: Path, state: dict[str, Any]) -> None:
    atomic_write(path, lambda f: torch.save({"format": FORMAT, **state}, f))


def load_state(path: Path) -> dict[str, Any]:
    """A training-state (or any .pt) file, refusing anything but tensors and plain data."""
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
    with open(path, "rb") as f:
        magic = f.read(4)
    if not (magic.startswith(b"PK\x03\x04") or magic[:1] == b"\x80"):  # torch's zip archive, or a bare pickle
        raise CheckpointError(f"{path}: not a checkpoint; expected a run folder, a .safetensors or a .state.pt file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any file at all can be named here; the unpickler fails many ways
        if isinstance(e, KeyError | IndexError | AttributeError | TypeError):  # a text file, random bytes
            raise CheckpointError(f"{path}: not a checkpoint; expected a run folder, a .safetensors or a "
                                  ".state.pt file") from None
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{path}: refused to load: not a plain tensor checkpoint (cnnzoo loads .pt files "
                              f"with weights_only=True and never runs pickled code). {first}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a cnnzoo training-state file")
    return state


def resolve(path: str | Path) -> Path:
    """The checkpoint a user means: a run folder (its best, else last), a .safetensors, its
    .json sidecar, or a .state.pt training state."""
    p = Path(path).expanduser()
    if p.is_dir():
        for candidate in (p / "checkpoints" / "best.safetensors", p / "checkpoints" / "last.safetensors",
                          p / "best.safetensors", p / "last.safetensors"):
            if candidate.is_file():
                return candidate
        raise CheckpointError(f"{p}: no checkpoints/best.safetensors or last.safetensors in this folder")
    if not p.exists():
        raise CheckpointError(f"checkpoint {str(p)!r} does not exist")
    if p.suffix == ".json" and p.with_suffix(".safetensors").is_file():
        return p.with_suffix(".safetensors")
    return p


def read_checkpoint(path: str | Path) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """(model state dict, metadata) from any checkpoint form `resolve` accepts."""
    from .checkpoint_meta import parse_meta_json
    p = resolve(path)
    if p.suffix == ".safetensors":
        state, meta = load_weights(p)
        return state, parse_meta_json(json.dumps(meta), source=str(p))
    state = load_state(p)
    return state["model"], parse_meta_json(state.get("meta"), source=str(p))
