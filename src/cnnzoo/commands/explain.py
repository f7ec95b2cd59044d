"""`cnnzoo explain filters|patches|classviz|gradcam|activations|stats RUN|MODEL ...`: pictures of
what a network learned (seed 003 "Интерпретация моделей"), written as PNG + JSON into --out."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from ._argtypes import at_least, finite_float, output_folder, positive_float

METHODS = ("filters", "patches", "classviz", "gradcam", "activations", "stats")


def _device(name: str) -> Any:
    try:
        from ..train.device import pick_device  # type: ignore[import-not-found]
    except ImportError:
        from ..train.trainer import pick_device
    return pick_device(name)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "x"


def _write_json(out: Path, name: str, payload: dict[str, Any]) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / name
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def _finish(paths: list[Path]) -> int:
    for p in paths:
        print(p)
    return 0


def _title(args: argparse.Namespace) -> str:
    src = Path(args.source).name if Path(args.source).exists() else args.source
    return src + (f" ({args.pretrained})" if args.pretrained else "")


# -- filters ---------------------------------------------------------------------------------
def run_filters(args: argparse.Namespace, loaded: Any, device: Any) -> int:
    from ..interpret.filters import layer_filters
    from ..interpret.plotting import plot_filters
    f = layer_filters(loaded.model, args.layer)
    png = plot_filters(f, args.out / f"filters_{_slug(f.layer)}.png", title=_title(args),
                       max_out=args.max_kernels, max_in=args.max_inputs)
    meta = {"model": _title(args), "layer": f.layer, "shape": list(f.weight.shape), "png": str(png),
            "abs_max_per_kernel": f.weight.flatten(1).abs().amax(1).tolist()}
    return _finish([png, _write_json(args.out, "filters.json", meta)])


# -- patches ---------------------------------------------------------------------------------
def run_patches(args: argparse.Namespace, loaded: Any, device: Any) -> int:
    import torch

    from ..interpret.inputs import data_batches, to_pictures
    from ..interpret.layers import stage_names
    from ..interpret.patches import crop, top_patches
    from ..interpret.plotting import plot_patches
    batches = [x for x, _ in data_batches(loaded, args.data, data_dir=args.data_dir, limit=args.limit,
                                          batch_size=args.batch_size, device=device)]
    pictures = torch.cat([to_pictures(loaded, x).cpu() for x in batches])
    layers = args.layer or stage_names(loaded.model)[:-1] or ["-1"]
    paths, report = [], []
    for layer in layers:
        channels = args.channels if args.channels is not None else range(args.max_channels)
        in_range = [c for c in channels if c < _channels_of(loaded.model, layer, batches[0])]
        top = top_patches(loaded.model, batches, layer, k=args.top, channels=in_range)
        crops = [[crop(pictures[int(i)], b) for i, b in zip(top.image_index[r], top.boxes[r], strict=True)]
                 for r in range(len(top.channels))]
        title = (f"{_title(args)}: top {top.values.shape[1]} of {len(pictures)} {args.data} images per channel, "
                 f"layer {top.layer}\n(receptive field {top.field[0]}x{top.field[1]} px; number = activation)")
        png = plot_patches(crops, top.values, top.channels.tolist(), args.out / f"patches_{_slug(top.layer)}.png",
                           title=title)
        paths.append(png)
        report.append({"layer": top.layer, "field": list(top.field), "map_size": list(top.map_size), "png": str(png),
                       "channels": {int(c): {"images": top.image_index[r].tolist(), "values": top.values[r].tolist(),
                                             "boxes_tlbr": top.boxes[r].tolist()}
                                    for r, c in enumerate(top.channels.tolist())}})
    meta = {"model": _title(args), "data": args.data, "images": len(pictures), "layers": report}
    return _finish([*paths, _write_json(args.out, "patches.json", meta)])


def _channels_of(model: Any, layer: str, x: Any) -> int:
    from ..interpret.layers import map_shapes, resolve_layer
    name = resolve_layer(model, layer)
    shape = map_shapes(model, x[:1], [name]).get(name)
    return int(shape[1]) if shape and len(shape) > 1 else 0


# -- classviz --------------------------------------------------------------------------------
def run_classviz(args: argparse.Namespace, loaded: Any, device: Any) -> int:
    from ..interpret.classviz import ClassVizConfig, class_visualization
    from ..interpret.inputs import resolve_class
    from ..interpret.plotting import plot_images
    config = ClassVizConfig(steps=args.steps, lr=args.lr, l2=args.l2, jitter=args.jitter, blur_every=args.blur_every,
                            blur_sigma=args.blur_sigma, param=args.param, decorrelate=not args.no_decorrelate,
                            objective=args.objective, seed=args.seed)
    c, h, w = loaded.meta["input_size"]
    results, labels = [], []
    for text in args.classes:
        k = resolve_class(loaded.classes, text)
        viz = class_visualization(loaded.model, k, input_size=(c, h, w), mean=loaded.pipeline.mean,
                                  std=loaded.pipeline.std, config=config, device=device)
        name = loaded.classes[k]
        print(f"class {name!r} ({k}): logit {viz.logit:.3f}, probability {viz.probability:.4f} "
              f"(grey start {viz.start_probability:.4f})")
        results.append({"class": name, "index": k, "logit": viz.logit, "probability": viz.probability,
                        "start_probability": viz.start_probability, "history": viz.history})
        labels.append(f"{name}\np = {viz.probability:.3f}")
        results[-1]["image"] = viz.image
    title = (f"{_title(args)}: class visualisation, {args.param} parameterisation, {args.steps} steps\n"
             f"(lambda {args.l2:g}, jitter {args.jitter} px{f', blur every {args.blur_every}' if args.blur_every else ''})")
    stem = "_".join(_slug(r["class"]) for r in results)[:80]
    png = plot_images([r.pop("image") for r in results], labels, args.out / f"classviz_{stem}.png", title=title,
                      cols=min(4, len(results)))
    meta = {"model": _title(args), "config": vars(config), "png": str(png), "classes": results}
    return _finish([png, _write_json(args.out, "classviz.json", meta)])


# -- gradcam ---------------------------------------------------------------------------------
def run_gradcam(args: argparse.Namespace, loaded: Any, device: Any) -> int:
    from ..interpret.gradcam import box_mask, explain_cam, mass_in_box, peak
    from ..interpret.inputs import load_files, resolve_class, to_pictures
    from ..interpret.plotting import plot_cam
    from ..train.inference import expand_inputs
    files = expand_inputs(args.inputs)
    x = load_files(loaded, files, device=device)
    target = None if args.target is None else resolve_class(loaded.classes, args.target)
    res = explain_cam(loaded.model, x, target, args.layer, method=args.method)
    pictures, peaks = to_pictures(loaded, x).cpu(), peak(res.heat).tolist()
    mass = mass_in_box(res.heat, args.box).tolist() if args.box else None
    area = float(box_mask(tuple(res.heat.shape[-2:]), args.box).float().mean()) if args.box else None
    h, w = res.heat.shape[-2:]
    entries, paths = [], []
    for i, f in enumerate(files):
        k = int(res.targets[i])
        name = loaded.classes[k]
        p = float(res.probabilities[i, k])
        title = f"{f.name}: {args.method} for {name!r} (p = {p:.3f}), layer {res.layer}"
        stem = f"{args.method.replace('+', 'pp')}_{_slug(f.stem)}_{_slug(name)}"
        png = plot_cam(pictures[i], res.heat[i].cpu(), args.out / f"{stem}.png", title=title,
                       boxes=args.box or (), peak=tuple(peaks[i]))
        paths.append(png)
        entry = {"file": str(f), "class": name, "index": k, "probability": p, "layer": res.layer, "png": str(png),
                 "peak_xy": peaks[i], "peak_fraction": [peaks[i][0] / w, peaks[i][1] / h]}
        if mass is not None:
            entry["boxes"], entry["mass_in_boxes"], entry["area_of_boxes"] = [list(b) for b in args.box], mass[i], area
        entries.append(entry)
    js = _write_json(args.out, "gradcam.json", {"model": _title(args), "method": args.method, "images": entries})
    if args.json:  # lists of numbers on one line
        print(re.sub(r"\[\s+([-+0-9.e,\s]+?)\s+\]", lambda m: "[" + " ".join(m.group(1).split()) + "]",
                     json.dumps(entries, indent=2)))
        return 0
    return _finish([*paths, js])


# -- activations / stats ---------------------------------------------------------------------
def run_stats(args: argparse.Namespace, loaded: Any, device: Any) -> int:
    from ..interpret.inputs import data_batches
    from ..interpret.plotting import plot_layer_stats
    from ..interpret.stats import CSV_COLUMNS, layer_statistics
    from ..train.inference import open_model
    gradients = args.method == "stats"
    series: dict[str, Any] = {}
    for source, model in [(args.source, loaded), *((s, open_model(s, device=device)) for s in args.others)]:
        x, y = next(iter(data_batches(model, args.data, data_dir=args.data_dir, limit=args.batch_size,
                                      batch_size=args.batch_size, device=device, seed=args.seed)))
        series[_title(args) if source == args.source else source] = layer_statistics(
            model.model, x, y, gradients=gradients, batch_stats=args.batch_stats)
    what = "response std and weight-gradient norm" if gradients else "response std"
    what += " (batch norm on batch statistics)" if args.batch_stats else ""
    png = plot_layer_stats(series, args.out / f"{args.method}.png", gradients=gradients,
                           title=f"{what} per layer, one batch of {args.batch_size} {args.data} images")
    csv = args.out / f"{args.method}.csv"
    lines = [",".join(("model", *CSV_COLUMNS))]
    lines += [",".join(map(str, (label, *r.row()))) for label, rows in series.items() for r in rows]
    csv.write_text("\n".join(lines) + "\n")
    meta = {"data": args.data, "batch": args.batch_size, "png": str(png), "csv": str(csv),
            "models": {label: [vars(r) for r in rows] for label, rows in series.items()}}
    return _finish([png, csv, _write_json(args.out, f"{args.method}.json", meta)])


RUNNERS = {"filters": run_filters, "patches": run_patches, "classviz": run_classviz, "gradcam": run_gradcam,
           "activations": run_stats, "stats": run_stats}


def run(args: argparse.Namespace) -> int:
    from ..train.inference import open_model
    device = _device(args.device)
    loaded = open_model(args.source, device=device, pretrained=args.pretrained)
    args.out = Path(args.out)
    return RUNNERS[args.method](args, loaded, device)


def add_parser(sub: argparse._SubParsersAction) -> None:
    from ._common import add_model_source_arguments
    p = sub.add_parser("explain", help="pictures of what a network learned (filters, patches, Grad-CAM, ...)",
                       description="Interpretation (seed 003): each method writes PNG + JSON files into --out "
                                   "and prints their paths.")
    methods = p.add_subparsers(dest="method", required=True, metavar="METHOD")
    helps = {"filters": "a layer's kernels (default: the first layer) as a grid",
             "patches": "per channel, the image patches (receptive fields) that excite it most",
             "classviz": "class-score maximisation: the image a class likes best",
             "gradcam": "Grad-CAM heat maps of images for a class",
             "activations": "per-layer response mean/std on a batch (plain vs residual: --with)",
             "stats": "per-layer response std and weight-gradient norms on a batch (vanishing gradients)"}
    for method in METHODS:
        m = methods.add_parser(method, help=helps[method], description=helps[method])
        add_model_source_arguments(m)
        m.add_argument("--out", default=f"explain/{method}", metavar="DIR", type=output_folder, help="folder for the PNG and JSON files")
        ADD_OPTIONS[method](m)
        m.set_defaults(func=run)


def _data_options(m: argparse.ArgumentParser, *, batch: int) -> None:
    m.add_argument("--data", required=True, metavar="D", help="a built-in data set name or an image folder")
    m.add_argument("--data-dir", default="data", metavar="DIR", help="where built-in data sets are stored")
    m.add_argument("--batch-size", type=at_least(1, 100_000), default=batch)
    m.add_argument("--seed", type=int, default=0, help="the data split's seed")


def _filters_options(m: argparse.ArgumentParser) -> None:
    m.add_argument("--layer", help="a convolution, or a block whose first convolution is shown "
                                   "(module path or feature_info index; default: the first layer)")
    m.add_argument("--max-kernels", type=at_least(1), default=64, help="kernels shown at most")
    m.add_argument("--max-inputs", type=at_least(1), default=16, help="input channels shown at most (deeper layers)")


def _channel_list(text: str) -> list[int]:
    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected channel numbers like 0,3,7; got {text!r}") from None


def _patches_options(m: argparse.ArgumentParser) -> None:
    _data_options(m, batch=128)
    m.add_argument("--layer", action="append", help="layer(s) to show, one grid each (module path or feature_info "
                                                    "index; default: every stage but the last)")
    m.add_argument("--top", type=at_least(1, 1000), default=9, help="patches per channel")
    m.add_argument("--channels", type=_channel_list, help="channels to show, e.g. 0,5,9")
    m.add_argument("--max-channels", type=at_least(1, 4096), default=16, help="without --channels: the first N channels")
    m.add_argument("--limit", type=at_least(1, 1_000_000), default=2000, help="images of the test split searched")


def _classviz_options(m: argparse.ArgumentParser) -> None:
    m.add_argument("--class", dest="classes", action="append", required=True, metavar="C",
                   help="class name or index (repeat for several)")
    m.add_argument("--steps", type=at_least(1, 100_000), default=200)
    m.add_argument("--lr", type=finite_float, default=0.05)
    m.add_argument("--l2", type=finite_float, default=1e-3, help="lambda of the L2 penalty on the normalised image")
    m.add_argument("--jitter", type=at_least(0, 4096), default=2, help="random shift per step, pixels")
    m.add_argument("--blur-every", type=at_least(0), default=0, help="Gaussian blur every N steps (pixel parameterisation)")
    m.add_argument("--blur-sigma", type=positive_float, default=0.5)
    m.add_argument("--param", choices=("pixel", "fft"), default="pixel",
                   help="fft: 1/f-scaled spectrum with decorrelated colours (as lucent)")
    m.add_argument("--no-decorrelate", action="store_true", help="with --param fft: plain RGB")
    m.add_argument("--objective", choices=("logit", "log-prob"), default="logit")
    m.add_argument("--seed", type=int, default=0)


def _box(text: str) -> tuple[float, float, float, float]:
    try:
        x0, y0, x1, y1 = (float(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected X0,Y0,X1,Y1 as fractions 0..1; got {text!r}") from None
    if not (0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1):
        raise argparse.ArgumentTypeError(f"box {text!r}: need 0 <= X0 < X1 <= 1 and 0 <= Y0 < Y1 <= 1")
    return x0, y0, x1, y1


def _gradcam_options(m: argparse.ArgumentParser) -> None:
    m.add_argument("inputs", nargs="+", metavar="IMAGE|DIR")
    m.add_argument("--layer", help="module path or feature_info index (default: the last stage with a spatial map)")
    m.add_argument("--class", dest="target", metavar="C", help="class name or index (default: each image's prediction)")
    m.add_argument("--method", choices=("gradcam", "gradcam++"), default="gradcam")
    m.add_argument("--box", type=_box, action="append", metavar="X0,Y0,X1,Y1",
                   help="report the heat map's mass inside this box (fractions of width and height); "
                        "repeated: inside the union of the boxes")
    m.add_argument("--json", action="store_true", help="print the per-image results as JSON")


def _stats_options(m: argparse.ArgumentParser) -> None:
    _data_options(m, batch=64)
    m.add_argument("--with", dest="others", action="append", default=[], metavar="RUN|MODEL",
                   help="another model drawn in the same plots (e.g. plain20 beside resnet20)")
    m.add_argument("--batch-stats", action="store_true",
                   help="training-mode forward pass: batch norm on the batch's statistics (untrained networks)")


ADD_OPTIONS = {"filters": _filters_options, "patches": _patches_options, "classviz": _classviz_options,
               "gradcam": _gradcam_options, "activations": _stats_options, "stats": _stats_options}
