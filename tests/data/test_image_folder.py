"""Image folders with every kind of valid and invalid file (issue 2, "Bad input")."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cnnzoo.data import BadFilesWarning, load_data
from cnnzoo.data.images import load_image
from cnnzoo.errors import DataError


def rgb(path: Path, color: tuple[int, int, int], size: tuple[int, int] = (24, 24), fmt: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path, fmt)
    return path


def two_class_folder(root: Path, n: int = 6) -> Path:
    for i in range(n):
        rgb(root / "cat" / f"c{i}.png", (200, 30, 30))
        rgb(root / "dog" / f"d{i}.png", (30, 30, 200))
    return root


# -- valid images in unusual modes are converted correctly ------------------------------------
def test_grey_rgba_palette_cmyk_and_16bit_are_converted(tmp_path: Path) -> None:
    Image.new("L", (4, 4), 77).save(tmp_path / "grey.png")
    Image.new("RGBA", (4, 4), (255, 0, 0, 0)).save(tmp_path / "clear.png")  # fully transparent -> white
    Image.new("RGBA", (4, 4), (255, 0, 0, 255)).save(tmp_path / "opaque.png")
    pal = Image.new("P", (4, 4), 1)
    pal.putpalette([0, 0, 0, 0, 255, 0] + [0] * 762)
    pal.save(tmp_path / "palette.png")
    Image.new("CMYK", (4, 4), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg", quality=100)
    Image.fromarray(np.full((4, 4), 65535, dtype=np.uint16)).save(tmp_path / "white16.png")
    Image.fromarray(np.full((4, 4), 32896, dtype=np.uint16)).save(tmp_path / "mid16.png")

    def px(name: str, channels: int = 3) -> list[int]:
        return load_image(tmp_path / name, channels=channels)[:, 1, 1].tolist()

    assert px("grey.png") == [77, 77, 77] and px("grey.png", 1) == [77]
    assert px("clear.png") == [255, 255, 255]
    assert px("opaque.png") == [255, 0, 0]
    assert px("palette.png") == [0, 255, 0]
    r, g, b = px("cmyk.jpg")
    assert r > 240 and g < 15 and b < 15
    assert px("white16.png", 1) == [255] and px("mid16.png", 1) == [128]  # scaled, not clipped at 255
    assert px("opaque.png", 1) == [round(0.299 * 255)]


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    img = Image.new("RGB", (40, 20), (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, 20, 20))  # left half red
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    img.save(tmp_path / "photo.jpg", exif=exif, quality=95)
    t = load_image(tmp_path / "photo.jpg", channels=3)
    assert t.shape == (3, 40, 20)  # portrait once oriented
    assert t[0, 5, 10] > 200 and t[2, 5, 10] < 60  # top is the (formerly left) red half
    assert t[2, 35, 10] > 200


# -- unusable files are skipped with one warning, or are errors with --strict -----------------
def bad_files(root: Path) -> dict[str, str]:
    cat = root / "cat"
    (cat / "empty.png").write_bytes(b"")
    (cat / "notes.txt").write_text("not an image")
    (cat / "garbage.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4)
    good = rgb(root.parent / "big.jpg", (10, 200, 10), size=(256, 256), fmt="JPEG")
    (cat / "truncated.jpg").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    good.unlink()
    Image.new("1", (10_000, 9_000)).save(cat / "bomb.png")  # 90 M pixels in a few kB
    return {"empty.png": "empty file", "notes.txt": "not an image", "garbage.jpg": "",
            "truncated.jpg": "truncated", "bomb.png": "decompression bomb"}


def test_bad_files_are_skipped_with_one_warning_listing_each(tmp_path: Path) -> None:
    root = two_class_folder(tmp_path / "pets")
    expected = bad_files(root)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        d = load_data(str(root), size=16, seed=0, val_fraction=0.0, test_fraction=0.34)
    ours = [w for w in caught if issubclass(w.category, BadFilesWarning)]
    assert len(ours) == 1
    text = str(ours[0].message)
    for name, reason in expected.items():
        line = next(ln for ln in text.splitlines() if name in ln)
        assert reason in line, line
    assert len(d.train) + len(d.test) == 12 and d.skipped and len(d.skipped) == 5


def test_strict_makes_bad_files_an_error(tmp_path: Path) -> None:
    root = two_class_folder(tmp_path / "pets")
    bad_files(root)
    with pytest.raises(DataError, match=r"5 of 17 files .* cannot be used(.|\n)*--strict"):
        load_data(str(root), size=16, strict=True)


# -- layout --------------------------------------------------------------------------------------
def test_hidden_folders_are_never_classes_or_samples(tmp_path: Path) -> None:
    root = two_class_folder(tmp_path / "pets")
    rgb(root / ".git" / "objects.png", (0, 0, 0))
    rgb(root / ".ipynb_checkpoints" / "x.png", (0, 0, 0))
    rgb(root / "cat" / ".ipynb_checkpoints" / "c0-checkpoint.png", (0, 0, 0))
    (root / "cat" / ".DS_Store").write_bytes(b"\x00\x01")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning either: hidden files are not "bad files"
        d = load_data(str(root), size=16, val_fraction=0.0, test_fraction=0.5)
    assert d.classes == ("cat", "dog") and len(d.train) + len(d.test) == 12


def test_train_val_test_folders_are_used_as_given(tmp_path: Path) -> None:
    for split, n in (("train", 4), ("val", 2), ("test", 3)):
        two_class_folder(tmp_path / "pets" / split, n)
    d = load_data(str(tmp_path / "pets"), size=16)
    assert (len(d.train), len(d.val), len(d.test)) == (8, 4, 6)
    assert d.channels == 3 and d.hflip_valid


def test_grey_folders_stay_single_channel(tmp_path: Path) -> None:
    for c in ("a", "b"):
        for i in range(3):
            (tmp_path / "g" / c).mkdir(parents=True, exist_ok=True)
            Image.new("L", (10, 10), 40 * i).save(tmp_path / "g" / c / f"{i}.png")
    d = load_data(str(tmp_path / "g"), size=8, val_fraction=0.0, test_fraction=0.34)
    assert d.channels == 1 and d.train.images.shape[1:] == (1, 8, 8)


@pytest.mark.parametrize("case, message", [
    ("empty_class", "class folder is empty"),
    ("one_class", "only one class folder"),
    ("no_classes", "no class folders found"),
    ("all_bad", "none of the 4 files is a usable image"),
    ("missing", "does not exist"),
])
def test_folder_layout_errors(tmp_path: Path, case: str, message: str) -> None:
    root = tmp_path / "data"
    if case == "empty_class":
        two_class_folder(root)
        (root / "bird").mkdir()
    elif case == "one_class":
        rgb(root / "cat" / "a.png", (1, 2, 3))
    elif case == "no_classes":
        rgb(root / "a.png", (1, 2, 3))
    elif case == "all_bad":
        for c in ("a", "b"):
            (root / c).mkdir(parents=True)
            (root / c / "x.txt").write_text("x")
            (root / c / "y.png").write_bytes(b"")
    with pytest.raises(DataError, match=message):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            load_data(str(root), size=16)


def test_large_folders_stream_from_disk(tmp_path: Path) -> None:
    root = two_class_folder(tmp_path / "pets", n=5)
    d = load_data(str(root), size=16, memory_budget=1, val_fraction=0.0, test_fraction=0.2)
    x, y = d.train[0]
    assert x.dtype == torch.uint8 and x.shape == (3, 16, 16) and y in (0, 1)
    assert "streamed" in d.description
