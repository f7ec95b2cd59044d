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
import importlib
import os
import sys
import typing
import warnings
from typing import Any

from . import __version__
from .commands import COMMANDS
from .errors import CnnzooError


def _warning_format(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> str:
    return f"cnnzoo: warning: {message}\n"


class OneLineParser(argparse.ArgumentParser):
    """argparse with the CLI's error format: `cnnzoo: error: <command>: <problem>`, exit 2."""

    def error(self, message: str) -> typing.NoReturn:
        command = self.prog.removeprefix("cnnzoo").strip()
        where = f"{command}: " if command else ""
        self.exit(2, f"cnnzoo: error: {where}{message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    """The `cnnzoo` parser: one subparser per module named in `commands.COMMANDS`."""
    parser = OneLineParser(prog="cnnzoo", description=__doc__.split("\n\n")[0],
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"cnnzoo {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=OneLineParser)
    for name in COMMANDS:
        importlib.import_module(f".commands.{name}", __package__).add_parser(sub)
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


def entry() -> None:
    """The `cnnzoo` command and `python -m cnnzoo`: `main`, then exit with its status. A torchrun
    worker (WORLD_SIZE > 1) leaves with `os._exit` once its output is flushed: its run is
    written and its process group destroyed by then, and in about 1 of 8 two-process CPU runs
    the interpreter's own teardown aborted it ("terminate called without an active exception",
    a gloo thread still joinable), which made torchrun report a finished run as failed."""
    code = main()
    if int(os.environ.get("WORLD_SIZE", "1") or 1) > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    entry()
