"""`cnnzoo bench RUN|CHECKPOINT|MODEL`: img/s, latency and peak memory of each backend."""

from __future__ import annotations

import argparse
import json

from ..errors import ConfigError
from ..speed import INFERENCE_BACKENDS
from ._argtypes import at_least, shape
from ._common import add_model_source_arguments


def parse_input(text: str) -> tuple[int, int, int]:
    from ..input_size import parse_chw
    if text.lower().replace("×", "x").count("x") != 2:
        raise ConfigError(f"--input {text!r}: expected CxHxW, e.g. 3x224x224")
    try:
        return parse_chw(text)
    except ValueError as e:
        raise ConfigError(f"--input {e}") from None


MAX_BATCH_BYTES = 4 * 2**30  # the fp32 input batch alone; beyond it no backend's timing is worth the wait


def input_size(args: argparse.Namespace, loaded) -> tuple[tuple[int, int, int], int]:  # type: ignore[no-untyped-def]
    """((C, H, W) to time: --input or the model's, checked against the model and memory; the
    model's mult-adds at that size, counted on the CPU at batch 1)."""
    import torch

    from ..analysis import count_mult_adds
    c, h, w = parse_input(args.input) if args.input else tuple(loaded.meta["input_size"])
    if c != loaded.model.in_chans:
        raise ConfigError(f"--input {args.input}: {loaded.meta.get('model')} takes {loaded.model.in_chans} channels")
    if args.batch * c * h * w * 4 > MAX_BATCH_BYTES:
        raise ConfigError(f"--batch {args.batch} of {c}x{h}x{w} inputs is {args.batch * c * h * w * 4 / 2**30:.0f} "
                          f"GiB before any activation; expected at most {MAX_BATCH_BYTES // 2**30} GiB")
    try:  # the one forward pass that also tells whether the model takes this size at all
        with torch.device("cpu"):
            mult_adds = count_mult_adds(loaded.model.cpu(), (c, h, w))
    except (RuntimeError, ValueError) as e:
        raise ConfigError(f"--input {c}x{h}x{w}: too small or otherwise unfit for {loaded.meta.get('model')} "
                          f"({str(e).strip().splitlines()[0][:200]})") from None
    return (c, h, w), mult_adds


def backends_for(args: argparse.Namespace, device_type: str) -> list[str]:
    from ..speed import backends as B
    if args.backend:
        return list(dict.fromkeys(args.backend))
    names = list(B.TRAINING if args.train else B.INFERENCE)
    if device_type == "cuda" and not args.train and args.precision != "fp32":
        names += [p for p in B.HALF if args.precision in ("all", p)]
    return names


def run(args: argparse.Namespace) -> int:
    import torch

    from ..speed.bench import format_report, run_bench
    from ..train.inference import open_model
    from ..train.trainer import pick_device
    device = pick_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    loaded = open_model(args.source, device=device, pretrained=args.pretrained)
    (c, h, w), mult_adds = input_size(args, loaded)
    x = torch.randn(args.batch, c, h, w, generator=torch.Generator().manual_seed(0)).to(device)
    loaded.model.to(device)
    precision = args.precision if args.train and args.precision != "all" else "fp32"
    from ..speed.gemm import measure_rates
    # a bf16/fp16 training step is bounded by that type's matrix rate: % of it is the MFU. On a CPU
    # too: with AMX (Sapphire Rapids) bf16 matmuls run ~4x fp32's, without it often slower than fp32
    gemm_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision, torch.float32)
    rates = measure_rates(device, dtype=gemm_dtype)
    report = run_bench(loaded.model, x, name=str(loaded.meta.get("model")), mult_adds=float(mult_adds),
                       backends=backends_for(args, device.type), train=args.train, precision=precision,
                       warmup=args.warmup, repeats=args.repeats, rates=rates)
    print(json.dumps(report.to_json(), indent=2) if args.json else format_report(report))
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="throughput of each backend vs the machine's limits",
                       description="Images per second, latency (median, p90) and peak memory of a model on each "
                       "backend (eager NCHW, channels-last, fused: batch norm folded into the convolutions, torch.compile, "
                       "ONNX Runtime; bf16/fp16 on CUDA), "
                       "beside the machine's fp32 GEMM rate and copy bandwidth measured in the same run: "
                       "%% of GEMM limit = mult-adds x img/s / GEMM rate.")
    add_model_source_arguments(p, what="the model to time")
    p.add_argument("--batch", type=at_least(1, 65536), default=8)
    p.add_argument("--input", metavar="CxHxW", type=shape, help="input size (default: the model's)")
    p.add_argument("--train", action="store_true", help="time training steps (forward + backward + SGD step)")
    p.add_argument("--precision", choices=("all", "fp32", "bf16", "fp16"), default="all",
                   help="inference: which half-precision rows to add on CUDA (default all); "
                        "--train: autocast dtype (default fp32)")
    p.add_argument("--backend", action="append", metavar="NAME",
                   choices=(*INFERENCE_BACKENDS, "bf16", "fp16"),
                   help="time only these (repeatable)")
    p.add_argument("--warmup", type=at_least(0, 10_000), default=3, help="untimed batches per backend")
    p.add_argument("--repeats", type=at_least(1, 100_000), default=10, help="timed batches per backend (medians reported)")
    p.add_argument("--threads", type=at_least(1, 1024), help="torch CPU threads (default: torch's)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run)
