"""The `cnnzoo` command.

    cnnzoo train [--model lenet5] [--data digits] [...]     train, validate, test, report
    cnnzoo eval RUN_DIR|CHECKPOINT [--data ...]              metrics of a trained model
    cnnzoo predict CHECKPOINT IMAGE|DIR... [--top-k 5]       classes of images
    cnnzoo models [PATTERN]                                  the zoo, with params and mult-adds
    cnnzoo show MODEL [--input 3x224x224] [--depth K]        the model as its paper's table
    cnnzoo compare MODEL... [--plot cmp.png]                 side by side, accuracy vs operations

Errors a user can cause print one line (`cnnzoo: error: ...`) and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any

from . import __version__
from .config import add_arguments, from_mapping, load_yaml_mapping, merge
from .errors import CnnzooError, ConfigError


def _warning_format(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> str:
    return f"cnnzoo: warning: {message}\n"


# -- train -------------------------------------------------------------------------------------
def cmd_train(args: argparse.Namespace) -> int:
    from .train.config import TrainConfig
    from .train.trainer import Trainer
    given = {k: v for k, v in vars(args).items() if k in TrainConfig.__dataclass_fields__}
    stream = sys.stderr if args.json else sys.stdout
    if args.resume:
        if args.config:
            raise ConfigError("--resume takes its configuration from the run folder; drop --config")
        flags = from_mapping(TrainConfig, given, source="command line")
        trainer = Trainer.resume(Path(args.resume), overrides={k: getattr(flags, k) for k in given},
                                 argv=args.argv, stream=stream)
    else:
        yaml_values = load_yaml_mapping(args.config) if args.config else {}
        cfg = merge(TrainConfig, yaml_values, given, source=args.config or "config")
        trainer = Trainer(cfg, argv=args.argv, stream=stream)
    result = trainer.run()
    if not trainer.dist.is_main:
        return 0
    test = result.test
    if args.json:
        print(json.dumps({**test.headline(), "best_epoch": result.best_epoch, "epochs": result.epochs_run,
                          "train_samples_per_s": result.train_samples_per_s, "wall_s": result.wall_s,
                          "run_dir": str(result.run_dir)}))
        return 0
    _print_summary("test", test, stream)
    print(f"best epoch {result.best_epoch} of {result.epochs_run}; "
          f"{result.train_samples_per_s:,.0f} training samples/s; {result.wall_s:.1f} s wall\n"
          f"run folder: {result.run_dir}", file=stream)
    return 0


def _print_summary(split: str, m: Any, stream: Any) -> None:
    top5 = f"  top-5 {m.top5:.4f}" if m.top5 is not None else ""
    print(f"\n{split}: top-1 {m.top1:.4f}{top5}  macro-F1 {m.macro_f1:.4f}  loss {m.loss:.4f}  "
          f"({m.count} images)", file=stream)
    print(m.per_class_table(), file=stream)


# -- eval --------------------------------------------------------------------------------------
def cmd_eval(args: argparse.Namespace) -> int:
    from .data import load_data
    from .data.loaders import BatchSource
    from .train.evaluate import evaluate
    from .train.inference import load_checkpoint
    from .train.report import plot_confusion
    from .train.trainer import pick_device
    device = pick_device(args.device)
    loaded = load_checkpoint(args.checkpoint, device=device)
    cfg = loaded.meta.get("config", {})
    data_name = args.data or cfg.get("data") or loaded.meta.get("data", {}).get("name")
    if data_name is None:
        raise ConfigError("the checkpoint does not say which data it was trained on: pass --data")
    data = load_data(data_name, size=loaded.pipeline.out_size[0], seed=cfg.get("seed", 0),
                     data_dir=args.data_dir or cfg.get("data_dir", "data"), download=cfg.get("download", True),
                     val_fraction=cfg.get("val_fraction", 0.1), test_fraction=cfg.get("test_fraction", 0.2),
                     strict=args.strict)
    if data.classes != loaded.classes:
        raise ConfigError(f"{data_name} has classes {list(data.classes)[:10]} but the model was trained on "
                          f"{list(loaded.classes)[:10]}: evaluate on data with the same classes")
    split = {"train": data.train, "val": data.val, "test": data.test}[args.split]
    if split is None:
        raise ConfigError(f"{data_name} has no {args.split} split")
    source = BatchSource(split, batch_size=args.batch_size, device=device, shuffle=False)
    metrics = evaluate(loaded.model, source, loaded.pipeline, loaded.classes, tta=args.tta)
    run_dir = loaded.path.parent.parent if loaded.path.parent.name == "checkpoints" else loaded.path.parent
    png = Path(args.confusion) if args.confusion else run_dir / f"eval_{Path(data_name).name}_{args.split}_confusion.png"
    plot_confusion(metrics.confusion, loaded.classes, png,
                   title=f"{loaded.meta.get('model')} on {Path(data_name).name} {args.split}: top-1 {metrics.top1:.4f}")
    if args.json:
        print(json.dumps({**metrics.headline(), "count": metrics.count, "split": args.split, "data": data_name}))
    else:
        _print_summary(f"{Path(data_name).name} {args.split}" + (" (TTA)" if args.tta else ""), metrics, sys.stdout)
        print(f"confusion matrix: {png}")
    return 0


# -- predict -----------------------------------------------------------------------------------
def cmd_predict(args: argparse.Namespace) -> int:
    from .train.inference import expand_inputs, load_checkpoint, predict_files
    from .train.trainer import pick_device
    device = pick_device(args.device)
    loaded = load_checkpoint(args.checkpoint, device=device)
    files = expand_inputs(args.inputs)
    results, bad = predict_files(loaded, files, top_k=args.top_k, tta=args.tta, device=device)
    if bad:
        listing = "\n".join(f"  {p}: {r}" for p, r in bad)
        if args.strict:
            raise CnnzooError(f"{len(bad)} input files cannot be used:\n{listing}")
        warnings.warn(f"skipped {len(bad)} files that are not usable images:\n{listing}", stacklevel=1)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for r in results:
        preds = "  ".join(f"{p['class']} {p['probability']:.3f}" for p in r["predictions"])
        print(f"{r['file']}: {preds}")
    return 0


# -- models ------------------------------------------------------------------------------------
def si(n: float) -> str:
    """1234567 -> '1.23M' (K, M, G: powers of 1000)."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.3g}{unit}"
    return f"{n:.0f}"


def cmd_models(args: argparse.Namespace) -> int:
    from .analysis.zoo_table import zoo_rows
    rows = zoo_rows(args.pattern, family=args.family, mult_adds=not args.no_mult_adds)
    if not rows:
        raise ConfigError(f"no model matches {args.pattern!r}" + (f" in family {args.family!r}" if args.family else ""))
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    header = f"{'name':<24} {'family':<16} {'params':>13} {'mult-adds':>10}  {'input':<10} {'top-1 err':>9}  paper"
    print(header)
    print("-" * len(header))
    for r in rows:
        madds = si(r["mult_adds"]) if r.get("mult_adds") else "-"
        err = f"{r['top1_err']:.2f}%" if r["top1_err"] is not None else "-"
        name = f"{r['name']} (= {r['alias_of']})" if r["alias_of"] else r["name"]
        print(f"{name:<24} {r['family']:<16} {r['params']:>13,} {madds:>10}  {r['input']:<10} {err:>9}  "
              f"{r['paper']} ({r['year']})")
    print(f"\n{len(rows)} models; mult-adds: one multiply-add = one operation (FLOPs = 2 x mult-adds), "
          f"one image at the input size shown")
    return 0


# -- show / compare ----------------------------------------------------------------------------
def cmd_show(args: argparse.Namespace) -> int:
    from .analysis.summary import render_show
    print(render_show(args.model, args.input, batch=args.batch, depth=args.depth, fmt=args.format,
                      dtype=args.dtype, optimizer=args.optimizer), end="")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from .analysis.compare import render_compare
    print(render_compare(args.models, args.plot, latency=not args.no_latency, runs=args.runs, fmt=args.format,
                         metric=args.metric), end="")
    return 0


# -- parser ------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    from .train.config import TrainConfig
    parser = argparse.ArgumentParser(prog="cnnzoo", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"cnnzoo {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("train", help="train a model (default: LeNet-5 on the bundled digits)",
                       description="Train a model, validate every epoch, test the best checkpoint and write a run "
                                   "folder. Every option can also come from --config FILE.yaml (same names).")
    p.add_argument("--config", metavar="FILE.yaml", help="YAML file of options (flags given here override it)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last checkpoint")
    p.add_argument("--json", action="store_true", help="print the final test metrics as one JSON object on stdout")
    add_arguments(p, TrainConfig)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", help="evaluate a trained model", description="Evaluate a run folder or checkpoint "
                       "on the data it was trained on (or --data): top-1, top-5, macro-F1, per-class P/R, "
                       "confusion matrix PNG.")
    p.add_argument("checkpoint", metavar="RUN_DIR|CHECKPOINT")
    p.add_argument("--data", help="data set name or image folder (default: the one it was trained on)")
    p.add_argument("--data-dir", help="where torchvision data sets are")
    p.add_argument("--split", choices=("test", "val", "train"), default="test", help="which split (default: test)")
    p.add_argument("--tta", action="store_true", help="average predictions over flipped/shifted views")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
    p.add_argument("--strict", action="store_true", help="unusable image files are an error")
    p.add_argument("--confusion", metavar="FILE.png", help="where to write the confusion matrix")
    p.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("predict", help="classify images with a trained model",
                       description="Top-k classes with probabilities for each image (folders are searched).")
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="a run folder or a .safetensors checkpoint")
    p.add_argument("inputs", nargs="+", metavar="IMAGE|DIR")
    p.add_argument("--top-k", type=int, default=5)
    p.add_argument("--tta", action="store_true", help="average over flipped/shifted views (seed 003)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
    p.add_argument("--strict", action="store_true", help="unusable image files are an error")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("models", help="list the zoo with parameters and mult-adds",
                       description="Every registered variant with its parameters and mult-adds (counted, not "
                                   "quoted), default input and published ImageNet top-1 error.")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style name filter, e.g. 'resnet*'")
    p.add_argument("--family", help="only this family (the models/<family>.py module)")
    p.add_argument("--no-mult-adds", action="store_true", help="skip counting mult-adds (faster)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("show", help="print a model as its paper's table",
                       description="The model as the paper's table: one row per stage/block/layer (kernel/stride, "
                                   "output size, params, mult-adds, receptive field, the paper's own columns), then "
                                   "totals: params, mult-adds and FLOPs, parameter and activation memory for "
                                   "inference and training, receptive field.")
    p.add_argument("model", help="registered name or a network table .yaml")
    p.add_argument("--input", metavar="CxHxW", help="input size, e.g. 3x224x224 (default: the model's)")
    p.add_argument("--batch", type=int, default=1, help="images per pass, for the memory figures (default: 1)")
    p.add_argument("--depth", type=int, help="every module down to this depth (default: the paper's rows)")
    p.add_argument("--format", choices=("text", "markdown", "csv", "json"), default="text")
    p.add_argument("--dtype", choices=("float32", "float16", "bfloat16"), default="float32",
                   help="element type for the memory figures")
    p.add_argument("--optimizer", default="sgd-momentum", choices=("sgd", "sgd-momentum", "adam", "adamw"),
                   help="optimizer state counted in the training memory")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("compare", help="compare models side by side, with the accuracy-vs-operations chart",
                       description="Params, mult-adds, published top-1/top-5 and measured CPU latency at batch 1, "
                                   "and (with --plot) the bubble chart of seed 000 Fig. 20 (Canziani et al.).")
    p.add_argument("models", nargs="+", metavar="MODEL")
    p.add_argument("--plot", metavar="FILE.png", help="write the bubble chart there")
    p.add_argument("--metric", choices=("top1", "top5"), default="top1", help="accuracy on the chart's y axis")
    p.add_argument("--runs", type=int, default=5, help="timed forward passes per model (median)")
    p.add_argument("--no-latency", action="store_true", help="skip the latency measurement")
    p.add_argument("--format", choices=("text", "markdown"), default="text")
    p.set_defaults(func=cmd_compare)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = argv
    original_format = warnings.formatwarning
    warnings.formatwarning = _warning_format  # type: ignore[assignment]
    try:
        return int(args.func(args) or 0)
    except CnnzooError as e:
        print(f"cnnzoo: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cnnzoo: interrupted", file=sys.stderr)
        return 130
    finally:
        warnings.formatwarning = original_format


if __name__ == "__main__":
    sys.exit(main())
