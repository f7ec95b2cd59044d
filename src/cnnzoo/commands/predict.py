"""`cnnzoo predict RUN|CHECKPOINT|MODEL [--pretrained W] IMAGE|DIR...`: top-k classes of images."""

from __future__ import annotations

import argparse
import json
import sys
import warnings

from ..errors import CnnzooError, DataError
from ._argtypes import at_least, output_file
from ._common import add_backend_arguments, add_model_source_arguments


def run(args: argparse.Namespace) -> int:
    from ..train.device import pick_device
    from ..speed.fast_predict import predict_fast
    from ..train.inference import expand_inputs, open_model
    device = pick_device(args.device)
    loaded = open_model(args.source, device=device, pretrained=args.pretrained)
    files = expand_inputs(args.inputs)
    closing: list[str] = []  # predict_fast's summary line, printed on stderr after the results
    results, bad = predict_fast(loaded, files, top_k=args.top_k, tta=args.tta, device=device, backend=args.backend,
                                batch_size=args.batch_size, workers=args.workers, log=closing.append)
    if bad and not results:
        shown = "; ".join(f"{p.name}: {r}" for p, r in bad[:3]) + ("; ..." if len(bad) > 3 else "")
        raise DataError(f"none of the {len(bad)} inputs is a usable image ({shown})")
    if bad:
        listing = "\n".join(f"  {p}: {r}" for p, r in bad)
        if args.strict:
            raise CnnzooError(f"{len(bad)} input files cannot be used:\n{listing}")
        warnings.warn(f"skipped {len(bad)} files that are not usable images:\n{listing}", stacklevel=1)
    if args.csv:
        from ..train.submission import write_submission
        write_submission(results, args.csv)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            preds = "  ".join(f"{p['class']} {p['probability']:.3f}" for p in r["predictions"])
            print(f"{r['file']}: {preds}")
    if not args.quiet:
        sys.stdout.flush()
        for line in closing:
            print(line, file=sys.stderr)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="classify images with a trained or pretrained model",
                       description="Top-k classes with probabilities for each image (folders are searched).")
    add_model_source_arguments(p)
    p.add_argument("inputs", nargs="+", metavar="IMAGE|DIR")
    p.add_argument("--top-k", type=at_least(1), default=5)
    p.add_argument("--tta", action="store_true", help="average over flipped/shifted views (seed 003)")
    p.add_argument("--strict", action="store_true", help="unusable image files are an error")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.add_argument("--quiet", action="store_true", help="no closing line on stderr (images/s and the backend used)")
    add_backend_arguments(p)
    p.add_argument("--csv", metavar="FILE.csv", type=output_file(), help="also write Kaggle's submission format: Id,Expected "
                   "(file name, top-1 class name)")
    p.set_defaults(func=run)