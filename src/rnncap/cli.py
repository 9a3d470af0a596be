"""The `rnncap` command line: every pipeline step can be run by hand.

Each stage module contributes its subcommands through a `register(subparsers)`
function, so this file stays a table of contents.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import __version__
from .model.cells import CELLS, CellError
from .analysis.cli import register as _register_analysis
from .model.params import BudgetError, count_params, solve_width


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


def _register_core(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("params", help="count trainable parameters of a stack (spec §2.4)")
    _arch_args(p)
    p.add_argument("--width", type=int, required=True, help="units per layer")
    p.set_defaults(func=_cmd_params)

    p = sub.add_parser("width", help="largest width whose parameter count fits a budget")
    _arch_args(p)
    p.add_argument("--budget", type=int, required=True, help="maximum number of parameters")
    p.set_defaults(func=_cmd_width)


def _cmd_data(a: argparse.Namespace) -> int:
    from .tasks import get_task_class

    get_task_class(a.task).make_data(a.seed, a.out, **json.loads(a.options))
    return 0


def _cmd_train(a: argparse.Namespace) -> int:
    import torch

    from .train.run import run

    # A training process flushes float32 denormals to zero, before any op starts a thread pool
    # (new threads inherit the flag). A run that memorises its labels drives gradients and Adam's
    # second moments below 1e-38, where x86 arithmetic slows many times: a 36000-step depth-2 GRU
    # (capacity task, 2000 params) fell from 35 to 22 steps/s without it, with the same losses to
    # the last digit (docs/performance.md). GPUs are unaffected; `--keep-denormals` restores IEEE.
    torch.set_flush_denormal(not a.keep_denormals)
    spec = json.loads(Path(a.spec[1:]).read_text()) if a.spec.startswith("@") else json.loads(a.spec)
    run(spec, a.out, device=a.device or spec.get("device", "cpu"), threads=a.threads)
    return 0


def _cmd_aggregate(a: argparse.Namespace) -> int:
    from . import io
    from .analysis.aggregate import best_per_run, collect

    runs = list(a.runs)
    if a.runs_from:  # the paper grid's 10^4 directories do not fit on one command line
        runs += [line.strip() for line in Path(a.runs_from).read_text().splitlines() if line.strip()]
    trials = collect(runs)
    io.write_parquet(a.out_trials, trials)
    io.write_parquet(a.out_best, best_per_run(trials))
    print(f"{len(trials)} trials from {len(runs)} runs")
    return 0


def _register_stages(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="write a task's fixed data for one task seed")
    p.add_argument("--task", required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--options", default="{}", help="task options as JSON")
    p.add_argument("--out", required=True, help="data directory")
    p.set_defaults(func=_cmd_data)

    p = sub.add_parser("train", help="run (or resume) one run directory: HP search, random draws or reruns")
    p.add_argument("--spec", required=True, help="run spec as JSON, or @file.json (docs/contracts.md)")
    p.add_argument("--out", required=True, help="run directory")
    p.add_argument("--device", default=None, help="cpu or cuda (default: the spec's device, else cpu)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1: best for small models)")
    p.add_argument("--keep-denormals", action="store_true",
                   help="do not flush float32 denormals to zero on the CPU (slower once a run memorises)")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("aggregate", help="concatenate run directories into trials/best tables")
    p.add_argument("--out-trials", required=True)
    p.add_argument("--out-best", required=True)
    p.add_argument("--runs-from", help="file listing run directories, one per line")
    p.add_argument("runs", nargs="*", help="run directories")
    p.set_defaults(func=_cmd_aggregate)


REGISTRARS = [_register_core, _register_stages, _register_analysis]


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
