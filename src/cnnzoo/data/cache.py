"""Decode an image folder once: a memory-mapped uint8 cache on disk, re-used across runs.

The first run decodes every file (`folder.decode_files`, a thread pool) and writes the resized
images as one uint8 array (N, 3, S, S) (`images.u8`, read back with `numpy.memmap`) beside a
JSON index (which files, which are grey, which could not be used and why). Later runs with the
same files read that array instead of decoding: an epoch then costs what the same images cost
from an in-memory tensor, from the first epoch of the second run on.

The cache is keyed by the size asked for and by every file's path, byte size and modification
time (nanoseconds): adding, removing, replacing or touching a file gives a new key, so a stale
cache is never read (old entries are left for the user to delete). Location:
`$CNNZOO_CACHE_DIR`, else `$XDG_CACHE_HOME/cnnzoo/folders`, else `~/.cache/cnnzoo/folders`;
`CNNZOO_FOLDER_CACHE=0` turns it off.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from ..cache_dirs import chosen_cache, user_cache
from .folder import Decoded, decode_files

VERSION = 1  # bump when the decoding (resize, channel handling) changes


def cache_root() -> Path:
    return chosen_cache() or user_cache() / "folders"  # entries sit directly in $CNNZOO_CACHE_DIR


def fingerprint(paths: list[Path], *, size: int, crop_ratio: float) -> str:
    """A key that changes when any file is added, removed, replaced or touched, or the size changes."""
    h = hashlib.sha256(f"v{VERSION} size={size} crop={crop_ratio}\n".encode())
    for p in paths:
        try:
            st = p.stat()
        except OSError:  # a dangling link or a link loop: decoding names it with its reason
            h.update(f"{p}\0unreadable\n".encode())
            continue
        h.update(f"{p.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:32]


def _read(entry: Path, paths: list[Path]) -> Decoded | None:
    try:
        index = json.loads((entry / "index.json").read_text())
        if index["count"] != len(paths):
            return None
        shape = (len(paths), 3, index["size"], index["size"])
        array = np.memmap(entry / "images.u8", dtype=np.uint8, mode="c", shape=shape)  # copy-on-write
    except (OSError, ValueError, KeyError):
        return None  # missing or half-written: decode again
    images = torch.from_numpy(np.asarray(array))  # (N, 3, S, S) uint8, pages read on demand
    errors = index["errors"]
    return Decoded(paths, [images[i] if errors[i] is None else None for i in range(len(paths))],
                   index["grey"], errors)


def _write(entry: Path, decoded: Decoded, size: int) -> None:
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=entry.parent, prefix=".writing-"))
    out = np.memmap(tmp / "images.u8", dtype=np.uint8, mode="w+", shape=(len(decoded.paths), 3, size, size))
    for i, image in enumerate(decoded.images):
        if image is not None:
            out[i] = image.expand(3, -1, -1).numpy()
    out.flush()
    del out
    index = {"count": len(decoded.paths), "size": size, "grey": decoded.grey, "errors": decoded.errors}
    (tmp / "index.json").write_text(json.dumps(index))
    try:
        tmp.rename(entry)
    except OSError:  # another process wrote it first
        shutil.rmtree(tmp, ignore_errors=True)


def cached_decode(paths: list[Path], *, size: int, crop_ratio: float, keep: bool) -> Decoded:
    """`folder.decode_files`, through the on-disk cache when the images are kept (`keep`)."""
    if not keep or os.environ.get("CNNZOO_FOLDER_CACHE", "1") == "0":
        return decode_files(paths, size=size, crop_ratio=crop_ratio, keep=keep)
    entry = cache_root() / fingerprint(paths, size=size, crop_ratio=crop_ratio)
    hit = _read(entry, paths) if entry.is_dir() else None
    if hit is not None:
        return hit
    decoded = decode_files(paths, size=size, crop_ratio=crop_ratio, keep=True)
    try:
        _write(entry, decoded, size)
    except OSError:
        pass  # a read-only or full disk: the run goes on without a cache
    return decoded
