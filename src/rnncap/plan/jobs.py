"""A validated config -> the job table (one row per training job) and each job's train spec.

    cfg = rnncap.plan.config.load_config("config/config.yaml")
    table = sweep_table(cfg)     # experiment, task, mode, cell, budget, depth, seed, width, params, ...
    print(describe(table))       # "N training jobs, ~X core-hours estimated" (rnncap.plan.cost)

Rows: every enabled experiment x its cells x depths x budgets x seeds (`run_grid`). A +RNN
at depth 1 only arises from the top-level default cell list and is skipped there (an
experiment listing `plus` with depth 1 is a ConfigError in rnncap.plan.checks).
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Mapping

import pandas as pd

from ..model.params import count_params, solve_width
from .compile_policy import resolve as resolve_compile
from .cost import run_core_hours, train_rows
from .experiment import experiment_cells, experiment_facts, experiment_seeds, valid_depth
from .paths import data_dir, run_dir

COLUMNS = ["experiment", "task", "mode", "cell", "budget", "depth", "seed", "width", "params",
           "est_core_hours", "source"]


@lru_cache(maxsize=None)
def _arch(cell: str, budget: int, depth: int, n_in: int, n_out: int) -> tuple[int, int]:
    w = solve_width(cell, budget, depth, n_in, n_out)
    return w, count_params(cell, w, depth, n_in, n_out)


def run_grid(cfg: Mapping[str, Any]) -> list[tuple[str, str, list[int], list[int], list[int]]]:
    """(experiment, cell, depths, budgets, seeds) per enabled experiment and cell, in job order:
    the jobs of a block are the product of its three lists. The one statement of which runs
    exist; short enough to travel on a command line, which the run directories are not."""
    grid = []
    for name, exp in cfg["experiments"].items():
        if not exp["enabled"]:
            continue
        cells, _ = experiment_cells(cfg, name)
        seeds = [int(s) for s in experiment_seeds(cfg, name)]
        for cell in cells:
            depths = [int(d) for d in exp["depths"] if valid_depth(cell, d)]  # +RNN: see the module doc
            if depths:
                grid.append((name, cell, depths, [int(b) for b in exp["budgets"]], seeds))
    return grid


def sweep_table(cfg: Mapping[str, Any]) -> pd.DataFrame:
    """One row per training job of a validated config (rnncap.plan.config.validate_config)."""
    rows = []
    for name, cell, depths, budgets, seeds in run_grid(cfg):
        exp = cfg["experiments"][name]
        facts = experiment_facts(cfg, name)
        rows_of = train_rows(facts, cell, exp["search"])
        src = exp["source"] if exp["mode"] == "rerun" else ""
        for depth in depths:
            for budget in budgets:
                width, params = _arch(cell, budget, depth, facts.n_in, facts.n_out)
                hours = run_core_hours(cell, width, depth, facts, exp["search"], cfg["cost"], rows_of(params))
                rows += [(name, exp["task"], exp["mode"], cell, budget, depth, seed, width, params, hours, src)
                         for seed in seeds]
    return pd.DataFrame.from_records(rows, columns=COLUMNS)


def train_spec(cfg: Mapping[str, Any], row: Mapping[str, Any]) -> dict[str, Any]:
    """The `rnncap train --spec` of one row (docs/contracts.md). No device: it is a runtime choice."""
    exp = cfg["experiments"][row["experiment"]]
    src = row.get("source") or ""
    # search.compile "auto" resolved here, for the config's device (plan/compile_policy.py): the spec
    # holds true/false, so a job whose run auto keeps eager has the spec it had before auto existed
    search = dict(exp["search"], compile=resolve_compile(exp["search"], row["cell"], cfg["device"],
                                                         int(row["width"])).compile)
    return {
        "experiment": row["experiment"], "task": exp["task"], "mode": exp["mode"],
        "cell": row["cell"], "budget": int(row["budget"]), "depth": int(row["depth"]), "seed": int(row["seed"]),
        "options": experiment_facts(cfg, row["experiment"]).options,
        "data_dir": data_dir(cfg, row["experiment"]),
        "search": search,
        "source_best": f"{run_dir(dict(row, experiment=src))}/best.json" if src else None,
    } | ({"warm_start": warm_start(cfg, row)} if exp["search"].get("warm_start") else {})


def warm_start(cfg: Mapping[str, Any], row: Mapping[str, Any]) -> list[str]:
    """The trials.parquet of a run's smaller neighbours that exist: the next smaller budget
    (same depth), then the next smaller depth (same budget). Smaller only, so the runs form a
    DAG whose small, cheap runs train first."""
    budget, depth = int(row["budget"]), int(row["depth"])
    for name, cell, depths, budgets, _ in run_grid(cfg):
        if name != row["experiment"] or cell != row["cell"]:
            continue
        below_b = [b for b in budgets if b < budget]
        below_d = [d for d in depths if d < depth]
        near = ([dict(row, budget=max(below_b))] if below_b else []) + \
               ([dict(row, depth=max(below_d))] if below_d else [])
        return [f"{run_dir(n)}/trials.parquet" for n in near]
    return []


def spec_json(spec: Any) -> str:
    """Canonical JSON (sorted keys, no spaces): equal specs give equal text, so Snakemake's
    params trigger reruns a job exactly when its spec changes."""
    return json.dumps(spec, sort_keys=True, separators=(",", ":"))


__all__ = ["COLUMNS", "run_grid", "sweep_table", "train_spec", "warm_start", "spec_json"]
