"""Input sizes as people write them: "3x224x224" (C x H x W), and maps as papers print them.

    parse_chw("3x224x224") == (3, 224, 224)
    parse_chw("224", channels=1) == (1, 224, 224)       # H: square, the model's channels
    format_chw((3, 224, 224)) == "3x224x224"
    format_hwc((64, 56, 56)) == "56x56x64"               # an output map, as the tables print it
"""

from __future__ import annotations

from collections.abc import Sequence

CHW = tuple[int, int, int]


def parse_chw(value: str | int | Sequence[int], *, channels: int = 3) -> CHW:
    """(C, H, W) from "CxHxW", "HxW" or "H" (also with '×'), an int H, or a sequence of 1-3 ints;
    missing channels are `channels` (0: "the model's", for the caller to fill), a single side is
    square. A ValueError says what was expected."""
    if isinstance(value, str):
        try:
            parts = tuple(int(p) for p in value.lower().replace("×", "x").replace(" ", "").split("x"))
        except ValueError:
            raise ValueError(f"input size {value!r}: expected CxHxW, e.g. 3x224x224, or H") from None
    elif isinstance(value, int):
        parts = (value,)
    else:
        parts = tuple(int(p) for p in value)
    if not 1 <= len(parts) <= 3 or min(parts) < 1:
        raise ValueError(f"input size {value!r}: expected CxHxW with positive sizes, e.g. 3x224x224, or H")
    if len(parts) == 1:
        parts = (channels, parts[0], parts[0])
    elif len(parts) == 2:
        parts = (channels, *parts)
    return parts  # type: ignore[return-value]


def format_chw(size: Sequence[int]) -> str:
    """(C, H, W) -> "CxHxW"."""
    c, h, w = size
    return f"{c}x{h}x{w}"


def format_hwc(size: Sequence[int]) -> str:
    """(C, H, W) -> "HxWxC", the order of the papers' output-size columns."""
    c, h, w = size
    return f"{h}x{w}x{c}"
