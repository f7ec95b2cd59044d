"""`cnnzoo experiment degradation|lesion|gradflow|kernels`: the lectures' experiments, one command each."""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module in cnnzoo.experiments, settings class, run function, one-line help)
EXPERIMENTS: dict[str, tuple[str, str, str, str]] = {
    "degradation": ("degradation", "DegradationSettings", "run_degradation",
                    "plain vs residual networks at two depths: training and validation error (He et al. Fig. 6)"),
    "lesion": ("lesion", "LesionSettings", "run_lesion",
               "delete and reorder the blocks of a trained ResNet (Veit et al. 2016) and of a plain network"),
    "gradflow": ("gradflow", "GradflowSettings", "run_gradflow",
                 "per-layer gradient norms and response std of deep nets: sigmoid/tanh/ReLU, BN, skips"),
    "kernels": ("kernels", "KernelsSettings", "run_kernels",
                "5x5 vs two 3x3 vs 1x7+7x1: parameters, mult-adds, receptive field and accuracy"),
}


def _settings_class(name: str) -> type:
    module = importlib.import_module(f"cnnzoo.experiments.{EXPERIMENTS[name][0]}")
    return getattr(module, EXPERIMENTS[name][1])


def run(args: argparse.Namespace) -> int:
    from ..config import from_mapping
    module_name, settings_name, func_name, _ = EXPERIMENTS[args.experiment]
    module = importlib.import_module(f"cnnzoo.experiments.{module_name}")
    cls = getattr(module, settings_name)
    given = {k: v for k, v in vars(args).items() if k in cls.__dataclass_fields__}
    settings = from_mapping(cls, given, source="command line")
    print(f"cnnzoo experiment {args.experiment}", flush=True)
    folder = getattr(module, func_name)(settings, log=lambda line: print(line, flush=True))
    from ..report.experiment import write_experiment_report
    page = write_experiment_report(folder.path)
    print((folder.path / "summary.md").read_text(encoding="utf-8"))
    print(f"experiment folder: {folder.path}\nreport: {page}", file=sys.stdout)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    from ..config import add_arguments
    p = sub.add_parser("experiment", help="rerun one of the lectures' experiments (degradation, lesion, ...)",
                       description="Each experiment trains (or reuses) its sub-runs and writes a folder: "
                                   "experiment.yaml, raw CSV, PNG figures, summary.md and report.html.")
    kinds = p.add_subparsers(dest="experiment", metavar="EXPERIMENT", required=True)
    for name, (_, _, _, help_text) in EXPERIMENTS.items():
        q = kinds.add_parser(name, help=help_text, description=help_text)
        if name == "lesion":
            q.add_argument("run", metavar="RUN", help="run folder of a trained ResNet (e.g. a degradation sub-run)")
        add_arguments(q, _settings_class(name), skip=("run",))
        q.set_defaults(func=run)
    p.set_defaults(func=run)
