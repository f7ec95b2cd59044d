"""Prediction over many files at the speed of the model, not of the loop around it.

Three things make `cnnzoo predict` fast on a folder (`benchmarks/predict_folder.py` measures
them against the plain torchvision loop): files are decoded and resized in DataLoader worker
processes while the model runs on the previous batch; images go through the model in batches;
the model runs on the chosen backend (`--backend`; `auto` is channels-last: on this project's
CPUs it is the fastest path that costs nothing to set up, while ONNX Runtime and torch.compile
pay seconds of export or compilation first, worth it only for thousands of images). A backend
other than eager is checked against eager on the first batch and dropped, with a one-line note,
if its logits differ by more than 1e-3 (relative to their scale).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from ..data.images import BadImage, load_image
from ..models.base import split_outputs
from . import backends as B

BACKENDS = ("auto", *B.INFERENCE)
CHECK_TOLERANCE = 1e-3


class BackendModel(nn.Module):
    """A backend's runner behind the nn.Module call interface (inference only)."""

    def __init__(self, runner: B.Runner, *, fixed_batch: int | None = None) -> None:
        super().__init__()
        self.runner, self.fixed_batch, self.backend = runner, fixed_batch, runner.name

    def forward(self, x: Tensor) -> Tensor:
        n = len(x)
        if self.fixed_batch and n < self.fixed_batch:  # compiled for one shape: pad, then drop the padding
            x = torch.cat([x, x[:1].expand(self.fixed_batch - n, *x.shape[1:])])
        return self.runner.run(x)[:n]  # type: ignore[index]


def select_backend(model: nn.Module, name: str, example: Tensor) -> tuple[nn.Module, str]:
    """(`model` on backend `name`, a note: "" or why another one is used). `example` is a
    normalised batch of the size that will be used."""
    chosen = "channels_last" if name == "auto" else name
    if chosen == "eager":
        return model, ""
    try:
        runner = B.inference_runner(chosen, model, example)
    except B.Unavailable as e:
        return model, f"backend {chosen} unavailable ({e}); using eager"
    wrapped = BackendModel(runner, fixed_batch=len(example) if chosen == "compile" else None)
    with torch.inference_mode():
        ref, got = split_outputs(model(example))[0].float(), wrapped(example).float()
    diff = float((ref - got).abs().max())
    if not diff <= CHECK_TOLERANCE * max(1.0, float(ref.abs().max())):
        return model, f"backend {chosen} disagrees with eager by {diff:.2g}; using eager"
    return wrapped, ""


class _Files(Dataset):
    """Decoded, resized uint8 (C, S, S) images; an unusable file gives an empty tensor and its reason."""

    def __init__(self, files: list[Path], *, channels: int, size: int) -> None:
        self.files, self.channels, self.size = files, channels, size

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[int, Tensor, str]:
        try:
            return i, load_image(self.files[i], channels=self.channels, size=self.size), ""
        except BadImage as e:
            return i, torch.empty(0, dtype=torch.uint8), str(e)


def _collate(items: list[tuple[int, Tensor, str]]) -> list[tuple[int, Tensor, str]]:
    return items


def decoded_batches(files: list[Path], *, channels: int, size: int, batch_size: int,
                    workers: int) -> Iterator[list[tuple[int, Tensor, str]]]:
    """Batches of (file index, uint8 image or empty, reason) in file order, decoded in `workers`
    processes (0: in this one) ahead of the consumer."""
    loader = DataLoader(_Files(files, channels=channels, size=size), batch_size=batch_size, num_workers=workers,
                        collate_fn=_collate, prefetch_factor=2 if workers else None)
    yield from loader


def default_workers(n_files: int) -> int:
    """Decoding processes: none for a handful of files (starting them costs more), else up to 4."""
    return 0 if n_files < 32 else min(4, os.cpu_count() or 1)


@torch.no_grad()
def predict_fast(loaded: Any, files: list[Path], *, top_k: int, tta: bool, device: torch.device,
                 backend: str = "auto", batch_size: int = 32,
                 workers: int | None = None) -> tuple[list[dict[str, Any]], list[tuple[Path, str]]]:
    """As `train.inference.predict_files` (same results), decoding in workers, on `backend`."""
    data = loaded.meta.get("data", {})
    channels = int(data.get("channels", loaded.pipeline.in_chans))
    stored = round(loaded.pipeline.out_size[0] / loaded.pipeline.eval_crop)
    batch_size = max(1, min(batch_size, len(files)))
    workers = default_workers(len(files)) if workers is None else workers
    k = min(top_k, len(loaded.classes))
    model: nn.Module | None = None
    results: list[dict[str, Any]] = []
    bad: list[tuple[Path, str]] = []
    for batch in decoded_batches(files, channels=channels, size=stored, batch_size=batch_size, workers=workers):
        bad += [(files[i], reason) for i, _, reason in batch if reason]
        good = [(i, t) for i, t, reason in batch if not reason]
        if not good:
            continue
        x = torch.stack([t for _, t in good]).to(device)
        views = loaded.pipeline.tta_views(x) if tta else [loaded.pipeline.eval(x)]
        if model is None:
            model, note = select_backend(loaded.model, backend, _full(views[0], batch_size))
            if note:
                warnings.warn(note, stacklevel=2)
        probs = torch.stack([split_outputs(model(v))[0].float().softmax(1) for v in views]).mean(0)
        top = probs.topk(k, dim=1)
        for (i, _), p, j in zip(good, top.values.tolist(), top.indices.tolist(), strict=True):
            results.append({"file": str(files[i]), "predictions": [{"class": loaded.classes[c], "probability": q}
                                                                   for c, q in zip(j, p, strict=True)]})
    return results, bad


def _full(x: Tensor, batch_size: int) -> Tensor:
    """`x` repeated up to `batch_size` rows (the shape the backend is prepared for)."""
    reps = -(-batch_size // len(x))
    return x.repeat(reps, 1, 1, 1)[:batch_size].contiguous()


def model_for_batches(loaded: Any, first_batch: Tensor, backend: str, *, batch_size: int) -> nn.Module:
    """`loaded.model` on `backend`, prepared for batches like `first_batch` (uint8, on device)."""
    model, note = select_backend(loaded.model, backend, _full(loaded.pipeline.eval(first_batch), batch_size))
    if note:
        warnings.warn(note, stacklevel=2)
    return model
