"""Kaggle's submission file: `Id,Expected`, one row per image (file name, predicted class name),
as the course's Simpsons competition scores it (seed 004)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import DataError
from ..csv_rows import csv_text


def write_submission(results: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Write `Id,Expected` rows (file name without folders, top-1 class) for `predict_files`
    results, in their order; two images with the same file name are an error (the Id would
    be ambiguous)."""
    rows = [(Path(r["file"]).name, r["predictions"][0]["class"]) for r in results]
    twice = sorted(n for n, k in Counter(n for n, _ in rows).items() if k > 1)
    if twice:
        raise DataError(f"file names repeat across folders ({', '.join(twice[:3])}): Kaggle's Id must be unique")
    from .checkpoint import atomic_write
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    text = csv_text(({"Id": n, "Expected": c} for n, c in rows), lineterminator="\n")
    atomic_write(out, lambda f: f.write(text.encode("utf-8")))  # an older file stays whole on failure
    return out
