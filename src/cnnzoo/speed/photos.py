"""Real photos for parity checks and benchmarks, from files that ship with scikit-learn.

scikit-learn bundles two 427x640 JPEG photos (`sklearn/datasets/images/china.jpg`,
`flower.jpg`); they are found on disk without importing scikit-learn (seconds of start-up).
Crops of them at several positions and scales give as many distinct real images as needed.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..errors import DataError


def sample_photo_paths() -> list[Path]:
    """The JPEG photos bundled with scikit-learn (china.jpg, flower.jpg)."""
    spec = importlib.util.find_spec("sklearn")
    roots = list(spec.submodule_search_locations or []) if spec is not None else []
    paths = sorted(p for r in roots for p in (Path(r) / "datasets" / "images").glob("*.jpg"))
    if not paths:
        raise DataError("scikit-learn's sample photos (sklearn/datasets/images/*.jpg) are not installed")
    return paths


def photo_crops(n: int, *, size: int, seed: int = 0) -> list[Image.Image]:
    """`n` RGB crops (size x size) of the sample photos, at random positions and scales."""
    photos = [Image.open(p).convert("RGB") for p in sample_photo_paths()]
    rng = np.random.default_rng(seed)
    crops = []
    for i in range(n):
        img = photos[i % len(photos)]
        w, h = img.size
        side = int(rng.integers(min(w, h) // 3, min(w, h) + 1))
        left, top = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
        crops.append(img.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.BILINEAR))
    return crops


def photo_batch(n: int, *, channels: int, size: int, seed: int = 0) -> torch.Tensor:
    """uint8 (n, channels, size, size): real photo crops (grey when `channels` is 1)."""
    mode = "L" if channels == 1 else "RGB"
    arrays = [np.asarray(c.convert(mode), dtype=np.uint8).reshape(size, size, -1)
              for c in photo_crops(n, size=size, seed=seed)]
    x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
    if x.shape[1] != channels:  # models with other channel counts: repeat the grey image
        x = x[:, :1].expand(-1, channels, -1, -1).contiguous()
    return x


def preprocessed_batch(pipeline: object, n: int, *, seed: int = 0) -> torch.Tensor:
    """float (n, C, H, W): photo crops through a `BatchPipeline`'s evaluation preprocessing."""
    h = pipeline.out_size[0]  # type: ignore[attr-defined]
    stored = round(h / pipeline.eval_crop)  # type: ignore[attr-defined]
    return pipeline.eval(photo_batch(n, channels=pipeline.in_chans, size=stored, seed=seed))  # type: ignore[attr-defined]
