"""cnnzoo's default job against the plain PyTorch loop on the same digits, same machine, same run.

Runs, one after the other:
  1. `cnnzoo train --json` with defaults (LeNet-5 on scikit-learn's digits), as a user would;
  2. the plain reference (`../shared/reference/plain_lenet_digits.py`: per-sample PIL
     transforms in a Dataset, a DataLoader, the same LeNet-5 shape),
and prints both `train_samples_per_s` (training samples per second of time spent in training
steps, augmentation included, evaluation excluded), their ratio, both test accuracies and
cnnzoo's wall time (start-up included).

    python benchmarks/digits_throughput.py [--reference PATH] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_cnnzoo(out: Path) -> dict:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "cnnzoo", "train", "--json", "--output", str(out), "--quiet"],
                          capture_output=True, text=True, check=True)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_wall_s"] = time.perf_counter() - start
    return result


def run_plain(reference: Path) -> dict:
    proc = subprocess.run([sys.executable, str(reference)], capture_output=True, text=True, check=True)
    last = proc.stdout.strip().splitlines()[-1]
    fields = dict(re.findall(r"(\w+)=([\d.]+)", last))
    return {k: float(v) for k, v in fields.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reference", type=Path, default=ROOT.parent / "shared" / "reference" / "plain_lenet_digits.py")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each (the figures printed are medians)")
    args = ap.parse_args()
    if not args.reference.is_file():
        sys.exit(f"reference script not found: {args.reference} (pass --reference)")
    ours, plain = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            ours.append(run_cnnzoo(Path(tmp) / f"r{i}"))
            plain.append(run_plain(args.reference))

    def median(rows: list[dict], key: str) -> float:
        values = sorted(r[key] for r in rows)
        return values[len(values) // 2]

    o_rate, p_rate = median(ours, "train_samples_per_s"), median(plain, "train_samples_per_s")
    print(f"cnnzoo default job: train_samples_per_s={o_rate:.0f} test_acc={median(ours, 'top1'):.4f} "
          f"wall_s={median(ours, 'process_wall_s'):.1f} (start-up included)")
    print(f"plain PyTorch loop: train_samples_per_s={p_rate:.0f} test_acc={median(plain, 'test_acc'):.4f} "
          f"wall_s={median(plain, 'wall_s'):.1f}")
    print(f"throughput ratio cnnzoo / plain = {o_rate / p_rate:.2f}x")


if __name__ == "__main__":
    main()
