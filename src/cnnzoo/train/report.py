"""The run folder's figures: confusion matrix and learning curves (PNG, matplotlib Agg)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def plot_confusion(confusion: list[list[int]], classes: tuple[str, ...], path: Path, *, title: str) -> None:
    """Row-normalised confusion matrix (true x predicted) with the counts written in the cells."""
    import numpy as np
    cm = np.asarray(confusion, dtype=float)
    n = len(classes)
    share = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    side = min(4 + 0.45 * n, 40)
    fig = _figure(side + 1.5, side)
    ax = fig.add_subplot()
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    if n <= 30:
        ax.set_xticks(range(n), classes, rotation=90 if n > 10 or max(map(len, classes)) > 3 else 0)
        ax.set_yticks(range(n), classes)
        for i in range(n):
            for j in range(n):
                if cm[i, j]:
                    ax.text(j, i, f"{int(cm[i, j])}", ha="center", va="center", fontsize=8,
                            color="white" if share[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path)


def plot_curves(rows: list[dict[str, float]], path: Path, *, title: str) -> None:
    """Loss and accuracy per epoch, training and validation."""
    epochs = [r["epoch"] for r in rows]
    fig = _figure(10, 4)
    for k, (metric, label) in enumerate((("loss", "cross-entropy loss"), ("acc", "top-1 accuracy"))):
        ax = fig.add_subplot(1, 2, k + 1)
        for split in ("train", "val"):
            values = [r.get(f"{split}_{metric}") for r in rows]
            if any(v is not None and v == v for v in values):
                ax.plot(epochs, values, marker="o" if len(epochs) < 30 else None, label=split)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path)
