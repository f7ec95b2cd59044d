"""Printing shared by the commands."""

from __future__ import annotations

from typing import Any


def print_summary(split: str, m: Any, stream: Any) -> None:
    top5 = f"  top-5 {m.top5:.4f}" if m.top5 is not None else ""
    print(f"\n{split}: top-1 {m.top1:.4f}{top5}  macro-F1 {m.macro_f1:.4f}  loss {m.loss:.4f}  "
          f"({m.count} images)", file=stream)
    print(m.per_class_table(), file=stream)
