"""`cnnzoo show MODEL`: the model as its paper's table."""

from __future__ import annotations

import argparse

from ._argtypes import at_least, shape


def run(args: argparse.Namespace) -> int:
    from ..analysis.summary import render_show
    from ..registry import is_table_path
    if is_table_path(args.model):  # 1-D and 3-D tables: a clear error (the table is for C x H x W maps)
        from ..netspec import spec_input_size
        spec_input_size(args.model)
    print(render_show(args.model, args.input, batch=args.batch, depth=args.depth, fmt=args.format,
                      dtype=args.dtype, optimizer=args.optimizer), end="")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("show", help="print a model as its paper's table",
                       description="The model as the paper's table: one row per stage/block/layer (kernel/stride, "
                                   "output size, params, mult-adds, receptive field, the paper's own columns), then "
                                   "totals: params, mult-adds and FLOPs, parameter and activation memory for "
                                   "inference and training, receptive field.")
    p.add_argument("model", help="registered name or a network table .yaml")
    p.add_argument("--input", metavar="CxHxW", type=shape, help="input size, e.g. 3x224x224 (default: the model's)")
    p.add_argument("--batch", type=at_least(1, 1_000_000), default=1, help="images per pass, for the memory figures (default: 1)")
    p.add_argument("--depth", type=at_least(1), help="every module down to this depth (default: the paper's rows)")
    p.add_argument("--format", choices=("text", "markdown", "csv", "json"), default="text")
    p.add_argument("--dtype", choices=("float32", "float16", "bfloat16"), default="float32",
                   help="element type for the memory figures")
    p.add_argument("--optimizer", default="sgd-momentum", choices=("sgd", "sgd-momentum", "adam", "adamw"),
                   help="optimizer state counted in the training memory")
    p.set_defaults(func=run)