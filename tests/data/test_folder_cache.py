"""The decoded-folder cache: written once, read back identical, never stale."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cnnzoo.data import load_data
from cnnzoo.data.cache import _read, cache_root, cached_decode, fingerprint


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CNNZOO_CACHE_DIR", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    for c in ("cat", "dog"):
        (tmp_path / "data" / c).mkdir(parents=True)
        for i in range(6):
            Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(tmp_path / "data" / c / f"{i}.png")
    (tmp_path / "data" / "cat" / "bad.png").write_bytes(b"not a png")
    return tmp_path / "data"


def _files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.png"))


def test_second_decode_reads_the_cache_and_matches(folder: Path) -> None:
    files = _files(folder)
    first = cached_decode(files, size=16, crop_ratio=1.0, keep=True)
    entry = cache_root() / fingerprint(files, size=16, crop_ratio=1.0)
    hit = _read(entry, files)
    assert hit is not None and hit.errors == first.errors and hit.grey == first.grey
    for a, b in zip(first.images, hit.images, strict=True):
        assert (a is None and b is None) or torch.equal(a, b)
    assert sum(e is not None for e in hit.errors) == 1  # bad.png, with its reason, also from the cache


def test_load_data_is_the_same_with_and_without_the_cache(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cold, warm = load_data(str(folder), size=16), load_data(str(folder), size=16)
        monkeypatch.setenv("CNNZOO_FOLDER_CACHE", "0")
        plain = load_data(str(folder), size=16)
    for split in ("train", "test"):
        a, b, c = (getattr(d, split) for d in (cold, warm, plain))
        assert torch.equal(a.images, b.images) and torch.equal(a.images, c.images)
        assert torch.equal(a.labels, b.labels)
    assert len(list(cache_root().iterdir())) == 1


def test_a_changed_file_invalidates_the_cache(folder: Path) -> None:
    files = _files(folder)
    before = fingerprint(files, size=16, crop_ratio=1.0)
    cached_decode(files, size=16, crop_ratio=1.0, keep=True)
    target = folder / "dog" / "0.png"
    Image.new("RGB", (20, 24), (255, 0, 0)).save(target)
    os.utime(target, ns=(target.stat().st_atime_ns, target.stat().st_mtime_ns + 10**9))
    assert fingerprint(files, size=16, crop_ratio=1.0) != before
    again = cached_decode(files, size=16, crop_ratio=1.0, keep=True)
    red = again.images[files.index(target)]
    assert red is not None and red[0].float().mean() == 255 and red[1].float().mean() == 0
    assert fingerprint(files + [files[0]], size=16, crop_ratio=1.0) != fingerprint(files, size=16, crop_ratio=1.0)
    assert fingerprint(files, size=24, crop_ratio=1.0) != fingerprint(files, size=16, crop_ratio=1.0)
