"""Models side by side, and accuracy against operations as a bubble chart.

    print(render_compare(["resnet18", "resnet50", "vgg16", "googlenet", "mobilenet_v1",
                          "squeezenet1_0"], plot_path="cmp.png"))

The table gives, per model: parameters and mult-adds counted from the code (one multiply-add =
one operation, at the card's input size, on the meta device; parameters of the inference network,
so GoogLeNet's training-only auxiliary classifiers are left out), the figures the paper published
(registry card), the published ImageNet top-1 / top-5 error (and accuracy = 100 - error), and
the measured CPU latency at batch 1 (median of `runs` timed forward passes after `warmup` ones,
eval mode, `torch.inference_mode`, at the card's input size, with the threads PyTorch is set to
use). The chart is Canziani, Paszke & Culurciello's (2016, Fig. 2; seed 000 Fig. 20): top-1
accuracy against mult-adds, bubble area proportional to the number of parameters, one label
per model. Models without a published top-1 error are left off the chart, and the output says
which.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from .counting import build_on_meta
from ..input_size import format_hwc
from .summary import human_count
from .counting import count_params
from .trace import trace


@dataclass(frozen=True)
class ComparedModel:
    name: str
    input_size: tuple[int, int, int]
    params: int
    mult_adds: int
    published_params: float | None
    published_mult_adds: float | None
    top1_err: float | None  # percent
    top5_err: float | None  # percent
    latency_ms: float | None  # median CPU latency at batch 1 (None: not measured)

    @property
    def top1_acc(self) -> float | None:
        return None if self.top1_err is None else 100.0 - self.top1_err

    @property
    def top5_acc(self) -> float | None:
        return None if self.top5_err is None else 100.0 - self.top5_err


def measure_latency(model: torch.nn.Module, input_size: tuple[int, int, int], *, runs: int = 5,
                    warmup: int = 2) -> float:
    """Median wall time in milliseconds of one forward pass of one image on CPU (eval mode)."""
    if runs < 1 or warmup < 0:
        raise ValueError(f"runs must be >= 1 and warmup >= 0, got runs={runs}, warmup={warmup}")
    model = model.eval()
    x = torch.randn(1, *input_size)
    times = []
    with torch.inference_mode():
        for i in range(warmup + runs):
            t = time.perf_counter()
            model(x)
            if i >= warmup:
                times.append(time.perf_counter() - t)
    return 1000.0 * statistics.median(times)


def compare(names: Sequence[str], *, latency: bool = True, runs: int = 5, warmup: int = 2) -> list[ComparedModel]:
    """One `ComparedModel` per registry name (unknown names raise with the close matches)."""
    from ..resolve import resolve_model

    out = []
    for name in names:
        resolved = resolve_model(name)
        card = resolved.card
        assert card is not None, "compare takes registered names"
        meta = resolved.build_on_meta()
        size = resolved.input_size
        ms = None
        if latency:
            torch.manual_seed(0)
            ms = measure_latency(resolved.build(), size, runs=runs, warmup=warmup)
        tr = trace(meta, size)
        out.append(ComparedModel(
            name=name, input_size=size, params=count_params(meta, include_aux=False), mult_adds=tr.flops // 2,
            published_params=card.params, published_mult_adds=card.mult_adds, top1_err=card.top1_err,
            top5_err=card.top5_err, latency_ms=ms))
    return out


COLUMNS = ("model", "input", "params", "mult-adds", "params (paper)", "mult-adds (paper)", "top-1 err %",
           "top-1 acc %", "top-5 err %", "CPU ms (batch 1)")


def _cells(m: ComparedModel) -> list[str]:
    def opt(v: float | None, fmt: str) -> str:
        return "—" if v is None else format(v, fmt)

    return [m.name, format_hwc(m.input_size), human_count(m.params), human_count(m.mult_adds),
            "—" if m.published_params is None else human_count(m.published_params),
            "—" if m.published_mult_adds is None else human_count(m.published_mult_adds),
            opt(m.top1_err, ".2f"), opt(m.top1_acc, ".2f"), opt(m.top5_err, ".2f"), opt(m.latency_ms, ".1f")]


def comparison_table(models: Sequence[ComparedModel], fmt: str = "text") -> str:
    rows = [list(COLUMNS)] + [_cells(m) for m in models]
    if fmt == "markdown":
        lines = ["| " + " | ".join(r) + " |" for r in rows]
        lines.insert(1, "|---|" + "---:|" * (len(COLUMNS) - 1))
        return "\n".join(lines) + "\n"
    if fmt != "text":
        raise ValueError(f"unknown format {fmt!r}; expected text or markdown")
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    lines = []
    for j, r in enumerate(rows):
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip())
        if j == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def plot_comparison(models: Sequence[ComparedModel], path: str | Path, *, title: str | None = None,
                    metric: str = "top1") -> list[str]:
    """Write the accuracy-vs-operations bubble chart (PNG, matplotlib's Agg canvas, no display
    needed); returns the names left off because they have no published `metric` ("top1" or
    "top5") error."""
    if metric not in ("top1", "top5"):
        raise ValueError(f"metric must be top1 or top5, got {metric!r}")

    def accuracy(m: ComparedModel) -> float | None:
        return m.top1_acc if metric == "top1" else m.top5_acc

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    shown = [m for m in models if accuracy(m) is not None]
    skipped = [m.name for m in models if accuracy(m) is None]
    fig = Figure(figsize=(8, 5.5), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    scale = 8.0  # points^2 per million parameters
    for i, m in enumerate(shown):
        x, y = m.mult_adds / 1e9, accuracy(m)
        ax.scatter([x], [y], s=max(20.0, m.params / 1e6 * scale), alpha=0.5, color=f"C{i % 10}",
                   edgecolors="black", linewidths=0.5)
        ax.annotate(m.name, (x, y), textcoords="offset points", xytext=(6, 6), fontsize=8)
    for p in (5, 25, 100):  # bubble size key
        ax.scatter([], [], s=p * scale, color="grey", alpha=0.4, label=f"{p}M parameters")
    if shown:
        ax.legend(loc="lower right", fontsize=8, labelspacing=1.5, borderpad=1.0, frameon=True)
    ax.set_xlabel("mult-adds per image [G] (one multiply-add = one operation)")
    ax.set_ylabel(f"ImageNet {metric[:3]}-{metric[3:]} accuracy [%] (published)")
    ax.set_title(title or "Accuracy vs operations; bubble area = parameters (after Canziani et al.)")
    ax.grid(True, alpha=0.3)
    ax.margins(0.15)
    ax.set_xlim(left=0)
    fig.tight_layout()
    fig.savefig(str(path), format="png")
    return skipped


def render_compare(names: Sequence[str], plot_path: str | Path | None = None, *, latency: bool = True,
                   runs: int = 5, warmup: int = 2, fmt: str = "text", metric: str = "top1") -> str:
    """What `cnnzoo compare` prints.

    `names`: registry names. `plot_path`: where to write the bubble chart (PNG); None: no chart.
    `latency`: measure CPU latency at batch 1 (builds each model for real: seconds for VGG);
    `runs` timed passes after `warmup` untimed ones, median reported. `fmt`: "text" | "markdown".
    `metric`: the chart's accuracy, "top1" (as Canziani et al.) or "top5" (GoogLeNet's paper
    publishes only top-5).
    """
    if not names:
        raise ValueError("compare needs at least one model name")
    models = compare(names, latency=latency, runs=runs, warmup=warmup)
    out = comparison_table(models, fmt)
    notes = ["params and mult-adds: counted from the code at each card's input size (one multiply-add = one "
             "operation, FLOPs = 2 x mult-adds); (paper): the published figures; errors: published ImageNet, percent",
             "params: the network used at inference, without training-only auxiliary classifiers "
             "(`cnnzoo models` counts them)"]
    if latency:
        notes.append(f"CPU ms: median of {runs} forward passes of one image after {warmup} warm-up passes, "
                     f"{torch.get_num_threads()} threads")
    if plot_path is not None:
        skipped = plot_comparison(models, plot_path, metric=metric)
        notes.append(f"chart: {plot_path}")
        if skipped:
            other = "top5" if metric == "top1" else "top1"
            notes.append(f"not on the chart (no published {metric[:3]}-{metric[3:]} error): {', '.join(skipped)}"
                         f" (--metric {other} may show them)")
    return out + "\n" + "\n".join(notes) + "\n"
