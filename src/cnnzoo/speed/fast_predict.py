"""Prediction over many files at the speed of the model, not of the loop around it.

Three things make `cnnzoo predict` fast on a folder (`benchmarks/predict_folder.py` measures
them against the plain torchvision loop): files are decoded and resized in DataLoader worker
processes while the model runs on the previous batch, where there are cores to spare for them
(`default_workers`); images go through the model in batches;
the model runs on the chosen backend (`--backend`; `auto` starts on `fused`: batch norm folded
into the convolutions, channels-last, a tenth of a second to set up, while ONNX Runtime and
torch.compile pay one to tens of seconds of export or compilation first; on a CPU `auto` then
times ONNX Runtime on a few batches when its graph is cached or the work left repays the export,
and keeps the faster of the two, `AdaptiveBackend`). Batches are small on a CPU (8: the maps of a batch stay
in the caches; 32 is ~10-40% slower per image) and larger on a GPU. A backend other than eager is
checked against eager on the first images and dropped, with a one-line note, if its logits
differ by more than 1e-3 (relative to their scale).
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from ..data.images import BadImage, load_image
from ..models.base import split_outputs
from . import backends as B

CHECK_TOLERANCE = 1e-3
CHECK_ROWS = 2


def default_batch_size(device: torch.device) -> int:
    """Images per batch when `--batch-size` is not given: 8 on a CPU, 64 on a GPU."""
    return 8 if device.type == "cpu" else 64


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


def select_backend(model: nn.Module, name: str, example: Tensor, *, cache_onnx: bool = False) -> tuple[nn.Module, str]:
    """(`model` on backend `name`, a note: "" or why another one is used). `example` is a
    normalised batch of the size that will be used."""
    chosen = "fused" if name == "auto" else name
    if chosen == "eager":
        return model, ""
    try:
        runner = B.inference_runner(chosen, model, example, cache_onnx=cache_onnx)
    except B.Unavailable as e:
        return model, f"backend {chosen} unavailable ({e}); using eager"
    wrapped = BackendModel(runner, fixed_batch=len(example) if chosen == "compile" else None)
    probe = example[:CHECK_ROWS]  # a few images show a wrong backend as well as a whole batch would
    with torch.inference_mode():
        ref, got = split_outputs(model(probe))[0].float(), wrapped(probe).float()
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


def default_workers(n_files: int, device: torch.device) -> int:
    """Decoding processes when `--workers` is not given. None for a handful of files (starting
    them costs more). On a CPU the model's threads already use every core, so decoding beside
    them only competes: on 2 cores, 200 photos take ~15% longer with 1 or 2 workers than with
    decoding between batches. So: one worker per 4 cores (none below 4), up to 4; with a GPU
    doing the model, up to 4 whatever the cores."""
    if n_files < 32:
        return 0
    cores = os.cpu_count() or 1
    return min(4, cores if device.type != "cpu" else cores // 4)


class AdaptiveBackend(nn.Module):
    """The model on the backend each batch runs on (inference only; `predict` and `eval`). A
    named backend is built on the first batch and kept. `auto` starts on `fused`; on a CPU it
    then tries ONNX Runtime, whose convolutions are faster on some networks (ResNet-50 at batch 8
    on 2 cores: 20-30% faster; ResNet-18: level), when its graph is already in `onnx_cache` or
    the work left would repay an export (`ORT_WORTH_S`). Each backend's first batch warms caches
    up and is not counted; the best of its next `TIMED` batches, per image, is compared (the
    best, not the mean: a batch slowed by another process says nothing about the backend), and
    the faster one runs the rest. `total`: images the caller will pass in all (the work left)."""

    ORT_WORTH_S = 4.0  # seconds of work left on `fused` that justify an export (~1-3 s on 2 cores)
    ORT_GAIN = 0.95  # ONNX Runtime is kept only if it takes at most this share of fused's time
    TIMED = 2  # batches compared per backend, after one warm-up batch

    def __init__(self, model: nn.Module, backend: str, *, batch_size: int, total: int, device: torch.device) -> None:
        super().__init__()
        self.eager, self.backend, self.batch_size, self.total = model, backend, batch_size, total
        self.adaptive = backend == "auto" and device.type == "cpu"
        self.current: nn.Module | None = None
        self.name = "fused" if backend == "auto" else backend
        self.seconds: dict[str, list[float]] = {}  # backend -> seconds per image of each batch
        self.done = 0
        self.fused: nn.Module | None = None
        self.train(False)  # inference only (`evaluate` puts back the mode it found)

    def forward(self, x: Tensor) -> Tensor:  # (N, C, H, W), normalised -> the model's outputs
        model = self.pick(x)
        start = time.perf_counter()
        out = model(x)
        self.timed(time.perf_counter() - start, images=len(x))
        return out

    def pick(self, x: Tensor) -> nn.Module:
        """The model that runs batch `x`."""
        if self.current is None:
            self.current, note = select_backend(self.eager, self.backend, _full(x, self.batch_size),
                                                cache_onnx=self.backend == "onnxruntime")
            if note:
                warnings.warn(note, stacklevel=4)
        if self.adaptive and self.name == "fused" and len(self.seconds.get("fused", ())) == 1 + self.TIMED:
            if not self._try_ort(x):
                self.adaptive = False
                return self.current
            self.fused, self.name = self.current, "onnxruntime"
            self.current, note = select_backend(self.eager, "onnxruntime", _full(x, self.batch_size), cache_onnx=True)
            if note:  # unavailable or disagreeing: stay on fused, quietly (auto's choice, not the user's)
                self.current, self.name, self.adaptive = self.fused, "fused", False
        return self.current

    def _try_ort(self, x: Tensor) -> bool:
        from . import onnx_cache
        left = (self.total - self.done) * self._best("fused")
        try:
            return left >= self.ORT_WORTH_S or onnx_cache.cached_graph(self.eager, tuple(x.shape[1:])) is not None
        except ImportError:
            return False

    def timed(self, seconds: float, *, images: int) -> None:
        """The last batch, of `images` images, took `seconds`."""
        self.done += images
        if not self.adaptive:
            return
        times = self.seconds.setdefault(self.name, [])
        times.append(seconds / images)
        if self.name == "onnxruntime" and len(times) == 1 + self.TIMED:
            if self._best("onnxruntime") > self.ORT_GAIN * self._best("fused"):
                self.current, self.name = self.fused, "fused"
            self.adaptive = False

    def _best(self, name: str) -> float:
        return min(self.seconds[name][1:])

    def describe(self) -> str:
        """The backend that ran the last batch, and why where `auto` compared two."""
        name = getattr(self.current, "backend", "eager")
        if "onnxruntime" in self.seconds and len(self.seconds["onnxruntime"]) > self.TIMED:
            ort, fused = 1000 * self._best("onnxruntime"), 1000 * self._best("fused")
            return f"{name} (ONNX Runtime {ort:.1f} ms an image against fused {fused:.1f})"
        return name


def adaptive_model(loaded: Any, backend: str, *, batch_size: int, images: int, tta: bool,
                   device: torch.device) -> AdaptiveBackend:
    """`loaded.model` behind `AdaptiveBackend` for `images` inputs (each seen once per test-time
    view with `tta`): what `predict` and `eval` run."""
    views = len(loaded.pipeline.tta_shifts()) if tta else 1
    return AdaptiveBackend(loaded.model, backend, batch_size=batch_size, total=images * views, device=device)


@torch.no_grad()
def predict_fast(loaded: Any, files: list[Path], *, top_k: int, tta: bool, device: torch.device,
                 backend: str = "auto", batch_size: int | None = None,
                 workers: int | None = None,
                 log: Callable[[str], None] | None = None) -> tuple[list[dict[str, Any]], list[tuple[Path, str]]]:
    """As `train.inference.predict_files` (same results), decoding in workers, on `backend`.
    `log` gets one line at the end: images, seconds, the backend that ran them, batch, workers."""
    data = loaded.meta.get("data", {})
    channels = int(data.get("channels", loaded.pipeline.in_chans))
    stored = round(loaded.pipeline.out_size[0] / loaded.pipeline.eval_crop)
    batch_size = max(1, min(batch_size or default_batch_size(device), len(files)))
    workers = default_workers(len(files), device) if workers is None else workers
    k = min(top_k, len(loaded.classes))
    model = adaptive_model(loaded, backend, batch_size=batch_size, images=len(files), tta=tta, device=device)
    results: list[dict[str, Any]] = []
    bad: list[tuple[Path, str]] = []
    start_all = time.perf_counter()
    for batch in decoded_batches(files, channels=channels, size=stored, batch_size=batch_size, workers=workers):
        bad += [(files[i], reason) for i, _, reason in batch if reason]
        good = [(i, t) for i, t, reason in batch if not reason]
        if not good:
            continue
        x = torch.stack([t for _, t in good]).to(device)
        inputs = loaded.pipeline.tta_views(x) if tta else [loaded.pipeline.eval(x)]
        probs = torch.stack([split_outputs(model(v))[0].float().softmax(1) for v in inputs]).mean(0)
        top = probs.topk(k, dim=1)
        for (i, _), p, j in zip(good, top.values.tolist(), top.indices.tolist(), strict=True):
            results.append({"file": str(files[i]), "predictions": [{"class": loaded.classes[c], "probability": q}
                                                                   for c, q in zip(j, p, strict=True)]})
    if log is not None and results:
        seconds = time.perf_counter() - start_all
        n = len(results)
        log(f"{n} image{'s' * (n != 1)} in {seconds:.1f} s ({n / seconds:.1f} img/s) on {model.describe()}, "
            f"{device.type}, batch {batch_size}, {workers} decoding worker{'s' * (workers != 1)}")
    return results, bad


def _full(x: Tensor, batch_size: int) -> Tensor:
    """`x` repeated up to `batch_size` rows (the shape the backend is prepared for)."""
    reps = -(-batch_size // len(x))
    return x.repeat(reps, 1, 1, 1)[:batch_size].contiguous()

