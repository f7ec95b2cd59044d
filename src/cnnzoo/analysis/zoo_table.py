"""The registry as a table: what `cnnzoo models` prints.

Parameters and mult-adds are counted (on the meta device: nothing is allocated), never copied
from the cards. Counting all ~100 networks takes ~15 s on two cores, so the counts are cached
in `$XDG_CACHE_HOME/cnnzoo/` under a key made of the source of cnnzoo's models and layers and
the torch version: any change to a network's code makes a fresh count.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch

from ..cache_dirs import user_cache
from ..input_size import format_chw
from ..models import get_entry, list_models
from .counting import build_on_meta, count_mult_adds, count_params

_PACKAGE = Path(__file__).resolve().parents[1]


def _code_key() -> str:
    digest = hashlib.sha1(torch.__version__.encode())
    for folder in ("models", "layers", "analysis"):
        for path in sorted((_PACKAGE / folder).glob("*.py")):
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def _cache_file() -> Path:
    return user_cache() / f"zoo-counts-{_code_key()}.json"


def _load_cache(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _save_cache(path: Path, counts: dict[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(json.dumps(counts))
        os.replace(tmp, path)
        for stale in path.parent.glob("zoo-counts-*.json"):  # counts of older code
            if stale != path:
                stale.unlink()
    except OSError:  # a read-only home: counting again next time is fine
        pass


def counts(name: str, *, mult_adds: bool = True, cache: dict[str, Any] | None = None) -> dict[str, int | None]:
    """Counted params (and mult-adds at the card's input size) of one registered model."""
    key = f"{name}:{'macs' if mult_adds else 'params'}"
    if cache is not None and key in cache:
        return cache[key]
    model = build_on_meta(name)
    result = {"params": count_params(model),
              "mult_adds": count_mult_adds(model, get_entry(name).card.input_size) if mult_adds else None}
    if cache is not None:
        cache[key] = result
    return result


def zoo_rows(pattern: str = "*", *, family: str | None = None, mult_adds: bool = True,
             use_cache: bool = True) -> list[dict[str, Any]]:
    """One row per registered model: counted params and mult-adds, input size and the card's
    published figures."""
    path = _cache_file() if use_cache else None
    cache = _load_cache(path) if path else {}
    before = len(cache)
    rows = []
    for name in list_models(pattern, family=family):
        entry = get_entry(name)
        card = entry.card
        rows.append({
            "name": name, "family": entry.family, "alias_of": entry.alias_of,
            **counts(name, mult_adds=mult_adds, cache=cache),
            "input": format_chw(card.input_size), "top1_err": card.top1_err, "top5_err": card.top5_err,
            "published_params": card.params, "published_mult_adds": card.mult_adds,
            "paper": card.paper.title, "year": card.paper.year, "notes": card.notes,
        })
    if path and len(cache) > before:
        _save_cache(path, cache)
    return rows
