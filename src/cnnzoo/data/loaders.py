"""Batches of uint8 images and labels on the training device, sharded across DDP ranks.

The order of an epoch is a function of (seed, epoch) only, so a resumed run sees exactly the
batches the uninterrupted one would have. With several processes (torchrun), each rank takes
every world-th sample of that order; training orders are padded (by repeating the first
samples, as DistributedSampler does) so that every rank runs the same number of steps, while
evaluation orders are not padded, so that metrics summed over ranks are exact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Sampler

from .folder import StreamSplit
from .splits import TensorSplit

Split = TensorSplit | StreamSplit


def epoch_order(n: int, *, shuffle: bool, seed: int, epoch: int, rank: int, world: int, pad: bool) -> Tensor:
    """Indices this rank visits in `epoch`."""
    if shuffle:
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
    else:
        order = torch.arange(n)
    if world > 1:
        if pad and n % world:
            order = torch.cat([order, order[: world - n % world]])
        order = order[rank::world]
    return order


class _FixedOrder(Sampler[int]):
    def __init__(self) -> None:
        self.order: list[int] = []

    def __iter__(self) -> Iterator[int]:
        return iter(self.order)

    def __len__(self) -> int:
        return len(self.order)


class BatchSource:
    """Iterates one split in batches of (uint8 images (B, C, H, W), int64 labels (B,)) on `device`."""

    def __init__(self, split: Split, *, batch_size: int, device: torch.device, shuffle: bool, seed: int = 0,
                 rank: int = 0, world: int = 1, workers: int = 0, training: bool = False) -> None:
        self.split, self.batch_size, self.device = split, batch_size, device
        self.shuffle, self.seed, self.rank, self.world, self.training = shuffle, seed, rank, world, training
        self._on_device: TensorSplit | None = None
        self.order_fn: Callable[[int], Tensor] | None = None  # epoch -> this rank's indices (balanced sampling)
        self._loader: DataLoader | None = None
        self._sampler = _FixedOrder()
        if isinstance(split, StreamSplit):
            self._loader = DataLoader(split, batch_size=batch_size, sampler=self._sampler, num_workers=workers,
                                      pin_memory=device.type == "cuda", persistent_workers=workers > 0,
                                      drop_last=False)

    def __len__(self) -> int:
        return -(-self.num_samples() // self.batch_size)

    def num_samples(self) -> int:
        n = len(self.split)
        if self.world == 1:
            return n
        return -(-n // self.world) if self.training else len(range(self.rank, n, self.world))

    def batches(self, epoch: int = 0) -> Iterator[tuple[Tensor, Tensor]]:
        order = self.order_fn(epoch) if self.order_fn is not None else epoch_order(
            len(self.split), shuffle=self.shuffle, seed=self.seed, epoch=epoch, rank=self.rank, world=self.world,
            pad=self.training)
        if self.training and len(order) % self.batch_size == 1 and len(order) > 1:
            order = order[:-1]  # a batch of one would break batch-norm in training mode
        if self._loader is not None:
            self._sampler.order = order.tolist()
            for x, y in self._loader:
                yield x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
            return
        data = self._device_split()
        order = order.to(self.device)
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            yield data.images.index_select(0, idx), data.labels.index_select(0, idx)

    def _device_split(self) -> TensorSplit:
        if self._on_device is None:
            assert isinstance(self.split, TensorSplit)
            self._on_device = TensorSplit(self.split.images.to(self.device), self.split.labels.to(self.device))
        return self._on_device
