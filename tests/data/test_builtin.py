"""The built-in data sets, read from small files the tests write in the real on-disk formats."""

from __future__ import annotations

import gzip
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from cnnzoo.data import load_data
from cnnzoo.data.builtin import CIFAR100_CLASSES, read_idx
from cnnzoo.errors import DataError


def write_idx(path: Path, array: np.ndarray, *, compress: bool = False) -> None:
    """LeCun's IDX format: 0x00 0x00, type code (0x08 = ubyte), ndim, big-endian int32 sizes, data."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">i", d) for d in array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if compress:
        path = path.with_name(path.name + ".gz")
        raw = gzip.compress(raw)
    path.write_bytes(raw)


def make_mnist(root: Path, folder: str = "MNIST", n_train: int = 60, n_test: int = 20, compress: bool = False) -> None:
    rng = np.random.default_rng(0)
    raw = root / folder / "raw"
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % 10
        images = rng.integers(0, 256, (n, 28, 28))
        images[:, 0, 0] = labels  # a fingerprint to check that images and labels stay paired
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images, compress=compress)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels, compress=compress)


def write_cifar_batch(path: Path, data: np.ndarray, labels: list[int], key: bytes) -> None:
    """As the CIFAR "python version" was made: a pickled dict with bytes keys."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump({b"batch_label": b"test batch", key: labels, b"data": data,
                     b"filenames": [b"x.png"] * len(labels)}, f, protocol=2)


def make_cifar10(root: Path, per_batch: int = 10) -> None:
    rng = np.random.default_rng(0)
    base = root / "cifar-10-batches-py"
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        labels = [i % 10 for i in range(per_batch)]
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        data[:, 0] = labels  # red channel, pixel (0, 0)
        write_cifar_batch(base / name, data, labels, b"labels")


@pytest.mark.parametrize("compress", [False, True])
def test_mnist_reads_idx_files(tmp_path: Path, compress: bool) -> None:
    make_mnist(tmp_path, compress=compress)
    d = load_data("mnist", size=28, data_dir=tmp_path, download=False, val_fraction=0.1)
    assert d.classes == tuple("0123456789") and d.channels == 1 and not d.hflip_valid
    assert len(d.train) + len(d.val) == 60 and len(d.test) == 20
    for split in (d.train, d.val, d.test):
        assert split.images.shape[1:] == (1, 28, 28) and split.images.dtype == torch.uint8
        assert torch.equal(split.images[:, 0, 0, 0].long(), split.labels)


def test_fashion_mnist_uses_its_own_folder_and_classes(tmp_path: Path) -> None:
    make_mnist(tmp_path, folder="FashionMNIST")
    d = load_data("fashion-mnist", size=28, data_dir=tmp_path, download=False)
    assert d.classes[0] == "T-shirt/top" and d.hflip_valid


def test_idx_with_a_wrong_length_is_a_clear_error(tmp_path: Path) -> None:
    write_idx(tmp_path / "x", np.zeros((4, 28, 28)))
    (tmp_path / "x").write_bytes((tmp_path / "x").read_bytes()[:-5])
    with pytest.raises(DataError, match="IDX header says"):
        read_idx(tmp_path / "x")


def test_missing_data_set_says_where_to_put_it(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="MNIST not found: put train-images-idx3-ubyte"):
        load_data("mnist", size=28, data_dir=tmp_path, download=False)


def test_cifar10_reads_python_pickles(tmp_path: Path) -> None:
    make_cifar10(tmp_path)
    d = load_data("cifar10", size=32, data_dir=tmp_path, download=False, val_fraction=0.2)
    assert d.classes[0] == "airplane" and d.channels == 3
    assert len(d.train) + len(d.val) == 50 and len(d.test) == 10
    assert d.train.images.shape[1:] == (3, 32, 32)
    assert torch.equal(d.train.images[:, 0, 0, 0].long(), d.train.labels)


def test_cifar100_reads_fine_labels(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    base = tmp_path / "cifar-100-python"
    for name, n in (("train", 200), ("test", 100)):
        labels = [i % 100 for i in range(n)]
        write_cifar_batch(base / name, rng.integers(0, 256, (n, 3072), dtype=np.uint8), labels, b"fine_labels")
    d = load_data("cifar100", size=32, data_dir=tmp_path, download=False, val_fraction=0.5)
    assert len(CIFAR100_CLASSES) == 100 and d.classes == CIFAR100_CLASSES
    assert len(d.test) == 100 and sorted(set(d.train.labels.tolist())) == list(range(100))


def test_a_pickle_that_runs_code_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self) -> tuple:
            return os.system, (f"touch {marker}",)

    make_cifar10(tmp_path)
    with open(tmp_path / "cifar-10-batches-py" / "data_batch_1", "wb") as f:
        pickle.dump({b"data": Exploit(), b"labels": [0]}, f, protocol=2)
    with pytest.raises(DataError, match="refused to load posix.system|refused to load os.system"):
        load_data("cifar10", size=32, data_dir=tmp_path, download=False)
    assert not marker.exists()


def test_digits_split_is_stratified_fixed_by_the_seed_and_complete() -> None:
    a = load_data("digits", size=32, seed=3)
    b = load_data("digits", size=32, seed=3)
    c = load_data("digits", size=32, seed=4)
    assert torch.equal(a.test.labels, b.test.labels) and torch.equal(a.test.images, b.test.images)
    assert not torch.equal(a.test.images, c.test.images)
    assert len(a.train) + len(a.val) + len(a.test) == 1797
    counts = torch.bincount(a.test.labels, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37  # 20% of each class (~180 per class)
    assert a.train.images.shape[1:] == (1, 8, 8) and int(a.train.images.max()) == 255


@pytest.mark.parametrize(("name", "make", "preset"), [
    ("mnist", make_mnist, "affine"),  # glyphs: no mirror images
    ("fashion-mnist", lambda root: make_mnist(root, folder="FashionMNIST"), "flip"),  # centred objects: no shifts
    ("cifar10", make_cifar10, "crop-flip"),  # small photos: He et al. §4.2's pad-and-crop + flips
])
def test_auto_augmentation_follows_what_the_images_are(tmp_path: Path, name: str, make, preset: str) -> None:  # type: ignore[no-untyped-def]
    from cnnzoo.train.defaults import pick_augment
    make(tmp_path)
    assert pick_augment(load_data(name, size=32, data_dir=tmp_path, download=False))[0] == preset
