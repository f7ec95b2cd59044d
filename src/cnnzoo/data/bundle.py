"""The data sets and their loading: `load_data` -> `DataBundle` (see the package docstring)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..errors import DataError
from .builtin import BUILTIN
from .config import DataConfig
from .cache import cached_decode
from .folder import SPLIT_NAMES, StreamSplit, scan_folder
from .splits import TensorSplit, stratified_split

Split = TensorSplit | StreamSplit
MEMORY_BUDGET = 2 * 1024 ** 3  # decoded bytes under which an image folder is kept in memory


class BadFilesWarning(UserWarning):
    """Some files of an image folder were skipped (the message lists each one and why)."""


@dataclass
class DataBundle:
    name: str  # "digits", "cifar10", ... or the folder's path
    description: str
    classes: tuple[str, ...]
    channels: int  # channels of the stored images (1 or 3)
    hflip_valid: bool
    train: Split
    val: Split | None
    test: Split
    mean: tuple[float, ...]
    std: tuple[float, ...]
    eval_crop: float = 1.0  # fraction of the stored side kept by evaluation's centre crop
    skipped: list[tuple[Path, str]] = field(default_factory=list)

    def sizes(self) -> dict[str, int]:
        return {k: len(v) for k, v in (("train", self.train), ("val", self.val), ("test", self.test)) if v is not None}


def load_data(config: DataConfig | str, *, size: int | None = None, memory_budget: int | None = None,
              **fields: Any) -> DataBundle:
    """Load a built-in data set by name, or an image folder by path (images resized to `size`,
    default `config.img_size`). `config` is a `DataConfig`, or a data set name with the
    DataConfig fields as keywords (`load_data("digits", size=32, seed=0)`)."""
    cfg = config if isinstance(config, DataConfig) else DataConfig(data=config, **fields)
    side = size if size is not None else cfg.img_size
    if side is None:
        raise ValueError("load_data: give size= or a DataConfig with img_size")
    if cfg.data in BUILTIN:
        bundle = _load_builtin(cfg.data, seed=cfg.seed, root=Path(cfg.data_dir).expanduser(), download=cfg.download,
                               val_fraction=cfg.val_fraction, test_fraction=cfg.test_fraction)
    else:
        path = Path(cfg.data).expanduser()
        if not path.exists() and "/" not in cfg.data and "\\" not in cfg.data:
            raise DataError(f"unknown data set {cfg.data!r}: expected one of {', '.join(BUILTIN)} or a path to an "
                            f"image folder")
        bundle = _load_folder(path, size=side, seed=cfg.seed, val_fraction=cfg.val_fraction,
                              test_fraction=cfg.test_fraction, strict=cfg.strict,
                              memory_budget=MEMORY_BUDGET if memory_budget is None else memory_budget)
    if not len(bundle.test):  # refused rather than reported as top-1 0.0 on 0 images
        raise DataError(f"{cfg.data}: the test split is empty (--test-fraction {cfg.test_fraction}); this data "
                        "has no test split of its own: give --test-fraction > 0 (default 0.2)")
    from .limit import limit_bundle  # --limit-train / --limit-eval: stratified subsets for quick runs
    return limit_bundle(bundle, train=cfg.limit_train, evaluation=cfg.limit_eval, seed=cfg.seed)


def _load_builtin(name: str, *, seed: int, root: Path, download: bool, val_fraction: float,
                  test_fraction: float) -> DataBundle:
    b = BUILTIN[name]
    train, test = b.load(root, download)
    if test is None:  # digits: no official test split -> fixed stratified split from the seed
        val_idx, test_idx, train_idx = stratified_split(train.labels, (val_fraction, test_fraction), seed=seed)
        train, val, test = train.subset(train_idx), train.subset(val_idx), train.subset(test_idx)
    else:
        val_idx, train_idx = stratified_split(train.labels, (val_fraction,), seed=seed)
        train, val = train.subset(train_idx), train.subset(val_idx)
    _check_labels(name, b.classes, (train, val, test))
    mean, std = channel_stats(train.images)
    return DataBundle(name, b.description, b.classes, b.channels, b.hflip_valid, train,
                      val if len(val) else None, test, mean, std)


def _check_labels(name: str, classes: tuple[str, ...], splits: tuple[TensorSplit, ...]) -> None:
    for s in splits:
        if len(s) and (int(s.labels.min()) < 0 or int(s.labels.max()) >= len(classes)):
            raise DataError(f"{name}: labels outside 0..{len(classes) - 1}")


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of uint8 images (N, C, H, W), in [0, 1] units."""
    x = images.float().div_(255.0).transpose(0, 1).reshape(images.shape[1], -1)
    return tuple(x.mean(1).tolist()), tuple(x.std(1).clamp_min(1e-3).tolist())


def _load_folder(root: Path, *, size: int, seed: int, val_fraction: float, test_fraction: float, strict: bool,
                 memory_budget: int) -> DataBundle:
    layout = scan_folder(root)
    eval_crop = 0.875 if size >= 128 else 1.0  # photos: resize 256 / crop 224, as ImageNet evaluation
    stored = round(size / eval_crop)
    items = [it for split in layout.files.values() for it in split]
    in_memory = len(items) * 3 * stored * stored <= memory_budget
    decoded = cached_decode([p for p, _ in items], size=stored, crop_ratio=1.0, keep=in_memory)  # data/cache.py
    if decoded.skipped:
        listing = "\n".join(f"  {p}: {reason}" for p, reason in decoded.skipped)
        message = f"{len(decoded.skipped)} of {len(items)} files in {root} cannot be used:\n{listing}"
        if strict:
            raise DataError(message + "\n(--strict makes these errors; drop --strict to skip them)")
        warnings.warn(BadFilesWarning(message + "\nthey are skipped"), stacklevel=3)
    good = decoded.usable
    if not good:
        raise DataError(f"{root}: none of the {len(items)} files is a usable image")
    grey = all(decoded.grey[i] for i in good)
    channels = 1 if grey else 3
    labels = torch.tensor([items[i][1] for i in good], dtype=torch.long)
    present = set(labels.tolist())
    empty = [c for k, c in enumerate(layout.classes) if k not in present]
    if empty:
        raise DataError(f"{root}: class folder(s) {', '.join(map(repr, empty))} hold no usable image")

    # which split each good file belongs to
    owner = [name for name, files in layout.files.items() for _ in files]
    split_of = [owner[i] for i in good]
    if in_memory:
        images = torch.stack([decoded.images[i] for i in good])  # (N, 3, S, S) uint8
        images = images[:, :1].contiguous() if grey else images
        everything: Split = TensorSplit(images, labels)
    else:
        everything = StreamSplit([items[i] for i in good], channels=channels, size=stored, crop_ratio=1.0)
    parts = _folder_splits(split_of, labels, seed=seed, val_fraction=val_fraction, test_fraction=test_fraction)
    train, val, test = (_subset(everything, idx) if idx is not None else None for idx in parts)
    assert train is not None and test is not None
    if in_memory:
        mean, std = channel_stats(train.images)  # type: ignore[union-attr]
    else:
        sample = torch.stack([train[i][0] for i in torch.linspace(0, len(train) - 1, min(len(train), 256)).long()])
        mean, std = channel_stats(sample)
    # mirror images: assumed to keep their class in colour photos, not in grey scans (digits, letters)
    return DataBundle(str(root), f"image folder {root} ({len(good)} images, {len(layout.classes)} classes"
                      f"{', streamed from disk' if not in_memory else ''})", layout.classes, channels, channels == 3,
                      train, val, test, mean, std, eval_crop, decoded.skipped)


def _folder_splits(split_of: list[str], labels: torch.Tensor, *, seed: int, val_fraction: float,
                   test_fraction: float) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """(train, val, test) indices: the given train/val/test folders, otherwise a stratified split."""
    where = {name: torch.tensor([i for i, s in enumerate(split_of) if s == name], dtype=torch.long)
             for name in (*SPLIT_NAMES, "all")}
    if len(where["all"]):
        val, test, train = stratified_split(labels, (val_fraction, test_fraction), seed=seed)
        return train, val, test
    train, val, test = where["train"], where["val"], where["test"]
    if not len(test) and not len(val):
        raise DataError("a train/ folder needs a val/ or test/ folder beside it (or use a plain class layout)")
    if not len(test):
        test, val = val, None  # train/ + val/: the val folder is the held-out evaluation set
    elif not len(val) and val_fraction > 0:
        v, t = stratified_split(labels[train], (val_fraction,), seed=seed)
        val, train = train[v], train[t]
    return train, val if val is not None and len(val) else None, test


def _subset(split: Split, index: torch.Tensor) -> Split:
    if isinstance(split, TensorSplit):
        return split.subset(index)
    return StreamSplit([split.items[i] for i in index.tolist()], channels=split.channels, size=split.size,
                       crop_ratio=split.crop_ratio)
