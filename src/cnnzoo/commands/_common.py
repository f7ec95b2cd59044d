"""Printing shared by the commands."""

from __future__ import annotations

from typing import Any


def print_summary(split: str, m: Any, stream: Any) -> None:
    top5 = f"  top-5 {m.top5:.4f}" if m.top5 is not None else ""
    print(f"\n{split}: top-1 {m.top1:.4f}{top5}  macro-F1 {m.macro_f1:.4f}  micro-F1 {m.micro_f1:.4f}  loss {m.loss:.4f}  "
          f"({m.count} images)", file=stream)
    print(m.per_class_table(), file=stream)


def add_model_source_arguments(p: Any, *, what: str = "the model") -> None:
    """`SOURCE [--pretrained WEIGHTS] [--device D]`: what `train.inference.open_model` takes."""
    p.add_argument("source", metavar="RUN|CHECKPOINT|MODEL",
                   help=f"{what}: a run folder, a .safetensors checkpoint, a registered model name or a table .yaml")
    p.add_argument("--pretrained", metavar="WEIGHTS",
                   help="with a model name: published weights to load (as `train --pretrained`)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
