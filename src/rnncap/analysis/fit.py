"""`rnncap fit`: every CSV the figures, tables, scorecard and paper read, plus numbers.json.

The list of files is fixed (`FIT_FILES`): each is always written, with its
header only when its role is absent from `--roles` or has no rows, so
downstream rules never miss an input. Columns are documented in `FIT_FILES`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from .. import io, trials as schema
from . import capacity, losscurves, memory, randomhp, trainability
from .common import ROLES, best_rows, feasible_mask, parse_roles, select_role

RUN_KEYS = list(schema.RUN_KEYS)

# name -> (role, columns, what it holds)
FIT_FILES: dict[str, tuple[str, list[str], str]] = {
    "capacity_best": ("capacity", capacity.BEST_COLUMNS,
                      "Fig. 1a/e: best MI (eval, bits) and bits/param per (cell, depth, budget)"),
    "capacity_summary": ("capacity", capacity.SUMMARY_COLUMNS,
                         "Fig. 1e-h: median bits/param over the 2 largest budgets per (cell, depth)"),
    "capacity_ratio": ("capacity", capacity.RATIO_COLUMNS,
                       "Fig. 1i: parameter-count factor bpp(A)/bpp(B) to switch from A to B"),
    "capacity_optimal_b": ("capacity", capacity.OPTIMAL_B_COLUMNS, "Fig. App.1: b of the best trials vs their MI"),
    "capacity_relu": ("capacity", capacity.RELU_COLUMNS,
                      "Fig. 2a: best bits/param of RNN/UGRNN, all trials vs ReLU-only trials"),
    "capacity_unroll": ("unroll", capacity.UNROLL_COLUMNS,
                        "Fig. 2b: best bits/param per (cell, depth, budget, unroll length)"),
    "capacity_unroll_summary": ("unroll", capacity.UNROLL_SUMMARY_COLUMNS,
                                "Fig. 2b: median bits/param over the 2 largest budgets per unroll length"),
    "memory": ("memory", memory.COLUMNS,
               "Fig. 2c: best eval MSE/dim vs units, with the reference max(0, 1 - n_h/n_in)"),
    "text8": ("text8", losscurves.COLUMNS, "Fig. 3a-d: best eval loss (bits/char) vs params and units"),
    "text8_spread": ("text8", losscurves.SPREAD_COLUMNS,
                     "Fig. 3: cross-cell loss gap at equal params vs at equal units, per depth"),
    "rcf": ("rcf", losscurves.COLUMNS, "Fig. 3e-h: best eval loss vs params and units"),
    "rcf_spread": ("rcf", losscurves.SPREAD_COLUMNS, "Fig. 3: cross-cell gap at equal params vs units"),
    "parentheses": ("parentheses", losscurves.COLUMNS, "Fig. 4a-d: best eval loss vs params per depth"),
    "parentheses_bestsofar": ("parentheses", trainability.COLUMNS,
                              "Fig. 4e-h: best-so-far eval loss vs HP evaluations (largest budget)"),
    "parentheses_tuning": ("parentheses", trainability.TUNING_COLUMNS,
                           "area under the best-so-far curve per (cell, depth)"),
    "arithmetic": ("arithmetic", losscurves.COLUMNS, "Fig. 4i-l: best eval loss vs params per depth"),
    "arithmetic_bestsofar": ("arithmetic", trainability.COLUMNS,
                             "Fig. 4m-p: best-so-far eval loss vs HP evaluations (largest budget)"),
    "arithmetic_tuning": ("arithmetic", trainability.TUNING_COLUMNS,
                          "area under the best-so-far curve per (cell, depth)"),
    "random_hp_summary": ("random_hp", randomhp.SUMMARY_COLUMNS, "Table 1: % infeasible, min, median eval loss"),
    "random_hp_losses": ("random_hp", randomhp.LOSSES_COLUMNS, "Fig. 5: every random draw's eval loss"),
    "random_hp_welch": ("random_hp", randomhp.WELCH_COLUMNS, "Table App.2: Welch t-tests between cell pairs"),
    "rerun_best": ("rerun_best", randomhp.RERUN_COLUMNS, "Table App.1: reruns of the best HPs"),
}

NUMBERS = "numbers.json"


def compute(trials: pd.DataFrame, roles: Mapping[str, Any], best: pd.DataFrame | None = None
            ) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """All fit tables and the headline numbers, from the trial table and the roles."""
    roles = parse_roles(roles)
    sel = {r: select_role(trials, roles, r) for r in ROLES}
    out: dict[str, pd.DataFrame] = {}
    nums: dict[str, Any] = {"roles": {r: {"experiments": list(roles.get(r, [])), "n_trials": int(len(sel[r]))}
                                      for r in ROLES}}

    # capacity (Fig. 1, 2a, App.1)
    cb = capacity.best_capacity(sel["capacity"])
    cs = capacity.summarize(cb)
    out["capacity_best"], out["capacity_summary"] = cb, cs
    out["capacity_ratio"] = capacity.ratio_table(cs)
    out["capacity_optimal_b"] = capacity.optimal_b(cb)
    out["capacity_relu"] = capacity.relu_only(sel["capacity"])
    nums["capacity"] = _capacity_numbers(cb, cs, out["capacity_optimal_b"])
    nums["relu"] = _relu_numbers(out["capacity_relu"], cb)

    # unroll (Fig. 2b)
    ub = capacity.unroll(sel["unroll"])
    us = capacity.unroll_summary(ub)
    out["capacity_unroll"], out["capacity_unroll_summary"] = ub, us
    nums["unroll"] = _unroll_numbers(us)

    # memory (Fig. 2c)
    out["memory"] = memory.memory_curve(sel["memory"])
    nums["memory"] = memory.summary(out["memory"])

    # text8, RCF (Fig. 3)
    for task in ("text8", "rcf"):
        c = losscurves.loss_vs_params(sel[task])
        sp = losscurves.spread(c)
        out[task], out[f"{task}_spread"] = c, sp
        nums[task] = losscurves.summary(c, sp)

    # trainability (Fig. 4)
    for task in ("parentheses", "arithmetic"):
        c = losscurves.loss_vs_params(sel[task])
        bsf = trainability.best_so_far(sel[task])
        tu = trainability.tuning(bsf)
        out[task], out[f"{task}_bestsofar"], out[f"{task}_tuning"] = c, bsf, tu
        nums[task] = trainability.summary(c, tu)

    # random HPs and reruns (Fig. 5, Table 1, App.1, App.2)
    rs = randomhp.random_summary(sel["random_hp"])
    out["random_hp_summary"] = rs
    out["random_hp_losses"] = randomhp.random_losses(sel["random_hp"])
    out["random_hp_welch"] = randomhp.welch_table(sel["random_hp"])
    nums["random_hp"] = randomhp.random_numbers(rs)
    out["rerun_best"] = randomhp.rerun_summary(sel["rerun_best"])
    nums["rerun_best"] = randomhp.rerun_numbers(out["rerun_best"])

    nums["checks"] = _check_best(trials, best)
    for name, (_, cols, _) in FIT_FILES.items():
        out[name] = out[name].reindex(columns=cols)
    return out, clean(nums)


def write(out_dir: str | Path, tables: Mapping[str, pd.DataFrame], numbers: Mapping[str, Any]) -> list[Path]:
    out_dir = Path(out_dir)
    paths = []
    for name in FIT_FILES:
        p = out_dir / f"{name}.csv"
        with io.atomic_path(p) as tmp:
            tables[name].to_csv(tmp, index=False)
        paths.append(p)
    io.write_json(out_dir / NUMBERS, numbers)  # last: its presence means the fit is complete
    return paths + [out_dir / NUMBERS]


def read(fits_dir: str | Path) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """Read back what `write` wrote (every CSV of FIT_FILES and numbers.json)."""
    import json

    fits_dir = Path(fits_dir)
    tables = {}
    for name, (_, cols, _) in FIT_FILES.items():
        p = fits_dir / f"{name}.csv"
        if not p.exists():
            raise FileNotFoundError(f"{p}: missing fit table (run `rnncap fit` first)")
        df = pd.read_csv(p)
        tables[name] = df.reindex(columns=cols) if df.empty else df
    numbers = json.loads((fits_dir / NUMBERS).read_text())
    return tables, numbers


def load_trials(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: trial table not found (run `rnncap aggregate` first)")
    return io.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


# ---------------------------------------------------------------- numbers

def _capacity_numbers(cb: pd.DataFrame, cs: pd.DataFrame, ob: pd.DataFrame) -> dict:
    if cs.empty:
        return {"available": False}
    means = capacity.cell_means(cs)
    by_cd: dict[str, dict[str, float]] = {}
    for r in cs.itertuples():
        by_cd.setdefault(str(r.cell), {})[str(int(r.depth))] = float(r.bits_per_param)
    mx = cb.groupby("cell")["bits_per_param"].max()
    return {
        "available": True,
        "n_largest": capacity.N_LARGEST,
        "depths": sorted(int(d) for d in cs["depth"].unique()),
        "budgets": sorted(int(b) for b in cb["budget"].unique()),
        "cells": list(means.index),
        "bpp_mean": capacity.grand_mean(cs),
        "bpp_min": float(cs["bits_per_param"].min()),
        "bpp_max": float(cs["bits_per_param"].max()),
        "bpp_by_cell": {c: float(v) for c, v in means.items()},
        "bpp_by_cell_depth": by_cd,
        "bpp_point_max_by_cell": {c: float(v) for c, v in mx.items()},
        "ordering": capacity.ordering(cs),
        "irnn_max": float(mx["irnn"]) if "irnn" in mx else None,
        "b_over_mi_median": float(ob["b_over_mi"].median()) if len(ob) else None,
        "largest_params": int(cb["params"].max()),
    }


def _relu_numbers(relu: pd.DataFrame, cb: pd.DataFrame) -> dict:
    if relu.empty:
        return {"available": False}
    by_cell = {}
    for cell, g in relu.groupby("cell"):
        r = g["bits_per_param_relu"].dropna()
        by_cell[str(cell)] = {"all": float(g["bits_per_param_all"].max()),
                              "relu": float(r.max()) if len(r) else None, "n_relu": int(g["n_relu"].sum())}
    irnn = cb[cb["cell"] == "irnn"]["bits_per_param"]
    return {"available": True, "by_cell": by_cell, "irnn_max": float(irnn.max()) if len(irnn) else None}


def _unroll_numbers(us: pd.DataFrame) -> dict:
    if us.empty:
        return {"available": False}
    per_cell = us.groupby(["cell", "seq_len"])["bits_per_param"].mean()
    curve = per_cell.groupby("seq_len").mean().sort_index()
    by_cell: dict[str, dict[str, float]] = {}
    for (cell, T), v in per_cell.items():
        by_cell.setdefault(str(cell), {})[str(int(T))] = float(v)
    return {"available": True, "seq_lens": [int(t) for t in curve.index],
            "curve": {str(int(t)): float(v) for t, v in curve.items()}, "by_cell": by_cell}


def _check_best(trials: pd.DataFrame, best: pd.DataFrame | None) -> dict:
    """Cross-check our best-trial selection against the aggregate stage's best table."""
    if best is None or trials.empty:
        return {"best_table_runs": None, "best_table_mismatches": None}
    keys = [k for k in RUN_KEYS if k in trials.columns]
    ours = best_rows(trials, keys)[keys + ["trial"]]
    theirs = best[keys + ["trial"]] if not best.empty else best.reindex(columns=keys + ["trial"])
    m = ours.merge(theirs, on=keys, how="outer", suffixes=("_ours", "_best"), indicator=True)
    bad = (m["_merge"] != "both") | (m["trial_ours"] != m["trial_best"])
    return {"best_table_runs": int(len(theirs)), "best_table_mismatches": int(bad.sum())}


def clean(o: Any) -> Any:
    """JSON-safe: NaN/Inf -> None, numpy scalars -> Python."""
    if isinstance(o, dict):
        return {str(k): clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [clean(v) for v in o]
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (float, np.floating)):
        return float(o) if math.isfinite(float(o)) else None
    if isinstance(o, np.bool_):
        return bool(o)
    return o


def run(trials_path: str | Path, best_path: str | Path | None, roles: str, out_dir: str | Path,
        log: Callable[[str], None] = print) -> dict[str, Any]:
    trials = load_trials(trials_path)
    best = load_trials(best_path) if best_path else None
    tables, numbers = compute(trials, parse_roles(roles), best)
    write(out_dir, tables, numbers)
    chk = numbers["checks"]
    if chk.get("best_table_mismatches"):
        log(f"rnncap fit: warning: {chk['best_table_mismatches']} runs whose best trial differs from {best_path}")
    filled = [n for n in FIT_FILES if len(tables[n])]
    log(f"{len(trials)} trials -> {len(FIT_FILES)} tables in {out_dir} ({len(filled)} with rows)")
    return numbers


__all__ = ["FIT_FILES", "compute", "write", "read", "run", "feasible_mask"]
