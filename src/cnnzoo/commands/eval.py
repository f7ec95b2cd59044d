"""`cnnzoo eval RUN_DIR|CHECKPOINT`: metrics of a trained model on its data (or --data)."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any

from ..errors import ConfigError, OutputError
from ._argtypes import at_least
from ._common import add_backend_arguments, add_model_source_arguments, print_summary


def run(args: argparse.Namespace) -> int:
    from ..data import load_data
    from ..data.loaders import BatchSource
    from ..train.evaluate import evaluate
    from ..train.device import pick_device
    from ..train.inference import open_model, restrict_to_classes
    device = pick_device(args.device)
    loaded = open_model(args.source, device=device, pretrained=args.pretrained)
    data_cfg = loaded.meta.data_config(data=args.data, data_dir=args.data_dir, strict=args.strict)
    data_name = data_cfg.data
    data = load_data(data_cfg, size=loaded.pipeline.out_size[0])
    if data.classes != loaded.classes:  # a pretrained model on a subset of its classes, by name
        loaded = restrict_to_classes(loaded, data.classes, data_name=data_name)
    split = {"train": data.train, "val": data.val, "test": data.test}[args.split]
    if split is None:
        raise ConfigError(f"{data_name} has no {args.split} split")
    source = BatchSource(split, batch_size=args.batch_size, device=device, shuffle=False)
    from ..speed.fast_predict import adaptive_model
    model = adaptive_model(loaded, args.backend, batch_size=args.batch_size, images=len(split), tta=args.tta,
                           device=device)
    metrics = evaluate(model, source, loaded.pipeline, loaded.classes, tta=args.tta)
    png = _write_confusion(args, loaded, metrics, data_name)
    if args.json:
        print(json.dumps({**metrics.headline(), "count": metrics.count, "split": args.split, "data": data_name}))
    else:
        print_summary(f"{Path(data_name).name} {args.split}" + (" (TTA)" if args.tta else ""), metrics, sys.stdout)
        if png is not None:
            print(f"confusion matrix: {png}")
    return 0


def _write_confusion(args: argparse.Namespace, loaded: Any, metrics: Any, data_name: str) -> Path | None:
    """The confusion matrix PNG: `--confusion FILE`, else beside the run evaluated (a model name
    with `--pretrained` has no run folder: nothing is written unless asked for). None if none written."""
    if args.confusion:
        png = Path(args.confusion)
    elif loaded.path.exists():
        run_dir = loaded.path.parent.parent if loaded.path.parent.name == "checkpoints" else loaded.path.parent
        png = run_dir / f"eval_{Path(data_name).name}_{args.split}_confusion.png"
    else:
        return None
    from ..train.report import plot_confusion
    try:
        plot_confusion(metrics.confusion, loaded.classes, png, title=f"{loaded.meta.model} on "
                       f"{Path(data_name).name} {args.split}: top-1 {metrics.top1:.4f}")
    except OSError as e:  # a read-only run folder: the metrics still count
        if args.confusion:
            raise OutputError(f"--confusion {png}: cannot write it ({e.strerror or e})") from None
        warnings.warn(f"cannot write the confusion matrix {png} ({e.strerror or e}); "
                      "pass --confusion FILE.png to put it elsewhere", stacklevel=1)
        return None
    return png


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="evaluate a trained model", description="Evaluate a run folder or checkpoint "
                       "on the data it was trained on (or --data): top-1, top-5, macro-F1, per-class P/R, "
                       "confusion matrix PNG.")
    add_model_source_arguments(p, what="the model to evaluate (a model name needs --data)")
    p.add_argument("--data", help="data set name or image folder (default: the one it was trained on)")
    p.add_argument("--data-dir", help="where torchvision data sets are")
    p.add_argument("--split", choices=("test", "val", "train"), default="test", help="which split (default: test)")
    p.add_argument("--tta", action="store_true", help="average predictions over flipped/shifted views")
    add_backend_arguments(p, batch_size=256, workers=False)
    p.add_argument("--strict", action="store_true", help="unusable image files are an error")
    p.add_argument("--confusion", metavar="FILE.png", help="where to write the confusion matrix")
    p.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    p.set_defaults(func=run)