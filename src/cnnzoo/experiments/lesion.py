"""Lesion study (Veit, Wilber, Belongie 2016, "Residual networks behave like ensembles of
relatively shallow networks"; seed 000 §3.6, Fig. 14-15).

On a trained network, at test time, without retraining:
- delete each single block (its residual branch set to zero: `block.skip = True`) -> test error;
- delete k random blocks, k = 1..n, several draws each -> mean error and its spread;
- reorder blocks by swapping random pairs of same-shape blocks -> error against Kendall's tau
  between the new order and the original.
A ResNet degrades smoothly (many paths of different lengths, as an ensemble); the same deletion
in a plain network (only its shape-preserving layer pairs can be removed) breaks it.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .common import (ExperimentError, ExperimentFolder, RunTestSet, _f, check_settings, error_rate, figure,
                     markdown_table)


@dataclass(frozen=True)
class LesionSettings:
    run: str = _f("", "run folder of a trained ResNet (a `resnetD` run, e.g. a degradation sub-run)")
    plain: str | None = _f(None, "run folder of the plain network to contrast (default: the `plainD` run beside "
                           "RUN, else one trained here with RUN's settings)")
    samples: int = _f(6, "random draws per number of deleted blocks / per number of swaps")
    limit_eval: int | None = _f(1000, "test images to evaluate on (stratified subset; none: the run's whole test)")
    seed: int = _f(0, "seed of the random deletions and swaps")
    device: str = _f("auto", "auto, cpu, cuda or mps")
    out: str | None = _f(None, "experiment folder (default: experiments/lesion-<time>)", "output")

    def __post_init__(self) -> None:
        check_settings(self.device, {"samples": (self.samples, 1, 10_000), "limit_eval": (self.limit_eval, 1, 1e9)})


def kendall_tau(order: Sequence[int]) -> float:
    """Kendall's rank correlation between `order` (a permutation of 0..n-1) and the identity:
    (concordant - discordant pairs) / (n (n - 1) / 2); 1 for the identity, -1 reversed."""
    n = len(order)
    if n < 2:
        return 1.0
    score = sum(1 if order[i] < order[j] else -1 for i in range(n) for j in range(i + 1, n))
    return score / (n * (n - 1) / 2)


def residual_blocks(model: Any, what: str) -> list[Any]:
    if not hasattr(model, "blocks"):
        raise ExperimentError(f"{what}: {type(model).__name__} has no residual blocks to delete "
                              "(the lesion study takes a ResNet-family run, e.g. resnet20 or plain20)")
    return list(model.blocks())


def deletable(blocks: Sequence[Any]) -> list[int]:
    """Blocks that can be removed: all of a ResNet's; a plain network's that keep the shape."""
    return [i for i, b in enumerate(blocks) if b.residual or (b.stride == 1 and b.in_chs == b.out_chs)]


@contextmanager
def deleted(blocks: Sequence[Any], indices: Sequence[int]) -> Iterator[None]:
    """Blocks `indices` skipped (residual branch = 0) inside the `with`; restored after."""
    try:
        for i in indices:
            blocks[i].skip = True
        yield
    finally:
        for i in indices:
            blocks[i].skip = False


@contextmanager
def reordered(model: Any, order: Sequence[int]) -> Iterator[None]:
    """Blocks run in `order` (indices into `model.blocks()`) inside the `with`; restored after.
    Each stage keeps its own blocks: only blocks of one stage may trade places."""
    blocks, stages = list(model.blocks()), list(model.stages)
    saved = [stage._modules.copy() for stage in stages]
    stage_of = [s for s, stage in enumerate(stages) for _ in stage]
    if sorted(order) != list(range(len(blocks))) or any(stage_of[o] != stage_of[i] for i, o in enumerate(order)):
        raise ValueError(f"order {list(order)} is not a permutation within the stages")
    try:
        k = 0
        for stage, modules in zip(stages, saved, strict=True):
            stage._modules = OrderedDict((name, blocks[order[k + j]]) for j, name in enumerate(modules))
            k += len(modules)
        yield
    finally:
        for stage, modules in zip(stages, saved, strict=True):
            stage._modules = modules


def swappable_groups(blocks: Sequence[Any]) -> list[list[int]]:
    """Indices of same-shape blocks that may trade places: per stage, all but its first block."""
    groups: list[list[int]] = []
    for i, b in enumerate(blocks):
        if b.stride != 1 or b.in_chs != b.out_chs:
            groups.append([])
        elif groups:
            groups[-1].append(i)
        else:
            groups.append([i])
    return [g for g in groups if len(g) > 1]


def random_order(blocks: Sequence[Any], swaps: int, rng: random.Random) -> list[int]:
    order = list(range(len(blocks)))
    groups = swappable_groups(blocks)
    for _ in range(swaps):
        group = rng.choice(groups)
        a, b = rng.sample(group, 2)
        order[a], order[b] = order[b], order[a]
    return order


def lesion_measurements(model: Any, test: RunTestSet, *, samples: int, seed: int, label: str) -> list[dict[str, Any]]:
    """Rows (network, test, k / block / swaps, tau, error) of the three lesion measurements."""
    blocks = residual_blocks(model, label)
    rng = random.Random(seed)
    base = error_rate(model, test)
    rows: list[dict[str, Any]] = [dict(network=label, test="none", blocks="", k=0, tau=1.0, error=base)]
    removable = deletable(blocks)
    for i in removable:
        with deleted(blocks, [i]):
            rows.append(dict(network=label, test="single", blocks=str(i + 1), k=1, tau=1.0, error=error_rate(model, test)))
    for k in range(1, len(removable) + 1):
        for _ in range(samples):
            chosen = sorted(rng.sample(removable, k))
            with deleted(blocks, chosen):
                rows.append(dict(network=label, test="random", blocks=" ".join(str(i + 1) for i in chosen), k=k,
                                 tau=1.0, error=error_rate(model, test)))
    if swappable_groups(blocks):
        for swaps in range(1, 2 * len(blocks) // 3 + 1):
            for _ in range(samples):
                order = random_order(blocks, swaps, rng)
                with reordered(model, order):
                    rows.append(dict(network=label, test="swap", blocks=" ".join(str(o + 1) for o in order),
                                     k=swaps, tau=kendall_tau(order), error=error_rate(model, test)))
    return rows


def run_lesion(settings: LesionSettings, *, log: Any = print) -> ExperimentFolder:
    from ..train.trainer import pick_device
    from .common import load_test_set, read_run
    _check_runs(settings)  # before the folder is made or a plain network trained
    folder = ExperimentFolder("lesion", settings, log=log)
    device = pick_device(settings.device)
    plain_dir = _plain_run(settings, folder)
    rows: list[dict[str, Any]] = []
    names = {}
    for run_dir in (Path(settings.run), plain_dir):
        test = load_test_set(run_dir, device=device, limit_eval=settings.limit_eval)
        label = str(read_run(run_dir).config["model"])
        names[label] = run_dir
        log(f"  {label}: deleting and reordering blocks on {len(test.labels)} test images ...")
        rows += lesion_measurements(test.loaded.model, test, samples=settings.samples, seed=settings.seed, label=label)
    folder.write_csv("lesion.csv", rows)
    plot_lesion(rows, folder.path / "lesion.png")
    folder.write_text("summary.md", _summary(rows, names))
    return folder


def _check_runs(settings: LesionSettings) -> None:
    """RUN and --plain must be finished runs of the ResNet family (blocks to delete)."""
    from .common import read_run
    for what, path in (("RUN", settings.run), ("--plain", settings.plain)):
        model = str(read_run(path).config["model"]) if path else "resnet"
        if not model.startswith(("resnet", "plain")):
            raise ExperimentError(f"{what} {path} trained {model}, which has no residual blocks to delete; expected "
                                  "a ResNet-family run (resnetD / plainD, e.g. a degradation sub-run)")


def _plain_run(settings: LesionSettings, folder: ExperimentFolder) -> Path:
    """The plain network to contrast: --plain, the `plainD` run beside RUN, or trained here."""
    from ..config import from_mapping
    from ..train.config import TrainConfig
    from .common import read_run
    if settings.plain:
        return Path(settings.plain)
    run = read_run(settings.run)
    model = str(run.config["model"])
    if not model.startswith("resnet") or not model[6:].isdigit():
        raise ExperimentError(f"{settings.run} trained {model}; give the plain network to contrast with --plain RUN")
    twin = f"plain{model[6:]}"
    sibling = run.path.parent / twin
    if (sibling / "summary.json").is_file():
        return sibling
    cfg = from_mapping(TrainConfig, {**run.config, "model": twin, "name": twin, "output": str(folder.path / "runs"),
                                     "quiet": True}, source=str(run.path / "config.yaml"))
    return folder.sub_run(cfg).path


def _by(rows: list[dict[str, Any]], network: str, test: str) -> list[dict[str, Any]]:
    return [r for r in rows if r["network"] == network and r["test"] == test]


def plot_lesion(rows: list[dict[str, Any]], path: Path) -> None:
    """Three panels: single deletions per block, k random deletions (mean +- std), swaps vs tau."""
    import statistics

    from matplotlib.ticker import MaxNLocator
    networks = list(dict.fromkeys(r["network"] for r in rows))
    fig = figure(15, 4.4)
    ax1, ax2, ax3 = (fig.add_subplot(1, 3, k) for k in (1, 2, 3))
    colors = {n: c for n, c in zip(networks, ("#1f77b4", "#d62728", "#2ca02c"), strict=False)}
    width = 0.8 / len(networks)
    for j, net in enumerate(networks):
        base = _by(rows, net, "none")[0]["error"] * 100
        single = _by(rows, net, "single")
        ax1.bar([int(r["blocks"]) + (j - (len(networks) - 1) / 2) * width for r in single],
                [r["error"] * 100 for r in single], width, color=colors[net], label=f"{net} (intact: {base:.1f}%)")
        ax1.axhline(base, color=colors[net], ls=":", lw=1)
        ks = sorted({r["k"] for r in _by(rows, net, "random")})
        errs = [[r["error"] * 100 for r in _by(rows, net, "random") if r["k"] == k] for k in ks]
        ax2.errorbar([0, *ks], [base, *(statistics.mean(e) for e in errs)],
                     yerr=[0, *(statistics.pstdev(e) for e in errs)], color=colors[net], marker="o", capsize=3, label=net)
        swaps = _by(rows, net, "swap")
        if swaps:
            ax3.scatter([r["tau"] for r in swaps], [r["error"] * 100 for r in swaps], s=14, color=colors[net],
                        alpha=0.6, label=net)
    ax1.set(title="deleting one block", xlabel="deleted block (forward order)", ylabel="test error (%)")
    ax2.set(title="deleting k random blocks (mean ± std)", xlabel="blocks deleted", ylabel="test error (%)")
    ax3.set(title="swapping same-shape blocks", xlabel="Kendall's tau to the original order", ylabel="test error (%)")
    ax3.invert_xaxis()
    if not any(r["test"] == "swap" for r in rows):
        ax3.text(0.5, 0.5, "no two same-shape blocks in a stage\n(one block per stage): nothing to swap",
                 ha="center", va="center", transform=ax3.transAxes)
    for ax in (ax1, ax2, ax3):
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    for ax in (ax1, ax2):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    fig.savefig(path)


def _summary(rows: list[dict[str, Any]], runs: dict[str, Path]) -> str:
    table = []
    for net, run_dir in runs.items():
        single = [r["error"] for r in _by(rows, net, "single")]
        table.append({"network": net, "run": str(run_dir), "intact error": _by(rows, net, "none")[0]["error"],
                      "deletable blocks": len(single),
                      "mean error, one block deleted": sum(single) / max(len(single), 1),
                      "worst, one block deleted": max(single, default=float("nan"))})
    said = [f"- {r['network']}: deleting one of its {r['deletable blocks']} blocks raises the test error by "
            f"{100 * (r['mean error, one block deleted'] - r['intact error']):.1f} points on average "
            f"(worst {100 * (r['worst, one block deleted'] - r['intact error']):.1f})." for r in table]
    return "\n".join([
        "# Lesion study: deleting and reordering blocks (Veit et al. 2016)", "",
        "Each block's residual branch is set to zero at test time (no retraining). Veit et al. find that a "
        "ResNet behaves like an ensemble of many paths: deleting one block barely hurts and the error grows "
        "smoothly with more deletions or swaps, while a plain network has one path and removing a layer pair "
        "breaks it. Measured here:", "", *said, "",
        markdown_table(table), "", "Raw measurements: `lesion.csv`.", "", "![lesion](lesion.png)", ""])
