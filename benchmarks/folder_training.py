"""LeNet-5 on a folder of 10,000 PNG digits against the same digits from IDX files, same run.

Takes the first `--count` MNIST training digits from `--mnist` (a cnnzoo data dir holding
MNIST/raw/*-ubyte), writes them (1) as 28x28 PNG files in one folder per class and (2) as IDX
files (with the real 10k test set) in a temporary data dir, then runs `cnnzoo train` on each
(`--epochs`, `--augment affine`, defaults otherwise): the folder twice (cold: decoded from PNG
and written to the memory-mapped cache; warm: read from the cache), the IDX files once.
Prints training samples/s (time in training steps), wall seconds (start-up and loading
included) and the folder / IDX ratio (goal >= 80%).

    python benchmarks/folder_training.py [--mnist /work/data] [--count 10000] [--epochs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def read_idx(path: Path) -> np.ndarray:
    data = path.read_bytes()
    dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def make_data(mnist: Path, out: Path, count: int) -> tuple[Path, Path]:
    raw = mnist / "MNIST" / "raw"
    images, labels = read_idx(raw / "train-images-idx3-ubyte")[:count], read_idx(raw / "train-labels-idx1-ubyte")[:count]
    folder = out / "digits_png"
    for c in range(10):
        (folder / str(c)).mkdir(parents=True)
    for i, (img, y) in enumerate(zip(images, labels, strict=True)):
        Image.fromarray(img, mode="L").save(folder / str(int(y)) / f"{i:05d}.png")
    idx_dir = out / "idx"
    (idx_dir / "MNIST" / "raw").mkdir(parents=True)
    write_idx(idx_dir / "MNIST" / "raw" / "train-images-idx3-ubyte", images)
    write_idx(idx_dir / "MNIST" / "raw" / "train-labels-idx1-ubyte", labels)
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        shutil.copy(raw / name, idx_dir / "MNIST" / "raw" / name)
    return folder, idx_dir


def train(args: list[str], out: Path, env: dict[str, str]) -> dict:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "cnnzoo", "train", *args, "--json", "--quiet", "--output", str(out)],
                          capture_output=True, text=True, env=env)
    if proc.returncode:
        sys.exit(proc.stderr[-2000:])
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_wall_s"] = time.perf_counter() - start
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mnist", type=Path, default=Path("/work/data"))
    ap.add_argument("--count", type=int, default=10_000)
    ap.add_argument("--epochs", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        folder, idx_dir = make_data(args.mnist, t, args.count)
        env = {**os.environ, "CNNZOO_CACHE_DIR": str(t / "cache")}
        common = ["--epochs", str(args.epochs), "--augment", "affine"]
        runs = {"folder (cold: PNG decode + cache write)": train(["--data", str(folder), *common], t / "r1", env),
                "folder (warm: memory-mapped cache)": train(["--data", str(folder), *common], t / "r2", env),
                "IDX files (in memory)": train(["--data", "mnist", "--data-dir", str(idx_dir), *common], t / "r3", env)}
    print(f"LeNet-5, {args.count} MNIST digits, {args.epochs} epochs")
    for name, r in runs.items():
        print(f"{name:<42} train_samples_per_s={r['train_samples_per_s']:>8.0f}  wall_s={r['process_wall_s']:.1f}  "
              f"top1={r['top1']:.4f}")
    idx = runs["IDX files (in memory)"]["train_samples_per_s"]
    for name in list(runs)[:2]:
        print(f"{name}: {100 * runs[name]['train_samples_per_s'] / idx:.0f}% of the IDX samples/s (goal >= 80%)")


if __name__ == "__main__":
    main()
