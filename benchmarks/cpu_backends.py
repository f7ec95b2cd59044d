"""`cnnzoo bench` rows for ResNet-50, LeNet-5, MobileNet v1 and SqueezeNet on this CPU, and what a
user would try instead for ResNet-50 (torchvision's resnet50: eager, channels-last, ONNX
Runtime), all against one GEMM rate and bandwidth measured at the start of the same run.

    python benchmarks/cpu_backends.py [--batch 8] [--repeats 10] [--models resnet50 lenet5 ...]
"""

from __future__ import annotations

import argparse

import torch

from cnnzoo import create_model, model_card
from cnnzoo.analysis import count_mult_adds
from cnnzoo.speed.backends import INFERENCE
from cnnzoo.speed.bench import format_report, run_bench
from cnnzoo.speed.gemm import measure_rates


def bench(model: torch.nn.Module, name: str, size: tuple[int, int, int], args: argparse.Namespace, rates,
          backends: list[str]):
    model = model.eval()
    x = torch.randn(args.batch, *size, generator=torch.Generator().manual_seed(0))
    report = run_bench(model, x, name=name, mult_adds=float(count_mult_adds(model, size)), backends=backends,
                       train=False, warmup=args.warmup, repeats=args.repeats, rates=rates)
    print(format_report(report), "\n", flush=True)
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--models", nargs="+", default=["resnet50", "lenet5", "mobilenet_v1", "squeezenet1_0"])
    args = ap.parse_args()
    rates = measure_rates(torch.device("cpu"))
    reports = {n: bench(create_model(n), n, model_card(n).input_size, args, rates, list(INFERENCE))
               for n in args.models}
    if "resnet50" not in reports:
        return
    import torchvision
    tv = bench(torchvision.models.resnet50(weights=None), "torchvision resnet50", (3, 224, 224), args, rates,
               ["eager", "channels_last", "onnxruntime"])
    ours = reports["resnet50"].best
    print(f"cnnzoo resnet50 best: {ours.backend} {ours.img_per_s:.1f} img/s = {ours.pct_of_gemm_limit:.0f}% of the "
          f"GEMM-bound limit ({rates.gemm_gflops:.1f} GFLOP/s fp32)")
    for row in tv.rows:
        if row.img_per_s:
            print(f"  vs torchvision resnet50 {row.backend:<14} {row.img_per_s:6.1f} img/s "
                  f"({row.pct_of_gemm_limit:.0f}% of its limit): cnnzoo is {ours.img_per_s / row.img_per_s:.2f}x")


if __name__ == "__main__":
    main()
