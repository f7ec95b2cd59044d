"""Figures of the interpretation methods (matplotlib, Agg backend, imported on first use).

Every figure has a title saying what it shows, labelled axes where there are axes, and a colour
bar wherever a colour map encodes a value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor

from .filters import Filters, channel_grid, rgb_tiles

DPI = 110


def _plt() -> Any:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig: Any, path: Path, *, dpi: int = DPI) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    _plt().close(fig)
    return path


def to_display(image: Tensor) -> np.ndarray:
    """(C, H, W) in [0, 1] -> (H, W) grey or (H, W, 3) RGB array for imshow."""
    a = image.detach().float().clamp(0, 1).cpu().numpy()
    return a[0] if a.shape[0] == 1 else a[:3].transpose(1, 2, 0)


def _show(ax: Any, image: Tensor) -> None:
    a = to_display(image)
    ax.imshow(a, cmap="gray" if a.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def _grid_shape(n: int, cols: int | None = None) -> tuple[int, int]:
    cols = cols or max(1, math.ceil(math.sqrt(n)))
    return math.ceil(n / cols), cols


def plot_filters(f: Filters, path: Path, *, title: str, max_out: int = 64, max_in: int = 16) -> Path:
    """RGB tiles for 3-input-channel kernels; otherwise one row per kernel, one column per
    input channel, diverging colours with a colour bar (each kernel scaled to its max |w|)."""
    plt = _plt()
    o, i, kh, kw = f.weight.shape
    shown_out = min(o, max_out)
    if f.rgb:
        tiles = rgb_tiles(f)[:shown_out]
        rows, cols = _grid_shape(shown_out)
        fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.9 + 0.4, rows * 0.9 + 0.8), squeeze=False)
        for k, ax in enumerate(axes.flat):
            ax.axis("off")
            if k < shown_out:
                ax.imshow(tiles[k], interpolation="nearest")
                ax.set_title(str(k), fontsize=7, pad=1)
        fig.suptitle(f"{title}\n{f.layer}: {o} kernels {kh}x{kw}x{i} (grey = 0, each kernel scaled to its max |w|)",
                     fontsize=9)
        return _save(fig, path)
    grid = channel_grid(f, max_out=shown_out, max_in=min(i, max_in))
    if i == 1:  # one input channel: lay the kernels out in a square block of tiles
        grid = _tile_rows(grid, shown_out, kh)
    height, width = grid.shape
    scale = 5.0 / max(height, width)
    fig, ax = plt.subplots(figsize=(max(3.5, width * scale + 1.6), max(2.5, height * scale + 1.0)))
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="#555555")  # dark grey between tiles, white = 0
    im = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=-1, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if i > 1:
        ax.set_xlabel(f"input channel (first {min(i, max_in)} of {i})")
        ax.set_ylabel(f"kernel (first {shown_out} of {o})")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="weight / max |weight| of its kernel")
    ax.set_title(f"{title}\n{f.layer}: {o} kernels {kh}x{kw}, {i} input channel{'s' if i > 1 else ''}", fontsize=9)
    return _save(fig, path)


def _tile_rows(grid: np.ndarray, n: int, kh: int, gap: int = 1) -> np.ndarray:
    """A one-column stack of `n` tiles rearranged into a near-square block."""
    tiles = [grid[k * (kh + gap):k * (kh + gap) + kh] for k in range(n)]
    rows, cols = _grid_shape(n)
    kw = tiles[0].shape[1]
    out = np.full((rows * (kh + gap) - gap, cols * (kw + gap) - gap), np.nan, dtype=np.float32)
    for k, t in enumerate(tiles):
        r, c = divmod(k, cols)
        out[r * (kh + gap):r * (kh + gap) + kh, c * (kw + gap):c * (kw + gap) + kw] = t
    return out


def plot_patches(crops: Sequence[Sequence[Tensor]], values: Tensor, channels: Sequence[int], path: Path, *,
                 title: str) -> Path:
    """One row per channel: its top patches, strongest first, each labelled with its activation."""
    plt = _plt()
    rows, cols = len(crops), max(len(r) for r in crops)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.95 + 0.9, rows * 1.0 + 0.7), squeeze=False)
    for r, row in enumerate(crops):
        for c in range(cols):
            ax = axes[r, c]
            if c >= len(row):
                ax.axis("off")
                continue
            _show(ax, row[c])
            ax.set_title(f"{float(values[r, c]):.2g}", fontsize=6, pad=1)
        axes[r, 0].set_ylabel(f"ch {channels[r]}", fontsize=8, rotation=0, ha="right", va="center")
    fig.suptitle(title, fontsize=9)
    return _save(fig, path)


def plot_images(images: Sequence[Tensor], labels: Sequence[str], path: Path, *, title: str,
                cols: int | None = None) -> Path:
    """A grid of images, each with its label above it."""
    plt = _plt()
    rows, cols = _grid_shape(len(images), cols)
    side = max(2.4, min(4.0, 6.5 / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * side, rows * (side + 0.4) + 0.6), squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k < len(images):
            _show(ax, images[k])
            ax.set_title(labels[k], fontsize=9)
        else:
            ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path, dpi=90)  # noisy pictures: keep the file small


def plot_cam(image: Tensor, heat: Tensor, path: Path, *, title: str,
             boxes: Sequence[tuple[float, float, float, float]] = (), peak: tuple[int, int] | None = None) -> Path:
    """The image and the heat map over it (jet, alpha 0.5) with a colour bar; the optional boxes
    (fractions) and peak (pixels) are drawn on the overlay."""
    plt = _plt()
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.2, 4.0))
    _show(left, image)
    left.set_title("input (as the model sees it)", fontsize=9)
    shown = to_display(image)
    right.imshow(shown, cmap="gray" if shown.ndim == 2 else None, vmin=0, vmax=1)
    im = right.imshow(heat.detach().float().cpu().numpy(), cmap="jet", alpha=0.5, vmin=0, vmax=1)
    right.set_xticks([])
    right.set_yticks([])
    h, w = heat.shape[-2:]
    from matplotlib.patches import Rectangle
    for x0, y0, x1, y1 in boxes:
        right.add_patch(Rectangle((x0 * w - 0.5, y0 * h - 0.5), (x1 - x0) * w, (y1 - y0) * h, fill=False,
                                  edgecolor="white", linewidth=1.5, linestyle="--"))
    if peak is not None:
        right.plot([peak[0]], [peak[1]], marker="+", color="white", markersize=14, mew=2)
    right.set_title("Grad-CAM (+ = peak)", fontsize=9)
    from matplotlib.cm import ScalarMappable
    solid = ScalarMappable(norm=im.norm, cmap=im.cmap)  # the bar without the overlay's transparency
    fig.colorbar(solid, ax=right, fraction=0.046, pad=0.04, label="relative evidence for the class")
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def plot_layer_stats(series: dict[str, Sequence[Any]], path: Path, *, title: str, gradients: bool) -> Path:
    """Response std by layer and sorted (He et al. Fig. 7), and ||dL/dW|| by layer (log scale)."""
    plt = _plt()
    panels = 3 if gradients else 2
    fig, axes = plt.subplots(panels, 1, figsize=(7.5, 2.6 * panels + 0.4), squeeze=False)
    for label, rows in series.items():
        std = [r.std for r in rows]
        axes[0, 0].semilogy(range(1, len(std) + 1), std, marker=".", label=label)
        axes[1, 0].semilogy(range(1, len(std) + 1), sorted(std, reverse=True), marker=".", label=label)
        if gradients:
            g = [(r.index + 1, r.grad_norm) for r in rows if r.grad_norm is not None]
            axes[2, 0].semilogy([i for i, _ in g], [v for _, v in g], marker=".", label=label)
    axes[0, 0].set(xlabel="layer index (forward order)", ylabel="std of response (log)")
    axes[1, 0].set(xlabel="layer index (sorted by magnitude)", ylabel="std of response (log)")
    if gradients:
        axes[2, 0].set(xlabel="layer index (forward order)", ylabel="||dL/dW|| (log scale)")
    from matplotlib.ticker import MaxNLocator
    for ax in axes.flat:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path, dpi=90)  # noisy pictures: keep the file small
