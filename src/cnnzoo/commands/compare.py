"""`cnnzoo compare MODEL...`: models side by side, and the accuracy-vs-operations chart.
`cnnzoo compare --runs RUN...`: learning curves of trained runs overlaid."""

from __future__ import annotations

import argparse

from ._argtypes import PLOT_SUFFIXES, at_least, output_file


def run(args: argparse.Namespace) -> int:
    if args.runs:
        from ..report.compare_runs import compare_runs
        print(compare_runs(args.models + args.runs, plot=args.plot or "runs_compared.png"), end="")
        return 0
    if not args.models:
        from ..errors import ConfigError
        raise ConfigError("compare: name MODEL(s) to compare, or --runs RUN... for trained runs")
    from ..analysis.compare import render_compare
    print(render_compare(args.models, args.plot, latency=not args.no_latency, runs=args.repeats, fmt=args.format,
                         metric=args.metric), end="")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="compare models side by side (or trained runs' learning curves)",
                       description="Params, mult-adds, published top-1/top-5 and measured CPU latency at batch 1, "
                                   "and (with --plot) the bubble chart of seed 000 Fig. 20 (Canziani et al.). "
                                   "With --runs RUN...: the runs' learning curves overlaid, each labelled by the "
                                   "config keys in which the runs differ.")
    p.add_argument("models", nargs="*", metavar="MODEL")
    p.add_argument("--runs", nargs="+", metavar="RUN", default=[], help="run folders: overlay their learning curves")
    p.add_argument("--plot", metavar="FILE.png", type=output_file(*PLOT_SUFFIXES), help="write the chart there (--runs: default runs_compared.png)")
    p.add_argument("--metric", choices=("top1", "top5"), default="top1", help="accuracy on the chart's y axis")
    p.add_argument("--repeats", type=at_least(1, 1000), default=5, help="timed forward passes per model (median)")
    p.add_argument("--no-latency", action="store_true", help="skip the latency measurement")
    p.add_argument("--format", choices=("text", "markdown"), default="text")
    p.set_defaults(func=run)
