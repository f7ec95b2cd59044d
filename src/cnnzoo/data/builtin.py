"""The bundled and standard data sets, read from their real on-disk formats.

- `digits`: scikit-learn's 1,797 8x8 handwritten digits (UCI optdigits), shipped with the
  package; no network ever.
- `mnist`, `fashion-mnist`: the IDX files (optionally .gz) in torchvision's layout
  `<data-dir>/MNIST/raw/` or `<data-dir>/FashionMNIST/raw/` (or directly in `<data-dir>`).
- `cifar10`, `cifar100`: the "python version" pickles in `<data-dir>/cifar-10-batches-py/` or
  `<data-dir>/cifar-100-python/`, read with an unpickler that only admits plain data and numpy
  arrays (a pickle that names anything else is refused: no code from a data file ever runs).

When the files are missing, torchvision's dataset classes download them (they need a network);
without one, the error says where to put a copy.
"""

from __future__ import annotations

import gzip
import importlib.util
import io
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from .splits import TensorSplit


@dataclass(frozen=True)
class Builtin:
    name: str
    classes: tuple[str, ...]
    channels: int
    hflip_valid: bool  # mirrored samples are still samples of their class
    load: Callable[[Path, bool], tuple[TensorSplit, TensorSplit | None]]  # (train, test or None)
    description: str


# -- digits ----------------------------------------------------------------------------------
def _load_digits(_root: Path, _download: bool) -> tuple[TensorSplit, None]:
    """scikit-learn's digits (0..16 intensities) as uint8 0..255, (1797, 1, 8, 8)."""
    spec = importlib.util.find_spec("sklearn")
    csv = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz" if spec and spec.origin else None
    if csv is not None and csv.is_file():
        # Reading the shipped file directly saves importing scikit-learn (~1.2 s).
        table = np.loadtxt(csv, delimiter=",", dtype=np.float64)
        pixels, labels = table[:, :-1], table[:, -1]
    else:  # pragma: no cover - a scikit-learn that moved its data file
        from sklearn.datasets import load_digits
        bunch = load_digits()
        pixels, labels = bunch.data, bunch.target
    images = np.rint(pixels * (255.0 / 16.0)).astype(np.uint8).reshape(-1, 1, 8, 8)
    return TensorSplit(torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64))), None


# -- IDX (MNIST, Fashion-MNIST) --------------------------------------------------------------
_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (LeCun's MNIST format): magic 0x0000TTDD, DD big-endian int32 sizes, data."""
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise DataError(f"{path}: not an IDX file (bad magic number)")
    dtype, ndim = np.dtype(_IDX_TYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise DataError(f"{path}: IDX header says {shape} ({expected} bytes) but the file has {len(raw)} bytes")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


def _find(root: Path, folder: str, stem: str) -> Path | None:
    for base in (root / folder / "raw", root / folder, root):
        for name in (stem, stem + ".gz"):
            if (base / name).is_file():
                return base / name
    return None


def _idx_loader(folder: str, torchvision_class: str) -> Callable[[Path, bool], tuple[TensorSplit, TensorSplit]]:
    stems = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")

    def load(root: Path, download: bool) -> tuple[TensorSplit, TensorSplit]:
        files = [_find(root, folder, s) for s in stems]
        if any(f is None for f in files):
            _download(torchvision_class, root, download, where=f"{root / folder / 'raw'}", files=stems)
            files = [_find(root, folder, s) for s in stems]
        assert all(files)
        xs, ys, xt, yt = (read_idx(f) for f in files)  # type: ignore[arg-type]

        def split(x: np.ndarray, y: np.ndarray, which: str) -> TensorSplit:
            if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
                raise DataError(f"{folder} {which}: images {x.shape} and labels {y.shape} do not match")
            return TensorSplit(torch.from_numpy(x.astype(np.uint8)[:, None].copy()), torch.from_numpy(y.astype(np.int64)))

        return split(xs, ys, "train"), split(xt, yt, "test")

    return load


# -- CIFAR pickles ---------------------------------------------------------------------------
class _DataOnlyUnpickler(pickle.Unpickler):
    """Admits only what CIFAR's pickles need: numpy array reconstruction and plain data."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str) -> object:
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refused to load {module}.{name}: a data file may only hold data")


def read_cifar_pickle(path: Path) -> dict[str, object]:
    try:
        obj = _DataOnlyUnpickler(io.BytesIO(path.read_bytes()), encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as e:
        raise DataError(f"{path}: not a CIFAR batch file ({e})") from None
    if not isinstance(obj, dict):
        raise DataError(f"{path}: not a CIFAR batch file (expected a dict)")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _cifar_loader(folder: str, train_files: tuple[str, ...], test_file: str, label_key: str,
                  torchvision_class: str) -> Callable[[Path, bool], tuple[TensorSplit, TensorSplit]]:
    def load(root: Path, download: bool) -> tuple[TensorSplit, TensorSplit]:
        base = root / folder
        names = (*train_files, test_file)
        if not all((base / n).is_file() for n in names):
            _download(torchvision_class, root, download, where=str(base), files=names)

        def split(files: tuple[str, ...]) -> TensorSplit:
            xs, ys = [], []
            for n in files:
                d = read_cifar_pickle(base / n)
                data, labels = np.asarray(d.get("data")), d.get(label_key)
                if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or labels is None \
                        or len(labels) != len(data):
                    raise DataError(f"{base / n}: expected uint8 'data' (N, 3072) and {len(data)} '{label_key}'")
                xs.append(data.reshape(-1, 3, 32, 32))
                ys.append(np.asarray(labels, dtype=np.int64))
            return TensorSplit(torch.from_numpy(np.concatenate(xs)), torch.from_numpy(np.concatenate(ys)))

        return split(train_files), split((test_file,))

    return load


def _download(torchvision_class: str, root: Path, download: bool, *, where: str, files: tuple[str, ...]) -> None:
    hint = f"put {', '.join(files)} in {where} (or point --data-dir at a copy)"
    if not download:
        raise DataError(f"{torchvision_class} not found: {hint}")
    try:  # pragma: no cover - needs a network
        import torchvision.datasets as tvd
        for train in (True, False):
            getattr(tvd, torchvision_class)(str(root), train=train, download=True)
    except Exception as e:  # pragma: no cover - no network, proxy, disk full...
        raise DataError(f"{torchvision_class} not found and the download failed ({e}); {hint}") from None


CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot")
CIFAR100_CLASSES = tuple(
    "apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus butterfly camel can "
    "castle caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile cup dinosaur dolphin "
    "elephant flatfish forest fox girl hamster house kangaroo keyboard lamp lawn_mower leopard lion lizard lobster "
    "man maple_tree motorcycle mountain mouse mushroom oak_tree orange orchid otter palm_tree pear pickup_truck "
    "pine_tree plain plate poppy porcupine possum rabbit raccoon ray road rocket rose sea seal shark shrew skunk "
    "skyscraper snail snake spider squirrel streetcar sunflower sweet_pepper table tank telephone television "
    "tiger tractor train trout tulip turtle wardrobe whale willow_tree wolf woman worm".split())
DIGITS = tuple(str(i) for i in range(10))

BUILTIN: dict[str, Builtin] = {b.name: b for b in (
    Builtin("digits", DIGITS, 1, False, _load_digits,
            "scikit-learn's handwritten digits: 1,797 8x8 scans (UCI optdigits)"),
    Builtin("mnist", DIGITS, 1, False, _idx_loader("MNIST", "MNIST"),
            "MNIST: 60,000 + 10,000 28x28 handwritten digits"),
    Builtin("fashion-mnist", FASHION_CLASSES, 1, True, _idx_loader("FashionMNIST", "FashionMNIST"),
            "Fashion-MNIST: 60,000 + 10,000 28x28 Zalando article images"),
    Builtin("cifar10", CIFAR10_CLASSES, 3, True,
            _cifar_loader("cifar-10-batches-py", tuple(f"data_batch_{i}" for i in range(1, 6)), "test_batch",
                          "labels", "CIFAR10"),
            "CIFAR-10: 50,000 + 10,000 32x32 colour images"),
    Builtin("cifar100", CIFAR100_CLASSES, 3, True,
            _cifar_loader("cifar-100-python", ("train",), "test", "fine_labels", "CIFAR100"),
            "CIFAR-100: 50,000 + 10,000 32x32 colour images, 100 fine classes"),
)}
