"""Printing shared by the commands."""

from __future__ import annotations

from typing import Any

from ..speed import INFERENCE_BACKENDS
from ._argtypes import at_least


def print_summary(split: str, m: Any, stream: Any) -> None:
    top5 = f"  top-5 {m.top5:.4f}" if m.top5 is not None else ""
    print(f"\n{split}: top-1 {m.top1:.4f}{top5}  macro-F1 {m.macro_f1:.4f}  micro-F1 {m.micro_f1:.4f}  loss {m.loss:.4f}  "
          f"({m.count} images)", file=stream)
    print(m.per_class_table(), file=stream)


def add_model_source_arguments(p: Any, *, what: str = "the model", device: bool = True) -> None:
    """`SOURCE [--pretrained WEIGHTS] [--device D]`: what `train.inference.open_model` takes
    (`device=False`: no `--device`, for commands that always run on the CPU)."""
    p.add_argument("source", metavar="RUN|CHECKPOINT|MODEL",
                   help=f"{what}: a run folder, a .safetensors checkpoint, a registered model name or a table .yaml")
    p.add_argument("--pretrained", metavar="WEIGHTS",
                   help="with a model name: published weights to load (as `train --pretrained`)")
    if device:
        p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")


def add_backend_arguments(p: Any, *, batch_size: int | None = None, workers: bool = True) -> None:
    """`--backend`, `--batch-size` (and `--workers`): how `predict`/`eval` run the model (speed/).
    `batch_size` None: chosen by device (`speed.fast_predict.default_batch_size`)."""
    p.add_argument("--backend", choices=("auto", *INFERENCE_BACKENDS), default="auto",
                   help="how the model runs (default auto: fused, i.e. batch norm folded into the convolutions "
                   "and channels-last; on a CPU, ONNX Runtime is then timed on a few batches where the work left "
                   "repays its export (graphs kept in ~/.cache/cnnzoo/onnx or $CNNZOO_CACHE_DIR/onnx) and the "
                   "faster one kept; a backend other than eager is checked against eager first)")
    p.add_argument("--batch-size", type=at_least(1, 1_000_000), default=batch_size,
                   help=f"images per batch (default {batch_size or '8 on a CPU, 64 on a GPU'})")
    if workers:
        p.add_argument("--workers", type=at_least(0, 256), metavar="N",
                       help="processes decoding files (default: none for < 32 files; else 1 per 4 CPU cores, up to 4; "
                       "up to 4 when a GPU runs the model)")
