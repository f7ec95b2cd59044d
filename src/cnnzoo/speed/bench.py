"""`cnnzoo bench`: throughput, latency and peak memory of each backend, against the machine's
own limits measured in the same run.

Each backend is built, warmed up (`warmup` batches: compilation, oneDNN primitive caches,
allocator), then timed batch by batch for `repeats` batches; img/s = batch / median seconds per
batch, latency = median and 90th percentile of the per-batch times. The GEMM-bound limit is
`GEMM rate / (2 x mult-adds per image)` (x3 for a training step: forward, and the two products
of the backward pass); `% of GEMM limit` = img/s / that limit. The memory-bound limit is
`bandwidth / bytes per image`, bytes being each layer's input and output maps read or written
once (x3 for training) plus the weights once per batch: small and depthwise networks hit it
(or per-operator overheads) long before the GEMM limit.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field

import torch
from torch import Tensor, nn

from . import backends as B
from .gemm import MachineRates, measure_rates

BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}


@dataclass(frozen=True)
class Row:
    backend: str
    img_per_s: float | None
    median_ms: float | None
    p90_ms: float | None
    peak_mib: float | None
    pct_of_gemm_limit: float | None
    note: str = ""


@dataclass
class BenchReport:
    model: str
    device: str
    mode: str  # "inference" or "train"
    batch: int
    input_size: tuple[int, int, int]
    threads: int
    mult_adds_per_image: float
    bytes_per_image: float
    gemm_gflops: float
    bandwidth_gbs: float
    gemm_limit_img_s: float
    memory_limit_img_s: float
    layers: int  # leaf layers one forward pass runs (each costs a fixed dispatch overhead)
    gemm_dtype: str = "float32"  # the matrix type the GEMM rate was measured in (bf16/fp16: % = MFU)
    rows: list[Row] = field(default_factory=list)

    @property
    def best(self) -> Row | None:
        timed = [r for r in self.rows if r.img_per_s]
        return max(timed, key=lambda r: r.img_per_s or 0.0) if timed else None

    def to_json(self) -> dict:
        d = asdict(self)
        d["best"] = self.best.backend if self.best else None
        return d


def layer_traffic(model: nn.Module, example: Tensor) -> tuple[int, float]:
    """(leaf layers run, bytes each image moves: every leaf layer's input and output once, fp32)."""
    total = [0, 0]

    def hook(_m: nn.Module, inputs: tuple, output: object) -> None:
        total[0] += 1
        tensors = [t for t in (*inputs, output) if isinstance(t, Tensor)]
        total[1] += sum(t.numel() * t.element_size() for t in tensors)
    leaves = [m for m in model.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        with torch.no_grad():
            model(example[:1])
    finally:
        for h in handles:
            h.remove()
    return total[0], float(total[1])


def time_batches(run: Callable[[Tensor], object], x: Tensor, *, warmup: int, repeats: int) -> list[float]:
    """Seconds of each of `repeats` calls after `warmup` untimed ones (CUDA synchronised)."""
    sync = torch.cuda.synchronize if x.device.type == "cuda" else (lambda: None)
    for _ in range(warmup):
        run(x)
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(x)
        sync()
        times.append(time.perf_counter() - start)
    return times


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence file descriptor 2 (the profiler's C++ start/stop lines) for a moment."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def peak_mib(run: Callable[[Tensor], object], x: Tensor, held: int) -> float:
    """Peak MiB in use during one call: `held` bytes (weights, input) + what the call allocates
    (the profiler's allocation events on CPU, the caching allocator's peak on CUDA)."""
    from ..analysis.memory import _cpu_peak, _cuda_peak
    if x.device.type == "cuda":
        return (held + _cuda_peak(lambda: run(x), x.device)) / 2**20
    with _quiet_stderr():
        return (held + _cpu_peak(lambda: run(x))) / 2**20


def _row(runner: B.Runner, x: Tensor, report: BenchReport, *, warmup: int, repeats: int, held: int,
         limit: float) -> Row:
    times = time_batches(runner.run, x, warmup=warmup, repeats=repeats)
    med = statistics.median(times)
    p90 = statistics.quantiles(times, n=10)[-1] if len(times) >= 2 else med
    rate = report.batch / med
    mem = peak_mib(runner.run, x, held) if runner.torch_memory else None
    note = runner.note or ("" if mem is not None else "memory held by ONNX Runtime's own arena: not counted")
    return Row(runner.name, rate, med * 1e3, p90 * 1e3, mem, 100 * rate / limit, note)


def run_bench(model: nn.Module, x: Tensor, *, name: str, mult_adds: float, backends: list[str], train: bool,
              precision: str = "fp32", warmup: int = 3, repeats: int = 10,
              rates: MachineRates | None = None) -> BenchReport:
    """Time each backend on batch `x` (normalised float input on the model's device)."""
    rates = rates or measure_rates(x.device)
    ops, traffic = layer_traffic(model, x)
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    factor = 3 if train else 1
    per_image = factor * (traffic + weights / len(x))
    report = BenchReport(name, str(x.device), "train" if train else "inference", len(x), tuple(x.shape[1:]),
                         torch.get_num_threads(), mult_adds, per_image, rates.gemm_gflops, rates.bandwidth_gbs,
                         rates.gemm_gflops * 1e9 / (2 * factor * mult_adds), rates.bandwidth_gbs * 1e9 / per_image, ops, rates.dtype)
    held = weights + x.numel() * x.element_size()
    for backend in backends:
        try:
            runner = (B.training_runner(backend, model, x, precision=precision) if train
                      else B.inference_runner(backend, model, x))
        except B.Unavailable as e:
            report.rows.append(Row(backend, None, None, None, None, None, f"skipped: {e}"))
            continue
        report.rows.append(_row(runner, x, report, warmup=warmup, repeats=repeats, held=held,
                                limit=report.gemm_limit_img_s))
    return report


def format_report(r: BenchReport) -> str:
    c, h, w = r.input_size
    lines = [f"{r.model} {r.mode}, batch {r.batch} x {c}x{h}x{w}, {r.device}, {r.threads} threads: "
             f"{r.mult_adds_per_image / 1e9:.3g} G mult-adds/image",
             f"machine: {r.gemm_dtype} GEMM {r.gemm_gflops:.1f} GFLOP/s -> GEMM-bound limit {r.gemm_limit_img_s:.1f} img/s; "
             f"copy bandwidth {r.bandwidth_gbs:.1f} GB/s, {r.bytes_per_image / 2**20:.2f} MiB/image moved -> "
             f"memory-bound limit {r.memory_limit_img_s:.1f} img/s; {r.layers} layers per forward pass",
             "", f"{'backend':<16}{'img/s':>10}{'median ms':>11}{'p90 ms':>9}{'peak MiB':>10}{'% GEMM limit':>14}  note"]
    for row in r.rows:
        if row.img_per_s is None:
            lines.append(f"{row.backend:<16}{'-':>10}{'-':>11}{'-':>9}{'-':>10}{'-':>14}  {row.note}")
            continue
        mem = f"{row.peak_mib:.0f}" if row.peak_mib is not None else "-"
        lines.append(f"{row.backend:<16}{row.img_per_s:>10.1f}{row.median_ms:>11.2f}{row.p90_ms:>9.2f}{mem:>10}"
                     f"{row.pct_of_gemm_limit:>13.0f}%  {row.note}")
    best = r.best
    if best is not None:
        bound = "GEMM" if r.gemm_limit_img_s <= r.memory_limit_img_s else "memory"
        lines += ["", f"fastest: {best.backend}, {best.img_per_s:.1f} img/s = {best.pct_of_gemm_limit:.0f}% of the "
                  f"GEMM-bound limit, {100 * best.img_per_s / r.memory_limit_img_s:.0f}% of the memory-bound one "
                  f"({bound} binds first)"]
    return "\n".join(lines)
