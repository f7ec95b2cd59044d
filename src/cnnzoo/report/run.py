"""`cnnzoo report RUN`: one self-contained HTML page about a finished run.

The model's table (`cnnzoo show`), config and provenance, learning curves, the confusion
matrix and per-class precision / recall / F1 of the best checkpoint on the run's test split,
and the worst-classified test images with their top-3 classes (and Grad-CAM overlays of the
predicted class where `cnnzoo.interpret` is installed).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import torch

from . import html as h


def write_run_report(run_dir: str | Path, *, device: str = "auto", worst: int = 12) -> Path:
    """Write `run_dir/report.html` and return its path."""
    from ..train.trainer import pick_device
    run_dir = Path(run_dir)
    text = run_report_html(run_dir, device=pick_device(device), worst=worst)
    from ..train.checkpoint import atomic_write
    target = run_dir / "report.html"
    atomic_write(target, lambda f: f.write(text.encode("utf-8")))
    return target


def run_report_html(run_dir: Path, *, device: torch.device, worst: int = 12) -> str:
    from ..experiments.common import load_test_set, predict_logits, read_run
    run = read_run(run_dir)
    test = load_test_set(run_dir, device=device)
    logits = predict_logits(test.loaded.model, test.inputs)
    probs = logits.softmax(1)
    classes = test.classes
    n = len(classes)
    confusion = torch.bincount(test.labels * n + probs.argmax(1), minlength=n * n).view(n, n).cpu()
    top1 = float(confusion.diag().sum()) / max(int(confusion.sum()), 1)
    cfg = run.config
    subtitle = (f"{cfg.get('model')} on {Path(str(cfg.get('data'))).name} - test top-1 {top1:.4f} "
                f"({len(test.labels):,} images), best epoch {run.summary.get('best_epoch')} of "
                f"{run.summary.get('epochs_run')}, {run.summary.get('wall_s', 0):.0f} s - {run_dir}")
    sections = [
        h.section("Learning curves and confusion matrix", '<div class="figs">' + h.figure(
            _curves_png(run), "learning curves", width=620) + h.figure(
            _confusion_png(confusion, classes, top1, cfg), "confusion matrix", width=480) + "</div>"),
        h.section("Per-class precision, recall, F1", h.table(per_class(confusion, classes))),
        h.section(f"The {worst} worst-classified test images", worst_images(test, probs, worst)),
        h.section("Model", _model_table(test.loaded)),
        h.section("Configuration", f"<pre>{h.esc((run.path / 'config.yaml').read_text(encoding='utf-8'))}</pre>"),
        h.section("Provenance", f"<pre>{h.esc(_provenance(run.path))}</pre>"),
    ]
    return h.page(f"Run report: {run_dir.name}", subtitle, sections)


def per_class(confusion: torch.Tensor, classes: tuple[str, ...]) -> list[dict[str, Any]]:
    cm = confusion.double()
    tp, predicted, actual = cm.diag(), cm.sum(0), cm.sum(1)
    rows = []
    for i, c in enumerate(classes):
        p = float(tp[i] / predicted[i]) if predicted[i] else 0.0
        r = float(tp[i] / actual[i]) if actual[i] else 0.0
        rows.append({"class": c, "precision": p, "recall": r, "F1": 2 * p * r / (p + r) if p + r else 0.0,
                     "support": int(actual[i])})
    return rows


def _curves_png(run: Any) -> bytes:
    from ..train.report import plot_curves
    buf = io.BytesIO()
    plot_curves(run.history, buf, title=f"{run.config.get('model')}: loss and accuracy per epoch")
    return buf.getvalue()


def _confusion_png(confusion: torch.Tensor, classes: tuple[str, ...], top1: float, cfg: dict[str, Any]) -> bytes:
    from ..train.report import plot_confusion
    buf = io.BytesIO()
    plot_confusion(confusion.tolist(), classes, buf, title=f"{cfg.get('model')}: test top-1 {top1:.4f}")
    return buf.getvalue()


def _provenance(path: Path) -> str:
    p = path / "provenance.json"
    return json.dumps(json.loads(p.read_text(encoding="utf-8")), indent=2) if p.is_file() else "(no provenance.json)"


def _model_table(loaded: Any) -> str:
    """The model as its paper's table (`cnnzoo show`), as text."""
    from ..analysis.summary import summary
    c, hh, ww = loaded.meta["input_size"]
    try:
        text = summary(loaded.model, (c, hh, ww)).to_text()
    except Exception as e:  # noqa: BLE001 - a model the tracer cannot follow still gets its report
        text = f"(table unavailable: {e})\n\n{loaded.model}"
    return f"<pre>{h.esc(text)}</pre>"


def worst_images(test: Any, probs: torch.Tensor, count: int) -> str:
    """Cards of the misclassified test images with the lowest probability of the true class."""
    true_p = probs.gather(1, test.labels[:, None])[:, 0]
    wrong = (probs.argmax(1) != test.labels).nonzero().flatten()
    if not len(wrong):
        return "<p>Every test image is classified correctly.</p>"
    order = wrong[true_p[wrong].argsort()][:count]
    heat = _grad_cam(test.loaded.model, test.inputs[order])
    note = ("<p>Grad-CAM of the predicted class beside each image (red: the evidence for it).</p>" if heat is not None
            else "<p>(Grad-CAM overlays appear here once <code>cnnzoo.interpret</code> is installed.)</p>")
    cards = []
    for k, i in enumerate(order.tolist()):
        top = probs[i].topk(min(3, probs.shape[1]))
        lines = "".join(f"<div class=\"{'ok' if j == int(test.labels[i]) else 'bad'}\">{h.esc(test.classes[j])}: "
                        f"{p:.3f}</div>" for p, j in zip(top.values.tolist(), top.indices.tolist(), strict=True))
        pics = h.image(_png(test.images[i]), f"test image {i}", cls="")
        if heat is not None:
            pics += " " + h.image(_overlay_png(test.images[i], heat[k]), f"Grad-CAM of test image {i}", cls="")
        cards.append(f"<div class=\"card\">{pics}<div>#{i}, true: <b>{h.esc(test.classes[int(test.labels[i])])}"
                     f"</b></div>{lines}</div>")
    return note + f"<div class=\"cards\">{''.join(cards)}</div>"


def _grad_cam(model: Any, x: torch.Tensor) -> torch.Tensor | None:
    """Grad-CAM heat maps (N, H, W) in [0, 1] for the predicted classes, or None when
    `cnnzoo.interpret` (Grad-CAM) is not available. The hook for the interpretation helper."""
    try:
        from ..interpret.gradcam import grad_cam
    except ImportError:
        return None
    try:
        return grad_cam(model, x).detach().cpu()
    except Exception:  # noqa: BLE001 - a model without a spatial layer: the report goes on without overlays
        return None


def _pil(image: torch.Tensor) -> Any:
    from PIL import Image
    a = image.cpu()
    pic = Image.fromarray(a[0].numpy(), "L") if a.shape[0] == 1 else Image.fromarray(a[:3].permute(1, 2, 0).numpy())
    return pic.convert("RGB")


def _png(image: torch.Tensor) -> bytes:
    """uint8 (C, H, W) -> PNG bytes, enlarged to 96 px with nearest-neighbour pixels."""
    from PIL import Image
    buf = io.BytesIO()
    _pil(image).resize((96, 96), Image.NEAREST).save(buf, format="PNG")
    return buf.getvalue()


def _overlay_png(image: torch.Tensor, heat: torch.Tensor) -> bytes:
    """The image with a jet-coloured heat map (N.B. resized to the image) blended over it."""
    import numpy as np
    from matplotlib import colormaps
    from PIL import Image
    base = _pil(image).resize((96, 96), Image.BILINEAR)
    hm = torch.nn.functional.interpolate(heat[None, None].float(), size=(96, 96), mode="bilinear")[0, 0].numpy()
    colored = Image.fromarray((colormaps["jet"](hm)[..., :3] * 255).astype(np.uint8))
    buf = io.BytesIO()
    Image.blend(base, colored, 0.45).save(buf, format="PNG")
    return buf.getvalue()
