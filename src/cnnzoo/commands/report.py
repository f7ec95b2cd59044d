"""`cnnzoo report RUN|EXPERIMENT`: one self-contained HTML page about a run or an experiment folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._argtypes import at_least


def run(args: argparse.Namespace) -> int:
    from ..errors import CnnzooError
    target = Path(args.folder)
    if (target / "experiment.yaml").is_file():
        from ..report.experiment import write_experiment_report
        page = write_experiment_report(target)
    elif target.is_dir():
        from ..report.run import write_run_report
        page = write_run_report(target, device=args.device, worst=args.worst)
    else:
        raise CnnzooError(f"{target} is not a run folder or an experiment folder")
    print(f"report: {page}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write a self-contained HTML report of a run or an experiment folder",
                       description="Writes FOLDER/report.html: for a run, the model's table, config, provenance, "
                                   "learning curves, confusion matrix, per-class precision/recall/F1 and the "
                                   "worst-classified test images; for an experiment folder, its figures and tables. "
                                   "One file, images inline, no network needed to view it.")
    p.add_argument("folder", metavar="RUN|EXPERIMENT", help="a run folder or a `cnnzoo experiment` folder")
    p.add_argument("--worst", type=at_least(0, 1000), default=12, help="worst-classified test images to show (default: 12)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
    p.set_defaults(func=run)
