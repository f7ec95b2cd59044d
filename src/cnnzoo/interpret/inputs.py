"""What the `explain` commands feed the methods: image files and data sets as model inputs
(through the model's own evaluation pipeline), class names, and inputs back as pictures."""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
from torch import Tensor

from ..errors import ConfigError, DataError
from ..train.inference import Loaded


def resolve_class(classes: Sequence[str], text: str) -> int:
    """Index of class `text`: a class name (case-insensitive) or an index."""
    lowered = [c.lower() for c in classes]
    if text.lower() in lowered:
        return lowered.index(text.lower())
    try:
        index = int(text)
    except ValueError:
        close = difflib.get_close_matches(text.lower(), lowered, n=5, cutoff=0.6)
        hint = f"; close: {', '.join(classes[lowered.index(c)] for c in close)}" if close else ""
        raise ConfigError(f"unknown class {text!r}: give a class name or an index 0..{len(classes) - 1}{hint}") from None
    if not 0 <= index < len(classes):
        raise ConfigError(f"class index {index} outside 0..{len(classes) - 1}")
    return index


def to_pictures(loaded: Loaded, x: Tensor) -> Tensor:
    """Normalised model inputs (N, C, H, W) back to pictures in [0, 1]."""
    p = loaded.pipeline
    mean = torch.tensor(p.mean, device=x.device, dtype=x.dtype).view(1, -1, 1, 1)
    std = torch.tensor(p.std, device=x.device, dtype=x.dtype).view(1, -1, 1, 1)
    return (x * std + mean).clamp(0, 1)


def load_files(loaded: Loaded, files: Sequence[Path], *, device: torch.device) -> Tensor:
    """Model inputs (N, C, H, W) of image files, prepared as `cnnzoo predict` prepares them."""
    from ..data.images import BadImage, load_image
    stored = int(loaded.meta.get("data", {}).get("channels", loaded.pipeline.in_chans))
    side = round(loaded.pipeline.out_size[0] / loaded.pipeline.eval_crop)
    images = []
    for f in files:
        try:
            images.append(load_image(f, channels=stored, size=side))
        except BadImage as e:
            raise DataError(f"{f}: {e}") from None
    return loaded.pipeline.eval(torch.stack(images).to(device))


def data_batches(loaded: Loaded, data: str, *, data_dir: str, limit: int, batch_size: int,
                 device: torch.device, seed: int = 0) -> Iterator[tuple[Tensor, Tensor]]:
    """(model inputs, labels) batches of the first `limit` images of the data set's test split."""
    from ..data import load_data
    bundle = load_data(data, size=loaded.pipeline.out_size[0], seed=seed, data_dir=data_dir)
    split = bundle.test
    n = min(limit, len(split))
    if n == 0:
        raise DataError(f"{data}: the test split is empty")
    for start in range(0, n, batch_size):
        idx = range(start, min(n, start + batch_size))
        if hasattr(split, "images"):
            x, y = split.images[start:idx.stop], split.labels[start:idx.stop]
        else:
            pairs = [split[i] for i in idx]
            x, y = torch.stack([p[0] for p in pairs]), torch.tensor([p[1] for p in pairs])
        yield loaded.pipeline.eval(x.to(device)), y
