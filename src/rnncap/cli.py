"""The `rnncap` command line: every pipeline step can be run by hand.

Each stage contributes its subcommands through its own `cli.register(subparsers)`, in the
order of the flow, so this file stays a table of contents.
"""

from __future__ import annotations

import argparse
import sys

from . import __version__
from .analysis import cli as analysis_cli
from .model import cli as model_cli
from .model.cells import CellError
from .model.params import BudgetError
from .plan import cli as plan_cli
from .report import cli as report_cli
from .train import cli as train_cli

REGISTRARS = [model_cli.register, plan_cli.register, train_cli.register, analysis_cli.register, report_cli.register]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnncap",
        description="Capacity and trainability of RNNs (Collins et al., 2017): pipeline steps.",
    )
    parser.add_argument("--version", action="version", version=f"rnncap {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for register in REGISTRARS:
        register(sub)
    return parser


EXPECTED_ERRORS: tuple[type[Exception], ...] = (CellError, BudgetError, FileNotFoundError, KeyError, ValueError)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except EXPECTED_ERRORS as e:  # a one-line reason, no traceback, non-zero exit
        print(f"rnncap {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
