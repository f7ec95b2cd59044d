"""Vanishing gradients and what fixes them (seed 004's toy example; seed 000 Fig. 13, He et al.
2015 Fig. 7).

Deep stacks of 3x3 convolutions (`depth` layers of `width` channels, then global pooling and a
classifier) with sigmoid, tanh or ReLU, each in four designs:

    plain     x_{l+1} = act(conv(x_l))
    bn        x_{l+1} = act(bn(conv(x_l)))
    skip      x_{l+2} = x_l + act(conv(act(conv(x_l))))        (identity shortcut every two layers)
    bn+skip   the same with BN after each conv

For every layer l: the gradient norm ||dL/dW_l|| (Frobenius, one batch, training mode) and the
response std (the conv's output after BN, before the non-linearity: He et al.'s Fig. 7), at
initialisation (PyTorch's default init) and after a short SGD training. With sigmoid and no
help, the gradient shrinks by orders of magnitude towards the input (seed 004: a product of
many factors < 1); BN and identity shortcuts keep it level.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .common import ExperimentFolder, _f, check_settings, figure, markdown_table, names_from

if TYPE_CHECKING:
    from torch import Tensor

ACTIVATIONS = ("sigmoid", "tanh", "relu")
DESIGNS = ("plain", "bn", "skip", "bn+skip")


@dataclass(frozen=True)
class GradflowSettings:
    data: str = _f("mnist", "data set (any `cnnzoo train --data`)", "data")
    data_dir: str = _f("data", "where the data set is", "data")
    img_size: int = _f(12, "input side in pixels", "data")
    limit_train: int = _f(2000, "training images (stratified subset)", "data")
    limit_eval: int = _f(1000, "test images (stratified subset)", "data")
    depth: int = _f(16, "conv layers of every network")
    width: int = _f(8, "channels of every conv layer")
    activations: str = _f("sigmoid,tanh,relu", "comma-separated, of sigmoid, tanh, relu")
    steps: int = _f(60, "SGD steps of the short training", "training")
    batch_size: int = _f(32, "images per step (and in the measuring batch)", "training")
    lr: float = _f(0.05, "SGD learning rate (momentum 0.9)", "training")
    seed: int = _f(0, "seed of data subset, initialisation and order", "training")
    device: str = _f("auto", "auto, cpu, cuda or mps", "training")
    out: str | None = _f(None, "experiment folder (default: experiments/gradflow-<time>)", "output")

    def __post_init__(self) -> None:
        check_settings(self.device, {"img_size": (self.img_size, 8, 4096), "limit_train": (self.limit_train, 1, 1e9),
                                     "limit_eval": (self.limit_eval, 1, 1e9), "depth": (self.depth, 1, 1000),
                                     "width": (self.width, 1, 4096), "steps": (self.steps, 1, 1e7),
                                     "batch_size": (self.batch_size, 1, 100_000)})
        if not self.lr > 0:
            raise ValueError(f"--lr must be > 0, got {self.lr}")
        self.activation_list()

    def activation_list(self) -> list[str]:
        return names_from(self.activations, option="--activations", known=ACTIVATIONS)


def _tensors(settings: GradflowSettings, device: Any) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(train x, train y, test x, test y): normalised float images at `img_size`, on `device`."""
    import torch
    import torch.nn.functional as F

    from ..data import load_data
    data = load_data(settings.data, size=settings.img_size, seed=settings.seed, data_dir=settings.data_dir,
                     download=False, limit_train=settings.limit_train, limit_eval=settings.limit_eval)
    mean = torch.tensor(data.mean).view(1, -1, 1, 1)
    std = torch.tensor(data.std).view(1, -1, 1, 1)

    def prepare(images: Tensor) -> Tensor:
        x = F.interpolate(images.float() / 255, size=settings.img_size, mode="bilinear", antialias=True)
        return ((x - mean) / std).to(device)

    return prepare(data.train.images), data.train.labels.to(device), prepare(data.test.images), data.test.labels.to(device)


def _train_one(model: Any, settings: GradflowSettings, tensors: tuple[Tensor, ...]) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F

    from .deep_nets import layer_statistics
    x, y, tx, ty = tensors
    g = torch.Generator().manual_seed(settings.seed)
    probe = torch.randperm(len(x), generator=g)[:settings.batch_size].to(x.device)
    model.train()
    before = layer_statistics(model, x[probe], y[probe])
    opt = torch.optim.SGD(model.parameters(), lr=settings.lr, momentum=0.9)
    losses = []
    for step in range(settings.steps):
        idx = torch.randint(len(x), (settings.batch_size,), generator=g).to(x.device)
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    after = layer_statistics(model, x[probe], y[probe])
    model.eval()
    with torch.no_grad():
        accuracy = float((model(tx).argmax(1) == ty).float().mean())
    return {"init": before, "trained": after, "final_loss": sum(losses[-10:]) / len(losses[-10:]),
            "test_accuracy": accuracy}


def run_gradflow(settings: GradflowSettings, *, log: Any = print) -> ExperimentFolder:
    import torch

    from ..train.trainer import pick_device
    from .deep_nets import DeepConvNet
    folder = ExperimentFolder("gradflow", settings, log=log)
    device = pick_device(settings.device)
    tensors: tuple[Tensor, ...] | None = None
    results: dict[tuple[str, str], dict[str, Any]] = {}
    for act in settings.activation_list():
        for design in DESIGNS:
            name = f"{act}-{design.replace('+', '-')}"
            stats_file = folder.path / "runs" / name / "stats.json"
            if stats_file.is_file():
                log(f"  {name}: measured before, reused ({stats_file.parent})")
                results[act, design] = json.loads(stats_file.read_text(encoding="utf-8"))
                continue
            if tensors is None:
                tensors = _tensors(settings, device)
            torch.manual_seed(settings.seed)
            model = DeepConvNet(depth=settings.depth, width=settings.width, activation=act, bn="bn" in design,
                                skip="skip" in design, in_chans=tensors[0].shape[1]).to(device)
            results[act, design] = _train_one(model, settings, tensors)
            stats_file.parent.mkdir(parents=True, exist_ok=True)
            folder.write_text(f"runs/{name}/stats.json", json.dumps(results[act, design], indent=1))
            log(f"  {name}: test accuracy {results[act, design]['test_accuracy']:.3f} after {settings.steps} steps")
    folder.write_csv("layers.csv", [{"activation": a, "design": d, "when": when, **row}
                                    for (a, d), r in results.items() for when in ("init", "trained") for row in r[when]])
    table = [{"activation": a, "design": d,
              "grad norm first/last layer, init": _ratio(r["init"]),
              "grad norm first/last layer, trained": _ratio(r["trained"]),
              "test accuracy": r["test_accuracy"]} for (a, d), r in results.items()]
    folder.write_csv("results.csv", table)
    plot_gradflow(results, folder.path / "gradflow.png", title=f"{settings.depth} conv layers of {settings.width} "
                  f"channels, {settings.data} {settings.img_size}x{settings.img_size}, {settings.steps} SGD steps")
    folder.write_text("summary.md", "\n".join([
        "# Gradient flow in deep networks (seed 004; He et al. Fig. 7)", "",
        "Ratio of the first conv layer's gradient norm to the last one's (1: level; << 1: vanishing towards the "
        "input), and the test accuracy after the short training.", "", markdown_table(table), "",
        "Per-layer values: `layers.csv`.", "", "![gradient flow](gradflow.png)", ""]))
    return folder


def _ratio(rows: list[dict[str, float]]) -> float:
    return rows[0]["grad_norm"] / max(rows[-1]["grad_norm"], 1e-30)


def plot_gradflow(results: dict[tuple[str, str], dict[str, Any]], path: Path, *, title: str) -> None:
    """Rows: gradient norm at init, after training, response std after training; a column per activation."""
    from matplotlib.ticker import MaxNLocator
    acts = list(dict.fromkeys(a for a, _ in results))
    fig = figure(4.2 * len(acts), 9.5)
    colors = dict(zip(DESIGNS, ("#7f7f7f", "#1f77b4", "#ff7f0e", "#2ca02c"), strict=True))
    panels = (("init", "grad_norm", "||dL/dW||, at init"), ("trained", "grad_norm", "||dL/dW||, trained"),
              ("trained", "response_std", "response std, trained"))
    for row, (when, key, label) in enumerate(panels):
        for col, act in enumerate(acts):
            ax = fig.add_subplot(len(panels), len(acts), row * len(acts) + col + 1)
            for design in DESIGNS:
                if (act, design) in results:
                    values = [r[key] for r in results[act, design][when]]
                    ax.plot(range(1, len(values) + 1), values, marker=".", color=colors[design], label=design)
            ax.set_yscale("log")
            ax.grid(alpha=0.3, which="both")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # layers are whole numbers
            if row == 0:
                ax.set_title(act)
            if col == 0:
                ax.set_ylabel(label)
            if row == len(panels) - 1:
                ax.set_xlabel("layer (input -> output)")
            if row == 0 and col == 0:
                ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path)
