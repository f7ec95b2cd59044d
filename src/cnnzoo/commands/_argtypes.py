"""argparse types that check a value where it is parsed: `type=at_least(1)`, `type=shape`.

A bad value makes argparse print one line (`cnnzoo: error: <command>: argument --batch: must be an
integer >= 1, got '0'`, see `cli.OneLineParser`) and exit with status 2.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

MAX_SIDE = 16384  # pixels: larger inputs are no classification network's (and would not fit in memory)
MAX_CHANNELS = 4096


def at_least(low: int, high: int | None = None) -> Callable[[str], int]:
    """An integer in [low, high]."""
    def parse(text: str) -> int:
        bound = f">= {low}" if high is None else f"in {low}..{high}"
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer {bound}, got {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be an integer {bound}, got {text!r}")
        return value
    parse.__name__ = "integer"
    return parse


def finite_float(text: str) -> float:
    """A finite number (no nan, no inf)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def parse_shape(text: str) -> tuple[int, int, int]:
    """'CxHxW' (or 'H' for a square input of the model's channels, returned as (0, H, H)) with
    every size positive and no larger than a real network's input. Raises ValueError."""
    from ..input_size import parse_chw
    c, h, w = parse_chw(text, channels=0)
    if max(h, w) > MAX_SIDE or c > MAX_CHANNELS:
        raise ValueError(f"{text!r} is larger than any network input (sides <= {MAX_SIDE}, "
                         f"channels <= {MAX_CHANNELS})")
    return c, h, w


def shape(text: str) -> str:
    """argparse type for `--input CxHxW`: checked here, passed on as text."""
    try:
        parse_shape(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text
