"""Subcommands `rnncap params` and `rnncap width`: the parameter count and the budget solver."""

from __future__ import annotations

import argparse

from .cells import CELLS
from .params import count_params, solve_width


def _cmd_params(a: argparse.Namespace) -> int:
    print(count_params(a.cell, a.width, a.depth, a.n_in, a.n_out))
    return 0


def _cmd_width(a: argparse.Namespace) -> int:
    print(solve_width(a.cell, a.budget, a.depth, a.n_in, a.n_out))
    return 0


def _arch_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cell", required=True, help=f"one of: {', '.join(CELLS)}")
    p.add_argument("--depth", type=int, required=True, help="stacked layers (1, 2, 4, 8)")
    p.add_argument("--n-in", type=int, required=True, help="input dimension")
    p.add_argument("--n-out", type=int, required=True, help="readout dimension")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("params", help="count trainable parameters of a stack (docs/method.md §2.4)")
    _arch_args(p)
    p.add_argument("--width", type=int, required=True, help="units per layer")
    p.set_defaults(func=_cmd_params)

    p = sub.add_parser("width", help="largest width whose parameter count fits a budget")
    _arch_args(p)
    p.add_argument("--budget", type=int, required=True, help="maximum number of parameters")
    p.set_defaults(func=_cmd_width)
