"""Seed 001's memory estimate against the measured peak, at full size (issue 4).

    python benchmarks/memory_estimate.py                       # CPU, batch 8, the cards' input sizes
    python benchmarks/memory_estimate.py --device cuda --models resnet18 resnet50
    python benchmarks/memory_estimate.py --optimizer adam --size 160

For each model: the estimate (`estimate_memory`, shape-only, on the meta device) and the measured
peak (`measure_memory`: the PyTorch profiler's allocation events on CPU, `max_memory_allocated`
on CUDA) of inference (eval, no_grad) and of one training step (forward, cross-entropy, backward,
optimizer step, with the optimizer state of the previous step held), and estimate / measured.
On CUDA the estimate leaves out the CPU convolution copies (`backend="cuda"`); cuDNN's workspace
is not modelled and the caching allocator rounds every block up to 512 bytes, so CUDA ratios run
a little below 1 (and far below for LeNet-5, whose whole step is about 1 MiB).

Measured (batch 8, SGD with momentum, the cards' input sizes), estimate / measured:
    CPU (2 threads, torch 2.14):  lenet5 1.000 / 0.986, resnet18 1.000 / 1.000,
                                  vgg11 1.000 / 0.998, densenet121 1.000 / 0.999  (inference / training)
    H100 (torch 2.11):            lenet5 0.999 / 0.666, resnet18 0.947 / 0.926, vgg11 0.999 / 0.977,
                                  densenet121 1.000 / 0.988, resnet50 0.995 / 0.978
"""

from __future__ import annotations

import argparse
import time

import torch

import cnnzoo
from cnnzoo.analysis.memory import OPTIMIZER_STATE, estimate_memory, measure_memory

MIB = 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["lenet5", "resnet18", "vgg11", "densenet121"])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=None, help="input H = W (default: each card's)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--optimizer", default="sgd-momentum", choices=list(OPTIMIZER_STATE))
    parser.add_argument("--num-classes", type=int, default=1000)
    args = parser.parse_args()
    backend = "cpu" if torch.device(args.device).type == "cpu" else "cuda"
    print(f"device {args.device}, batch {args.batch}, optimizer {args.optimizer}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} CPU threads")
    header = (f"{'model':12s} {'input':>11s}  {'inference MiB est / meas':>25s} {'ratio':>6s}  "
              f"{'training MiB est / meas':>25s} {'ratio':>6s}  {'seconds':>7s}")
    print(header)
    print("-" * len(header))
    for name in args.models:
        card = cnnzoo.model_card(name)
        c, h, w = card.input_size
        if args.size:
            h = w = args.size
        torch.manual_seed(0)
        num_classes = args.num_classes if card.num_classes == 1000 else card.num_classes
        model = cnnzoo.create_model(name, num_classes=num_classes)
        t = time.perf_counter()
        est = estimate_memory(model, (c, h, w), batch=args.batch, optimizer=args.optimizer, backend=backend)
        got = measure_memory(model, (c, h, w), batch=args.batch, optimizer=args.optimizer, device=args.device)
        dt = time.perf_counter() - t
        print(f"{name:12s} {f'{c}x{h}x{w}':>11s}  {est.inference / MIB:11.1f} / {got.inference / MIB:11.1f} "
              f"{est.inference / got.inference:6.3f}  {est.training / MIB:11.1f} / {got.training / MIB:11.1f} "
              f"{est.training / got.training:6.3f}  {dt:7.1f}", flush=True)


if __name__ == "__main__":
    main()
