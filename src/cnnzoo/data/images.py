"""Reading one image file into a uint8 tensor, whatever the file holds.

Valid images in any common mode are converted correctly: grey, grey+alpha, palette (with or
without transparency), RGBA (composited on white), CMYK, YCbCr, 1-bit, 16-bit and 32-bit
integer grey (scaled, not clipped), float grey; EXIF orientation is applied. Files that cannot
be used raise `BadImage` with the reason: empty, not an image, corrupt or truncated, or a
decompression bomb (more than `MAX_PIXELS` pixels), or an extreme strip (aspect beyond `MAX_ASPECT`:1).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from torch import Tensor

MAX_PIXELS = 89_478_485  # PIL's own warning threshold (~ 0.25 GiB of 24-bit pixels)
MAX_ASPECT = 20  # longer side / shorter side: beyond it a file is a strip, not an image to classify
_WHITE = 255


class BadImage(Exception):
    """A file that cannot be used as an image; the message is the reason."""


def _to_uint8_array(img: Image.Image, channels: int) -> np.ndarray:
    """(H, W, channels) uint8 from a PIL image of any mode."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        a = np.asarray(img).astype(np.int64)
        # 16-bit data (also when PIL widened it to 32-bit "I"): scale 0..65535 -> 0..255.
        top = 65535 if mode.startswith("I;16") or a.max(initial=0) > 255 else 255
        grey = (np.clip(a, 0, top) * 255 // top).astype(np.uint8)
        img = Image.fromarray(grey, mode="L")
    elif mode == "F":
        a = np.asarray(img, dtype=np.float64)
        scale = 255.0 if a.max(initial=0.0) <= 1.0 else 1.0
        img = Image.fromarray(np.clip(a * scale, 0, 255).round().astype(np.uint8), mode="L")
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (_WHITE, _WHITE, _WHITE, 255))
        img = Image.alpha_composite(background, rgba).convert("RGB")
    img = img.convert("L" if channels == 1 else "RGB")
    a = np.asarray(img, dtype=np.uint8)
    return a[:, :, None] if a.ndim == 2 else a


def is_grey(img: Image.Image) -> bool:
    """True for single-channel modes (the image carries no colour)."""
    return img.mode in ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F") or (
        img.mode == "P" and _palette_is_grey(img))


def _palette_is_grey(img: Image.Image) -> bool:
    palette = img.getpalette() or []
    return all(palette[i] == palette[i + 1] == palette[i + 2] for i in range(0, len(palette) - 2, 3))


def open_image(path: str | Path) -> Image.Image:
    """Open, orient (EXIF) and fully decode `path`; raises BadImage with the reason."""
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as e:
        raise BadImage(f"cannot read ({e.strerror})") from None
    if size == 0:
        raise BadImage("empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(p) as img:
                w, h = img.size
                if w * h > MAX_PIXELS:
                    raise BadImage(f"decompression bomb: {w}x{h} = {w * h:,} pixels > {MAX_PIXELS:,}")
                img.load()  # full decode: finds truncated and corrupt data
                img = ImageOps.exif_transpose(img) or img
                img.load()
                return img
    except BadImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise BadImage(f"decompression bomb: {e}") from None
    except Image.UnidentifiedImageError:
        raise BadImage("not an image (unrecognised format)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise BadImage(f"corrupt or truncated image ({reason})") from None


def resize_square(img: Image.Image, size: int, *, crop_ratio: float = 1.0) -> Image.Image:
    """Resize the shorter side to size / crop_ratio (antialiased), then centre-crop size x size.

    crop_ratio 0.875 is the usual ImageNet evaluation protocol (resize 256, crop 224)."""
    short = max(size, round(size / crop_ratio))
    w, h = img.size
    if max(w, h) > MAX_ASPECT * min(w, h):
        raise BadImage(f"aspect ratio {w}x{h} is beyond {MAX_ASPECT}:1 (not a picture of one object)")
    scale = short / min(w, h)
    nw, nh = max(short, round(w * scale)), max(short, round(h * scale))
    left, top = (nw - size) // 2, (nh - size) // 2
    # only the kept region is resampled (`box`, in source pixels): memory is size x size, whatever the aspect
    box = (left / scale, top / scale, (left + size) / scale, (top + size) / scale)
    return img.resize((size, size), Image.Resampling.BILINEAR, box=box)


def read_image(path: str | Path, *, channels: int, size: int | None = None,
               crop_ratio: float = 1.0) -> tuple[Tensor, bool]:
    """(uint8 tensor (channels, H, W), whether the file was single-channel); square `size`
    (shorter side resized to size / crop_ratio, then centre-cropped to size) if given."""
    img = open_image(path)
    grey = is_grey(img)
    a = _to_uint8_array(img, channels)  # (H, W, channels), modes already resolved
    if size is not None:
        img = resize_square(Image.fromarray(a[:, :, 0] if channels == 1 else a), size, crop_ratio=crop_ratio)
        a = np.asarray(img, dtype=np.uint8)
        a = a[:, :, None] if a.ndim == 2 else a
    return torch.from_numpy(a.transpose(2, 0, 1).copy()), grey


def load_image(path: str | Path, *, channels: int, size: int | None = None, crop_ratio: float = 1.0) -> Tensor:
    """The image as a uint8 tensor (channels, H, W); see `read_image`."""
    return read_image(path, channels=channels, size=size, crop_ratio=crop_ratio)[0]
