"""The machine's own speed limits, measured: fp32 matrix-multiply rate and memory bandwidth.

A convolution network's forward pass is, at best, its mult-adds done at the rate of a large
matrix product (im2col / implicit GEMM), so `mult_adds x img/s / GEMM rate` says how close a
backend comes to what the hardware does on its best kernel. Small and depthwise networks are
bound by memory traffic instead: `bandwidth / bytes moved per image` is their own limit.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import torch

GEMM_SIZE = 1024  # a square fp32 product of this side: 2.1 GFLOP, big enough to reach peak
COPY_BYTES = 64 * 2**20  # a copy larger than any last-level cache


@dataclass(frozen=True)
class MachineRates:
    gemm_gflops: float  # fp32 (or the given dtype) FLOP/s of a large matmul, 1e9 units (FLOP = 2 x MAC)
    bandwidth_gbs: float  # bytes/s of a large tensor copy (read + write), 1e9 units
    dtype: str
    device: str


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _median_seconds(fn: object, device: torch.device, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure_gemm(device: torch.device, *, dtype: torch.dtype = torch.float32, size: int = GEMM_SIZE,
                 repeats: int = 7) -> float:
    """GFLOP/s of `size`x`size` @ `size`x`size` (median of `repeats` after 2 warm-ups)."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=g).to(device, dtype)
    b = torch.randn(size, size, generator=g).to(device, dtype)
    out = torch.empty(size, size, device=device, dtype=dtype)
    for _ in range(2):
        torch.mm(a, b, out=out)
    seconds = _median_seconds(lambda: torch.mm(a, b, out=out), device, repeats)
    return 2 * size ** 3 / seconds / 1e9


def measure_bandwidth(device: torch.device, *, nbytes: int = COPY_BYTES, repeats: int = 7) -> float:
    """GB/s of a large contiguous copy, counting the bytes read and written."""
    src = torch.ones(nbytes // 4, device=device)
    dst = torch.empty_like(src)
    dst.copy_(src)
    seconds = _median_seconds(lambda: dst.copy_(src), device, repeats)
    return 2 * nbytes / seconds / 1e9


def measure_rates(device: torch.device, *, dtype: torch.dtype = torch.float32) -> MachineRates:
    return MachineRates(measure_gemm(device, dtype=dtype), measure_bandwidth(device), str(dtype).replace("torch.", ""),
                        str(device))
