"""The degradation problem (He et al. 2015, Fig. 1 and 6; seeds 001 and 003).

Plain CIFAR-style networks (`plainD`) and their residual twins (`resnetD`, the same layers and
parameters plus identity shortcuts) are trained with one recipe at two or more depths. The
paper's observation: the deeper *plain* network has the higher *training* error (so it is not
overfitting), while the deeper residual network has the lower one. The figure overlays
training error (thin) and validation error (bold) per epoch, plain on the left, ResNets on the
right, as the paper's Fig. 6.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .common import ExperimentFolder, ExperimentSettings, ExperimentError, RunRecord, _f, figure, markdown_table

KINDS = ("plain", "resnet")


@dataclass(frozen=True)
class DegradationSettings(ExperimentSettings):
    depths: str = _f("20,56", "comma-separated depths 6n+2 (the paper: 20,32,44,56 and 110)")
    # 8 epochs: with 3, resnet-56 has not started to learn either (72% training error on Fashion-MNIST)
    epochs: int = _f(8, "epochs of every sub-run", "training")
    img_size: int | None = _f(16, "input side in pixels (the paper: 32 on CIFAR-10)", "data")

    def __post_init__(self) -> None:
        super().__post_init__()
        self.depth_list()

    def depth_list(self) -> list[int]:
        try:
            depths = sorted({int(d) for d in self.depths.split(",") if d.strip()})
        except ValueError:
            raise ExperimentError(f"--depths {self.depths!r}: expected integers like 20,56") from None
        from ..models import list_models
        known = sorted(int(n[6:]) for n in list_models("resnet*") if n[6:].isdigit() and f"plain{n[6:]}" in list_models())
        if len(depths) < 2 or any(d not in known for d in depths):
            raise ExperimentError(f"--depths {self.depths!r}: expected two or more of {', '.join(map(str, known))}")
        return depths


def run_degradation(settings: DegradationSettings, *, log: Any = print) -> ExperimentFolder:
    folder = ExperimentFolder("degradation", settings, log=log)
    runs: dict[tuple[str, int], RunRecord] = {}
    for depth in settings.depth_list():
        for kind in KINDS:
            model = f"{kind}{depth}"
            cfg = settings.train_config(model=model, name=model, folder=folder.path)
            runs[kind, depth] = folder.sub_run(cfg)
    rows = [{"network": f"{kind}-{depth}", "depth": depth, "shortcuts": kind == "resnet", "epoch": int(r["epoch"]),
             "train_error": 1 - r["train_acc"], "val_error": 1 - r.get("val_acc", float("nan"))}
            for (kind, depth), run in runs.items() for r in run.history]
    folder.write_csv("curves.csv", rows)
    table = [{"network": f"{kind}-{depth}", "parameters": _params(run),
              "final train error": 1 - run.history[-1]["train_acc"], "test error": run.test_error}
             for (kind, depth), run in sorted(runs.items())]
    folder.write_csv("results.csv", table)
    plot_degradation(runs, folder.path / "degradation.png", title=_title(settings))
    folder.write_text("summary.md", _summary(settings, table))
    return folder


def _params(run: RunRecord) -> int:
    from ..train.inference import load_checkpoint
    import torch
    model = load_checkpoint(run.path, device=torch.device("cpu")).model
    return sum(p.numel() for p in model.parameters())


def _title(s: DegradationSettings) -> str:
    subset = f", {s.limit_train:,} training images" if s.limit_train else ""
    return f"plain vs residual networks on {Path(s.data).name}{subset}, {s.epochs} epoch{'s' * (s.epochs != 1)}"


def plot_degradation(runs: dict[tuple[str, int], RunRecord], path: Path, *, title: str) -> None:
    """Two panels (plain, ResNet): training error thin dashed, validation error bold, per depth."""
    from matplotlib.ticker import MaxNLocator
    fig = figure(11, 4.2)
    depths = sorted({d for _, d in runs})
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]
    axes = [fig.add_subplot(1, 2, k + 1) for k in range(2)]
    for ax, kind in zip(axes, KINDS, strict=True):
        for color, depth in zip(colors, depths, strict=False):
            if (kind, depth) not in runs:  # (a figure of the runs finished so far)
                continue
            hist = runs[kind, depth].history
            epochs = [r["epoch"] for r in hist]
            label = f"{kind}-{depth}"
            marker = "o" if len(epochs) < 4 else None  # a line of one or two points shows nothing without it
            ax.plot(epochs, [100 * (1 - r["train_acc"]) for r in hist], "--", color=color, lw=1.2, marker=marker,
                    ms=4, label=f"{label} train")
            ax.plot(epochs, [100 * (1 - r.get("val_acc", float("nan"))) for r in hist], "-", color=color, lw=2.4,
                    marker=marker, ms=6, label=f"{label} validation")
        ax.set_title("plain networks" if kind == "plain" else "ResNets (identity shortcuts)")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        last = max((len(r.history) for r in runs.values()), default=1)
        if last < 4:  # whole epochs only (the locator gives 0.945, 0.960, ... around a single point)
            ax.set_xticks(range(1, last + 1))
            ax.set_xlim(0.5, last + 0.5)
        ax.set_ylabel("error (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    lo = min(min(ax.get_ylim()[0] for ax in axes), 100)
    hi = max(ax.get_ylim()[1] for ax in axes)
    for ax in axes:
        ax.set_ylim(max(lo, 0), hi)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path)


def _summary(s: DegradationSettings, table: list[dict[str, Any]]) -> str:
    by = {r["network"]: r for r in table}
    depths = s.depth_list()
    lo, hi = depths[0], depths[-1]
    lines = [f"# Degradation: {_title(s)}", "",
             "He et al. 2015, Fig. 1 and 6: with the same recipe, the deeper plain network trains worse; "
             "its residual twin does not.", "", markdown_table(table), ""]
    for kind in KINDS:
        a, b = by[f"{kind}-{lo}"]["final train error"], by[f"{kind}-{hi}"]["final train error"]
        if round(100 * b, 2) == round(100 * a, 2):
            lines.append(f"- {kind}-{hi} and {kind}-{lo} end with the same training error ({100 * b:.2f}%).")
            continue
        verdict = "higher" if b > a else "lower"
        lines.append(f"- {kind}-{hi} ends with a {verdict} training error than {kind}-{lo} "
                     f"({100 * b:.2f}% vs {100 * a:.2f}%).")
    plain, res = by[f"plain-{hi}"]["final train error"], by[f"resnet-{hi}"]["final train error"]
    lines.append(f"- at depth {hi} the identity shortcuts change the training error from {100 * plain:.2f}% "
                 f"(plain) to {100 * res:.2f}% (ResNet).")
    lines += ["", "![curves](degradation.png)", ""]
    return "\n".join(lines)
