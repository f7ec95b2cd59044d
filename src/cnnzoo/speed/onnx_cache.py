"""ONNX graphs for `predict`'s ONNX Runtime path, exported once per network and kept on disk.

Exporting costs 1-3 s on 2 cores (a second of it importing the exporter), as much as ONNX Runtime
saves on a few hundred photos; kept on disk, the next `predict` with the same weights opens the
graph in ~0.1 s. The key is the network's class, the input size, the torch version, the opset
and every state-dict tensor (name, shape, dtype and bytes): other weights, even one changed
value, give another key, so a stale graph is never run (and each use is still checked against
eager PyTorch on the first images, `fast_predict.select_backend`).

Location: `$CNNZOO_CACHE_DIR/onnx`, else `$XDG_CACHE_HOME/cnnzoo/onnx`, else
`~/.cache/cnnzoo/onnx`; `CNNZOO_ONNX_CACHE=0` turns it off (every use exports to a temporary
folder). The cache holds at most `MAX_BYTES`: after each export, the graphs used longest ago go
first (a use touches its file).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..cache_dirs import chosen_cache, user_cache
from .onnx_export import OPSET

MAX_BYTES = 2 << 30  # ~20 ResNet-50s, ~4 VGG-16s


def enabled() -> bool:
    return os.environ.get("CNNZOO_ONNX_CACHE", "1") != "0"


def onnx_cache_root() -> Path:
    return (chosen_cache() or user_cache()) / "onnx"


def model_key(model: nn.Module, input_size: tuple[int, ...]) -> str:
    """Changes with the architecture, the input size, torch, the opset or any weight."""
    h = hashlib.sha256(f"{type(model).__module__}.{type(model).__qualname__} {tuple(input_size)} "
                       f"torch {torch.__version__} opset {OPSET}\n".encode())
    for name, t in model.state_dict().items():
        t = t.detach().cpu().contiguous()
        h.update(f"{name} {tuple(t.shape)} {t.dtype}\n".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:32]


def _graph_path(model: nn.Module, input_size: tuple[int, ...]) -> Path:
    return onnx_cache_root() / f"{model_key(model, input_size)}.onnx"


def _used(path: Path) -> Path | None:
    """`path` if it is a cached graph, touched (used now: pruned last); else None."""
    if not path.is_file():
        return None
    try:
        os.utime(path)
    except OSError:
        pass
    return path


def cached_graph(model: nn.Module, input_size: tuple[int, ...]) -> Path | None:
    """The graph exported earlier for these weights and input size, if the cache has it."""
    return _used(_graph_path(model, input_size)) if enabled() else None


def open_session(model: nn.Module, batch: torch.Tensor, *, threads: int) -> Any:
    """An ONNX Runtime session on `model` (eval, CPU, fp32) for batches like `batch`: from the
    cached graph, else (none, or one that no longer opens, e.g. a partial copy) from a fresh
    export into the cache. Raises what the exporter raises."""
    from .onnx_export import ort_session
    path = _graph_path(model, tuple(batch.shape[1:]))  # the weights are hashed once
    if enabled() and _used(path):
        try:
            return ort_session(path, threads=threads)
        except Exception:  # noqa: BLE001 - a damaged entry: export again
            path.unlink(missing_ok=True)
    return ort_session(_export(model, batch, path), threads=threads)


def _export(model: nn.Module, example: torch.Tensor, path: Path) -> Path:
    """`model` written as ONNX with a dynamic batch at `path` (or under that name in a temporary
    folder when the cache is off or cannot be created)."""
    from .onnx_export import staged, write_graph
    folder = path.parent if enabled() else Path(tempfile.mkdtemp(prefix="cnnzoo-onnx-"))
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        folder = Path(tempfile.mkdtemp(prefix="cnnzoo-onnx-"))
    target = folder / path.name
    with staged(target) as tmp:  # another process exporting the same network writes the same graph
        write_graph(model, example[:2].contiguous(), tmp)
    if enabled():
        prune(folder, keep=target)
    return target


def prune(folder: Path, *, keep: Path, max_bytes: int = MAX_BYTES) -> None:
    """Delete the graphs in `folder` used longest ago until the rest fit in `max_bytes` (`keep`
    stays whatever its size). Files another process removes meanwhile are skipped."""
    entries = []
    for p in folder.glob("*.onnx"):
        try:
            st = p.stat()
        except OSError:
            continue
        entries.append((st.st_mtime, st.st_size, p))
    total = sum(size for _, size, _ in entries)
    for _, size, p in sorted(entries, key=lambda e: e[0]):
        if total <= max_bytes:
            break
        if p != keep:
            p.unlink(missing_ok=True)
            total -= size
