"""`cnnzoo train`: train a model, validate every epoch, test the best checkpoint, write a run folder."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import ConfigError
from ..config import from_mapping, load_yaml_mapping, merge, add_arguments
from ._common import print_summary

START_ONLY = ("model", "pretrained", "init_from", "init", "se")  # options that build or initialise the model


def run(args: argparse.Namespace) -> int:
    from ..train.config import TrainConfig
    from ..train.trainer import Trainer
    given = {k: v for k, v in vars(args).items() if k in TrainConfig.__dataclass_fields__}
    if args.help_recipe:
        from ..train.recipes import RECIPES, load_recipe
        names = [given["recipe"]] if given.get("recipe") else list(RECIPES)
        print("\n\n".join(load_recipe(n).describe() for n in names))
        return 0
    stream = sys.stderr if args.json else sys.stdout
    if args.resume:
        if args.config:
            raise ConfigError("--resume takes its configuration from the run folder; drop --config")
        built = [f"--{k.replace('_', '-')}" for k in START_ONLY if k in given]
        if built:  # the saved weights already are the built, initialised model: these would only be recorded
            raise ConfigError(f"--resume continues the model the run built; drop {', '.join(built)} "
                              "(they apply when a run starts)")
        flags = from_mapping(TrainConfig, given, source="command line")
        trainer = Trainer.resume(Path(args.resume), overrides={k: getattr(flags, k) for k in given},
                                 argv=args.argv, stream=stream)
    else:
        yaml_values = load_yaml_mapping(args.config) if args.config else {}
        from ..train.recipes import with_recipe
        cfg = merge(TrainConfig, with_recipe(yaml_values, given), given, source=args.config or "config")
        if cfg.head_epochs and cfg.epochs and cfg.head_epochs >= cfg.epochs:
            print(f"cnnzoo: warning: --head-epochs {cfg.head_epochs} >= --epochs {cfg.epochs}: only the classifier "
                  f"trains in this run (--finetune {cfg.finetune} never starts)", file=sys.stderr)
        trainer = Trainer(cfg, argv=args.argv, stream=stream)
    result = trainer.run()
    if not trainer.dist.is_main:
        return 0
    if args.report:  # the run's HTML report (cnnzoo report RUN)
        from ..report.run import write_run_report
        print(f"report: {write_run_report(result.run_dir, device=trainer.cfg.device)}", file=stream)
    test = result.test
    if args.json:
        print(json.dumps({**test.headline(), "best_epoch": result.best_epoch, "epochs": result.epochs_run,
                          "train_samples_per_s": result.train_samples_per_s, "wall_s": result.wall_s,
                          "run_dir": str(result.run_dir)}))
        return 0
    print_summary("test", test, stream)
    print(f"best epoch {result.best_epoch} of {result.epochs_run}; "
          f"{result.train_samples_per_s:,.0f} training samples/s; {result.wall_s:.1f} s wall\n"
          f"run folder: {result.run_dir}", file=stream)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    from ..train.config import TrainConfig
    p = sub.add_parser("train", help="train a model (default: LeNet-5 on the bundled digits)",
                       description="Train a model, validate every epoch, test the best checkpoint and write a run "
                                   "folder. Every option can also come from --config FILE.yaml (same names).")
    p.add_argument("--config", metavar="FILE.yaml", help="YAML file of options (flags given here override it)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last checkpoint")
    p.add_argument("--json", action="store_true", help="print the final test metrics as one JSON object on stdout")
    p.add_argument("--report", action="store_true", help="write the run's HTML report (report.html) at the end")
    p.add_argument("--help-recipe", action="store_true",
                   help="print the values of --recipe NAME (or of every recipe) with the paper's sections, and exit")
    add_arguments(p, TrainConfig)
    p.set_defaults(func=run)