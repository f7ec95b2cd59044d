"""Stratified subsets of a loaded data set, for quick experiments on a small machine.

`cnnzoo train --limit-train 5000 --limit-eval 2000` (and every `cnnzoo experiment`) keeps the
class proportions of each split while cutting it to at most that many images; the subset
depends only on the seed, so two runs with the same limits see the same images.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from .splits import stratified_split

if TYPE_CHECKING:
    from .bundle import DataBundle, Split


def _limited(split: Split | None, limit: int | None, seed: int) -> Split | None:
    if split is None or limit is None or len(split) <= limit:
        return split
    from .bundle import _subset
    keep, _ = stratified_split(split.labels, (limit / len(split),), seed=seed)
    return _subset(split, keep)


def limit_bundle(bundle: DataBundle, *, train: int | None, evaluation: int | None, seed: int) -> DataBundle:
    """`bundle` with at most `train` training images and `evaluation` validation and test images
    each (None: all); the normalisation statistics stay those of the full training split."""
    if train is None and evaluation is None:
        return bundle
    return replace(bundle, train=_limited(bundle.train, train, seed), val=_limited(bundle.val, evaluation, seed + 1),
                   test=_limited(bundle.test, evaluation, seed + 2))
