"""`cnnzoo predict` over a folder of photos against the plain torchvision loop, same run.

Writes `--count` JPEG photos (224x224 crops of scikit-learn's two sample photos at random
positions and scales) to a temporary folder, then times, one after the other and `--repeat`
times each (medians printed):
  1. the plain loop a user would write: for each file, PIL open + torchvision transforms
     (Resize 256, CenterCrop 224, ToTensor, Normalize) + torchvision's ResNet eager, batch 1;
  2. cnnzoo's prediction path (`speed.fast_predict.predict_fast`, what `cnnzoo predict` runs)
     with the same architecture (`resnet18_tv` = torchvision's resnet18) and `--backend`;
and prints images/s of both and their ratio (goal >= 1.5x), for each repeat and the median.
Weights are random but the same in every repeat (seeded), as a user's trained weights would be;
model building is timed in both. The ONNX graph cache (`speed.onnx_cache`) starts empty in a
temporary folder, so the first repeat is a cold start (any ONNX export it makes is timed) and the
later ones find the graph the first one exported, as a user's second `predict` would.

    python benchmarks/predict_folder.py [--count 200] [--model resnet18] [--backend auto] [--repeat 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch


def write_photos(folder: Path, count: int) -> list[Path]:
    from cnnzoo.speed.photos import photo_crops
    paths = []
    for i, crop in enumerate(photo_crops(count, size=224, seed=0)):
        paths.append(folder / f"photo_{i:04d}.jpg")
        crop.save(paths[-1], quality=90)
    return paths


def plain_loop(files: list[Path], arch: str) -> float:
    import torchvision
    from PIL import Image
    from torchvision import transforms as T
    start = time.perf_counter()
    torch.manual_seed(0)
    model = getattr(torchvision.models, arch)(weights=None).eval()
    tf = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(),
                    T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])
    with torch.no_grad():
        for f in files:
            x = tf(Image.open(f).convert("RGB"))[None]
            model(x).softmax(1).topk(5)
    return time.perf_counter() - start


def cnnzoo_path(files: list[Path], arch: str, backend: str, batch_size: int | None, workers: int | None) -> float:
    from cnnzoo.speed.fast_predict import predict_fast
    from cnnzoo.train.inference import open_model
    start = time.perf_counter()
    cpu = torch.device("cpu")
    torch.manual_seed(0)
    loaded = open_model(f"{arch}_tv", device=cpu)
    results, _ = predict_fast(loaded, files, top_k=5, tta=False, device=cpu, backend=backend, batch_size=batch_size,
                              workers=workers)
    assert len(results) == len(files)
    return time.perf_counter() - start


def main() -> None:
    from cnnzoo.speed.fast_predict import default_batch_size, default_workers
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--model", default="resnet18", help="a torchvision ResNet name with a cnnzoo *_tv twin")
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--batch-size", type=int, help="default: predict's (8 on a CPU)")
    ap.add_argument("--workers", type=int, help="default: predict's")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CNNZOO_CACHE_DIR"] = str(Path(tmp) / "cache")
        files = write_photos(Path(tmp), args.count)
        plain, ours = [], []
        for r in range(args.repeat):
            plain.append(plain_loop(files, args.model))
            ours.append(cnnzoo_path(files, args.model, args.backend, args.batch_size, args.workers))
            print(f"repeat {r + 1}{' (cold: empty ONNX cache)' if r == 0 else ''}: plain {plain[-1]:.1f} s, "
                  f"cnnzoo {ours[-1]:.1f} s, {plain[-1] / ours[-1]:.2f}x", flush=True)
    p, o = statistics.median(plain), statistics.median(ours)
    print(f"{args.count} photos at 224x224, {args.model}, {torch.get_num_threads()} threads, medians of {args.repeat}")
    print(f"plain torchvision loop (PIL + transforms + eager, batch 1): {p:.1f} s = {args.count / p:.1f} img/s")
    batch = args.batch_size or default_batch_size(torch.device("cpu"))
    workers = default_workers(args.count, torch.device("cpu")) if args.workers is None else args.workers
    print(f"cnnzoo predict path (backend {args.backend}, batch {batch}, {workers} decoding workers): "
          f"{o:.1f} s = {args.count / o:.1f} img/s")
    print(f"speed-up cnnzoo / plain = {p / o:.2f}x (goal >= 1.5x)")


if __name__ == "__main__":
    main()
