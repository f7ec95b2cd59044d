"""Big kernels vs stacks of small ones (VGG §2.3; Inception v3 §3.1-3.2; seeds 000 and 003).

The same small network is built four times, only its two "kernel blocks" differ:

    5x5        one 5x5 convolution                         25 C^2 weights, receptive field +4
    3x3+3x3    two stacked 3x3 (VGG: same field, 28% fewer weights, one more non-linearity)
    1x5+5x1    asymmetric pair (Inception v3 §3.2: a 5x5 field for 10 C^2)
    1x7+7x1    Inception v3's 7x7 factorisation (a 7x7 field for 14 C^2)

Each is a network table (`tables/<name>.yaml`, see `cnnzoo.netspec`) trained with one recipe
through `cnnzoo train`; the experiment puts parameters, mult-adds, receptive field and test
accuracy side by side.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .common import ExperimentFolder, ExperimentSettings, _f, check_settings, figure, markdown_table, names_from

# name -> rows of one kernel block with C output channels ({c}); each conv has BN + ReLU
BLOCKS: dict[str, tuple[str, ...]] = {
    "5x5": ("conv 5x5@{c} bn",),
    "3x3+3x3": ("conv 3x3@{c} bn", "conv 3x3@{c} bn"),
    "1x5+5x1": ("conv 1x5@{c} bn", "conv 5x1@{c} bn"),
    "1x7+7x1": ("conv 1x7@{c} bn", "conv 7x1@{c} bn"),
}


@dataclass(frozen=True)
class KernelsSettings(ExperimentSettings):
    data: str = _f("mnist", "data set of the sub-runs (any `cnnzoo train --data`)", "data")
    img_size: int | None = _f(28, "input side in pixels", "data")
    limit_train: int | None = _f(2000, "training images per sub-run (stratified subset; none: all)", "data")
    width: int = _f(32, "channels of the kernel blocks")
    blocks: str = _f(",".join(BLOCKS), f"comma-separated kernel blocks to compare, of {', '.join(BLOCKS)}")

    def __post_init__(self) -> None:
        super().__post_init__()
        check_settings(self.device, {"width": (self.width, 2, 4096)})  # the stem has width // 2 channels
        self.block_names()

    def block_names(self) -> list[str]:
        return names_from(self.blocks, option="--blocks", known=BLOCKS)


def kernel_table(name: str, *, width: int, size: int, channels: int) -> str:
    """The network table of variant `name`: stem, two kernel blocks with pooling, gap, fc."""
    rows = [f"conv 3x3@{width // 2} bn", "maxpool 2x2"]
    rows += [r.format(c=width) for r in BLOCKS[name]] + ["maxpool 2x2"]
    rows += [r.format(c=width) for r in BLOCKS[name]] + ["gap", "fc classes"]
    body = "\n".join(f"  - {r}" for r in rows)
    return (f"name: kernels-{name}\ninput: {channels}x{size}x{size}\nclasses: 10\nactivation: relu\n"
            f"description: kernel block {name} (cnnzoo experiment kernels)\nlayers:\n{body}\n")


def run_kernels(settings: KernelsSettings, *, log: Any = print) -> ExperimentFolder:
    folder = ExperimentFolder("kernels", settings, log=log)
    names = settings.block_names()
    (folder.path / "tables").mkdir(exist_ok=True)
    size = settings.img_size or 28
    rows = []
    for name in names:
        table = folder.path / "tables" / f"{name.replace('+', '_')}.yaml"
        table.write_text(kernel_table(name, width=settings.width, size=size, channels=1), encoding="utf-8")
        run = folder.sub_run(settings.train_config(model=str(table), name=name.replace("+", "_"), folder=folder.path))
        rows.append({"block": name, **_geometry(table, size), "test accuracy": 1 - run.test_error,
                     "final train accuracy": run.history[-1]["train_acc"]})
    folder.write_csv("kernels.csv", rows)
    plot_kernels(rows, folder.path / "kernels.png")
    folder.write_text("summary.md", "\n".join([
        "# One big kernel vs stacks of small ones (VGG §2.3, Inception v3 §3)", "",
        "The same network with different kernel blocks (two of them, each conv with BN + ReLU). Block parameters "
        "are the two kernel blocks' weights; parameters and mult-adds (per image) the whole network's; block field "
        "is one block's receptive field, network field the last map's, in input pixels.", "",
        markdown_table(rows), "", "![kernels](kernels.png)", ""]))
    return folder


def _geometry(table: Path, size: int) -> dict[str, Any]:
    from ..analysis import count_mult_adds, count_params
    from ..analysis.receptive_field import receptive_field
    from ..netspec import build_from_yaml
    model = build_from_yaml(table)
    convs = [m for m in model.modules() if type(m).__name__ == "Conv2d"][1:]  # the kernel blocks' convs
    block_params = sum(p.numel() for m in convs for p in m.parameters())
    field = receptive_field(model, (1, size, size)).size
    one_block = convs[len(convs) // 2:]  # the second kernel block (stride 1 throughout)
    fh = 1 + sum(m.kernel_size[0] - 1 for m in one_block)
    fw = 1 + sum(m.kernel_size[1] - 1 for m in one_block)
    return {"block field": f"{fh}x{fw}", "block parameters": block_params, "parameters": count_params(model),
            "mult-adds": count_mult_adds(model, (1, size, size)),
            "network field": f"{field[0]}x{field[1]}" if field else "?"}


def plot_kernels(rows: list[dict[str, Any]], path: Path) -> None:
    """Bars: block parameters, mult-adds and test accuracy per kernel block."""
    fig = figure(12, 3.8)
    names = [r["block"] for r in rows]
    panels = (("block parameters", "weights of the two kernel blocks", 1),
              ("mult-adds", "mult-adds per image (millions)", 1e-6),
              ("test accuracy", "test accuracy (%)", 100))
    for k, (key, label, scale) in enumerate(panels):
        ax = fig.add_subplot(1, 3, k + 1)
        values = [r[key] * scale for r in rows]
        bars = ax.bar(names, values, color=["#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd"][:len(rows)])
        ax.bar_label(bars, labels=[f"{v:,.0f}" if scale == 1 else f"{v:.2f}" for v in values], fontsize=8)
        if key == "test accuracy":
            ax.set_ylim(max(0, min(values) - 5), min(100, max(values) + 2))
        ax.set_title(label, fontsize=10)
        ax.grid(alpha=0.3, axis="y")
    fig.suptitle("kernel blocks: " + ", ".join(f"{r['block']} (field {r['block field']})" for r in rows),
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
