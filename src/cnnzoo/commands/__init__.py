"""One module per `cnnzoo` subcommand.

Each module `commands/<name>.py` defines `add_parser(sub)`, which adds its subparser to
`sub` (an `argparse` subparsers object) and sets `func=run`; `run(args) -> int` does the work.
Heavy imports (torch, torchvision, matplotlib) stay inside `run` so that `cnnzoo --help` is fast.
A new command is a new module and one entry in `COMMANDS` (the order of `cnnzoo --help`).
"""

from __future__ import annotations

COMMANDS: tuple[str, ...] = (
    "train",
    "eval",
    "predict",
    "models",
    "show",
    "compare",
    "explain",
    "report",
    "experiment",
    "export",
    "features",
    "compress",
    "bench",
)
