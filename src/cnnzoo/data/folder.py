"""Image folders: one sub-folder per class, or `train/`, `val/`, `test/` sub-folders of those.

Every file in a class folder is decoded once, in a thread pool (PIL releases the GIL while
decoding). Files that cannot be used (empty, not an image, corrupt, truncated, decompression
bomb) are skipped and listed, each with its reason, in one warning; with `strict=True` any of
them is an error. Hidden files and folders (`.git`, `.ipynb_checkpoints`, `.DS_Store`) are
never classes or samples. An empty class folder, fewer than two classes, or no images at all
is an error.

A folder whose decoded images fit in `memory_budget` bytes is kept in memory as uint8 tensors;
a larger one is streamed from disk by a DataLoader with workers (`StreamSplit`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import Dataset

from ..errors import DataError
from .images import BadImage, is_grey, load_image, open_image, read_image

SPLIT_NAMES = ("train", "val", "test")
_THREADS = min(8, (os.cpu_count() or 2) * 2)


def _visible(entries: Iterable[Path]) -> list[Path]:
    return sorted(p for p in entries if not p.name.startswith(".") and p.name != "__MACOSX")


def _class_dirs(root: Path) -> list[Path]:
    return [p for p in _visible(root.iterdir()) if p.is_dir()]


@dataclass(frozen=True)
class FolderLayout:
    """Which files belong to which class and split (before decoding)."""

    root: Path
    classes: tuple[str, ...]
    files: dict[str, list[tuple[Path, int]]]  # split name ("train"/"val"/"test" or "all") -> (path, label)


def scan_folder(root: str | Path) -> FolderLayout:
    """The class layout of `root`; raises DataError for a folder that cannot be a data set."""
    root = Path(root)
    if not root.exists():
        raise DataError(f"data folder {str(root)!r} does not exist")
    if not root.is_dir():
        raise DataError(f"{str(root)!r} is not a folder of images (one sub-folder per class)")
    given = {n: root / n for n in SPLIT_NAMES if (root / n).is_dir()}
    split_dirs = given if "train" in given else {"all": root}
    classes = sorted({c.name for d in split_dirs.values() for c in _class_dirs(d)})
    if not classes:
        raise DataError(f"{root}: no class folders found; expected one sub-folder per class "
                        f"(or train/, val/, test/ sub-folders of those)")
    if len(classes) < 2:
        raise DataError(f"{root}: only one class folder ({classes[0]!r}); a classifier needs at least 2 classes")
    index = {c: i for i, c in enumerate(classes)}
    files: dict[str, list[tuple[Path, int]]] = {}
    for split, d in split_dirs.items():
        files[split] = []
        for cdir in _class_dirs(d):
            # a dangling link or a link loop is kept: decoding names it with its reason
            members = [p for p in _visible(cdir.rglob("*")) if (p.is_file() or (p.is_symlink() and not p.exists()))
                       and not any(part.startswith(".") for part in p.relative_to(cdir).parts)]
            if not members and split in ("all", "train"):
                raise DataError(f"{cdir}: class folder is empty (no files); remove it or add images")
            files[split].extend((p, index[cdir.name]) for p in members)
    if not any(files.values()):
        raise DataError(f"{root}: no image files found")
    return FolderLayout(root, tuple(classes), files)


@dataclass(frozen=True)
class Decoded:
    """The result of decoding a list of files: tensors (or just validity) and the skipped files."""

    paths: list[Path]
    images: list[Tensor | None]  # None when not kept, or not usable
    grey: list[bool]
    errors: list[str | None]  # the reason a file cannot be used, None when it can

    @property
    def usable(self) -> list[int]:
        return [i for i, e in enumerate(self.errors) if e is None]

    @property
    def skipped(self) -> list[tuple[Path, str]]:
        return [(p, e) for p, e in zip(self.paths, self.errors, strict=True) if e is not None]


def decode_files(paths: list[Path], *, size: int, crop_ratio: float, keep: bool) -> Decoded:
    """Decode every file (validating it); keep the resized RGB tensors when `keep`."""

    def one(path: Path) -> tuple[Tensor | None, bool, str | None]:
        try:
            if not keep:  # validate only: full decode, nothing kept
                return None, is_grey(open_image(path)), None
            image, grey = read_image(path, channels=3, size=size, crop_ratio=crop_ratio)
            return image, grey, None
        except BadImage as e:
            return None, False, str(e)

    with ThreadPoolExecutor(_THREADS) as pool:
        results = list(pool.map(one, paths))
    return Decoded(paths, [r[0] for r in results], [r[1] for r in results], [r[2] for r in results])


class StreamSplit(Dataset):
    """Files decoded on demand (in DataLoader workers) into uint8 (C, S, S) tensors."""

    def __init__(self, items: list[tuple[Path, int]], *, channels: int, size: int, crop_ratio: float) -> None:
        self.items, self.channels, self.size, self.crop_ratio = items, channels, size, crop_ratio
        self.labels = torch.tensor([y for _, y in items], dtype=torch.long)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        path, label = self.items[i]
        return load_image(path, channels=self.channels, size=self.size, crop_ratio=self.crop_ratio), label
