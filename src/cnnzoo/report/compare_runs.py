"""`cnnzoo compare --runs RUN...`: learning curves of several runs overlaid, each labelled by
what its configuration does differently from the others."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

# keys that differ between any two runs without saying anything about the experiment
_INCIDENTAL = ("name", "output", "quiet", "workers")


def config_differences(configs: Sequence[dict[str, Any]]) -> list[str]:
    """One label per config: `key=value` for every key whose value is not the same in all of them."""
    keys = sorted({k for c in configs for k in c} - set(_INCIDENTAL))
    varying = [k for k in keys if len({repr(c.get(k)) for c in configs}) > 1]
    return [", ".join(f"{k}={c.get(k)}" for k in varying) or "same config" for c in configs]


def compare_runs(run_dirs: Sequence[str], *, plot: str | None = None) -> str:
    """A table of the runs (label, test top-1, best epoch, wall time) and, with `plot`, the
    overlaid curves (training loss, validation accuracy) written there."""
    from ..experiments.common import read_run
    runs = [read_run(d) for d in run_dirs]
    labels = config_differences([r.config for r in runs])
    width = max(len(lb) for lb in labels)
    lines = [f"{'run':<24} {'differs in':<{width}}  test top-1  best epoch  wall s"]
    for run, label in zip(runs, labels, strict=True):
        lines.append(f"{run.path.name:<24} {label:<{width}}  {run.summary['test']['top1']:10.4f}  "
                     f"{run.summary.get('best_epoch', 0):10d}  {run.summary.get('wall_s', 0):6.0f}")
    if plot:
        plot_runs(runs, labels, Path(plot))
        lines.append(f"curves: {plot}")
    return "\n".join(lines) + "\n"


def plot_runs(runs: Sequence[Any], labels: Sequence[str], path: Path) -> None:
    from matplotlib.ticker import MaxNLocator

    from ..experiments.common import figure
    fig = figure(12, 4.4)
    panels = (("train_loss", "training loss"), ("val_loss", "validation loss"), ("val_acc", "validation top-1"))
    for k, (key, title) in enumerate(panels):
        ax = fig.add_subplot(1, 3, k + 1)
        for run, label in zip(runs, labels, strict=True):
            rows = [r for r in run.history if key in r]
            ax.plot([r["epoch"] for r in rows], [r[key] for r in rows], marker="o" if len(rows) < 30 else None,
                    ms=3, label=label)
        ax.set(title=title, xlabel="epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    handles, names = fig.axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=min(len(names), 3), fontsize=8)
    fig.tight_layout(rect=(0, 0.06 + 0.04 * ((len(names) - 1) // 3), 1, 1))
    fig.savefig(path)
