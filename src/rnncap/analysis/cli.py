"""Subcommands `rnncap aggregate` and `rnncap fit` (docs/contracts.md)."""

from __future__ import annotations

import argparse
from pathlib import Path


def _cmd_fit(a: argparse.Namespace) -> int:
    from .fit import run

    run(a.trials, a.best, a.roles, a.out)
    return 0


def _cmd_aggregate(a: argparse.Namespace) -> int:
    from .. import io
    from .aggregate import best_per_run, collect

    runs = list(a.runs)
    if a.runs_from:  # the paper grid's 10^4 directories do not fit on one command line
        runs += [line.strip() for line in Path(a.runs_from).read_text().splitlines() if line.strip()]
    trials = collect(runs)
    io.write_parquet(a.out_trials, trials)
    io.write_parquet(a.out_best, best_per_run(trials))
    print(f"{len(trials)} trials from {len(runs)} runs")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("aggregate", help="concatenate run directories into trials/best tables")
    p.add_argument("--out-trials", required=True)
    p.add_argument("--out-best", required=True)
    p.add_argument("--runs-from", help="file listing run directories, one per line")
    p.add_argument("runs", nargs="*", help="run directories")
    p.set_defaults(func=_cmd_aggregate)

    p = sub.add_parser("fit", help="analysis tables (CSV) and headline numbers (numbers.json) from the trial tables")
    p.add_argument("--trials", required=True, help="trials table (results/tables/trials.parquet)")
    p.add_argument("--best", default=None, help="best-per-run table (results/tables/best.parquet), cross-checked")
    p.add_argument("--roles", required=True,
                   help='figure roles as JSON (or @file.json): {"capacity": "capacity", "unroll": [...], ...}')
    p.add_argument("--out", required=True, help="fits directory (results/fits)")
    p.set_defaults(func=_cmd_fit)
