"""`cnnzoo compare MODEL...`: models side by side, and the accuracy-vs-operations chart."""

from __future__ import annotations

import argparse

from ._argtypes import at_least


def run(args: argparse.Namespace) -> int:
    from ..analysis.compare import render_compare
    print(render_compare(args.models, args.plot, latency=not args.no_latency, runs=args.runs, fmt=args.format,
                         metric=args.metric), end="")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="compare models side by side, with the accuracy-vs-operations chart",
                       description="Params, mult-adds, published top-1/top-5 and measured CPU latency at batch 1, "
                                   "and (with --plot) the bubble chart of seed 000 Fig. 20 (Canziani et al.).")
    p.add_argument("models", nargs="+", metavar="MODEL")
    p.add_argument("--plot", metavar="FILE.png", help="write the bubble chart there")
    p.add_argument("--metric", choices=("top1", "top5"), default="top1", help="accuracy on the chart's y axis")
    p.add_argument("--runs", type=at_least(1, 1000), default=5, help="timed forward passes per model (median)")
    p.add_argument("--no-latency", action="store_true", help="skip the latency measurement")
    p.add_argument("--format", choices=("text", "markdown"), default="text")
    p.set_defaults(func=run)
