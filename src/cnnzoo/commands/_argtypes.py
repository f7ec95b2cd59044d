"""argparse types that check a value where it is parsed: `type=at_least(1)`, `type=shape`,
`type=output_file(".png")`.

A bad value makes argparse print one line (`cnnzoo: error: <command>: argument --batch: must be an
integer >= 1, got '0'`, see `cli.OneLineParser`) and exit with status 2.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from pathlib import Path

MAX_SIDE = 16384  # pixels: larger inputs are no classification network's (and would not fit in memory)
MAX_CHANNELS = 4096
PLOT_SUFFIXES = (".png", ".svg", ".pdf", ".jpg", ".jpeg")  # what matplotlib writes by name


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


def fraction(text: str) -> float:
    """A number in [0, 1), e.g. `--prune 0.67`."""
    value = finite_float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1), got {text!r}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0 (a learning rate, a blur sigma)."""
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}")
    return value


def _first_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _check_writable_parent(path: Path, text: str) -> None:
    """The nearest existing folder above `path` must be a folder we may write into (a file
    there, e.g. `out.png/x.png`, or a read-only folder fails only after the work otherwise)."""
    above = _first_existing(path.parent)
    if not above.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r}: {str(above)!r} is a file; expected a folder")
    if not os.access(above, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{text!r}: the folder {str(above)!r} is not writable")


def output_file(*suffixes: str) -> Callable[[str], str]:
    """A file to write (ending in one of `suffixes`, when given): not a folder, in a folder that
    exists or can be made, and writable. Returned as text."""
    def parse(text: str) -> str:
        path = Path(text).expanduser()
        if path.is_dir():
            raise argparse.ArgumentTypeError(f"{text!r} is a folder; expected a file name")
        if suffixes and path.suffix.lower() not in suffixes:
            raise argparse.ArgumentTypeError(f"{text!r}: expected a file name ending in {' or '.join(suffixes)}")
        if path.exists() and not os.access(path, os.W_OK):
            raise argparse.ArgumentTypeError(f"{text!r} exists and is not writable")
        _check_writable_parent(path, text)
        return text
    parse.__name__ = "file name"
    return parse


def output_folder(text: str) -> str:
    """A folder to write into: a folder or nothing yet, under a writable folder. Returned as text."""
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a file; expected a folder")
    if path.is_dir():
        if not os.access(path, os.W_OK | os.X_OK):
            raise argparse.ArgumentTypeError(f"the folder {text!r} is not writable")
        return text
    _check_writable_parent(path, text)
    return text
