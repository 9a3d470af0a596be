"""Subcommands of the planning stage: `rnncap config-check`, `rnncap run-list`,
`rnncap fit-gpu-cost` (refit the GPU cost model from a throughput log) and
`rnncap synthetic-text8` (the tests' stand-in corpus, written by rule make_test_corpus)."""

from __future__ import annotations

import argparse
import json
import sys


def _cmd_config_check(a: argparse.Namespace) -> int:
    """Each file: 'ok' with its job count and cost, or the offending key (exit 2)."""
    from .config import ConfigError, load_config
    from .cost import describe
    from .gpu_cost import planning_cost, sweep_gpu_hours
    from .jobs import sweep_table

    rc = 0
    for f in a.files:
        try:
            cfg = load_config(f)
            table = sweep_table(cfg)
            table["est_gpu_hours"] = sweep_gpu_hours(cfg, table)
            print(f"{f}: ok: {describe(table, gpu_label=planning_cost().label)}")
        except ConfigError as e:
            print(f"{f}: error: {e}", file=sys.stderr)
            rc = 2
    return rc


def _cmd_run_list(a: argparse.Namespace) -> int:
    """The run directories to aggregate, from the job grid (rnncap.plan.jobs.run_grid): a file,
    because the paper grid's >10^4 directories exceed Linux's 128 KiB limit on one argument."""
    from .. import io
    from .paths import grid_run_dirs

    dirs = grid_run_dirs(json.loads(a.grid))
    with io.atomic_path(a.out) as tmp:
        tmp.write_text("".join(f"{d}\n" for d in dirs))
    print(f"{len(dirs)} run directories")
    return 0


def _cmd_fit_gpu_cost(a: argparse.Namespace) -> int:
    from .gpu_cost import refit

    print(refit(a.log, a.name, a.write, a.only))
    return 0


def _cmd_synthetic_text8(a: argparse.Namespace) -> int:
    from ..tasks.text8 import write_synthetic

    write_synthetic(a.out, a.chars, a.seed)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config-check", help="validate config files (exit 2 with the offending key on error)")
    p.add_argument("files", nargs="+")
    p.set_defaults(func=_cmd_config_check)

    p = sub.add_parser("run-list", help="write the run directories of a job grid, one per line")
    p.add_argument("--grid", required=True, help="JSON [[experiment, cell, depths, budgets, seeds], ...]")
    p.add_argument("--out", required=True)
    p.set_defaults(func=_cmd_run_list)

    p = sub.add_parser("fit-gpu-cost", help="fit the GPU cost model to a benchmarks/throughput.py --device cuda log")
    p.add_argument("log", help="the benchmark's table output or its --json lines")
    p.add_argument("--name", help="the GPU (default: from the table's header, e.g. H100)")
    p.add_argument("--write", action="store_true", help="store the rows in rnncap/plan/gpu_data.py: the plan refits")
    p.add_argument("--only", action="store_true", help="with --write: drop the other GPUs' rows")
    p.set_defaults(func=_cmd_fit_gpu_cost)

    p = sub.add_parser("synthetic-text8", help="write the tests' stand-in for text8 (random words; tests only)")
    p.add_argument("--chars", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.set_defaults(func=_cmd_synthetic_text8)
