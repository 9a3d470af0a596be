"""Loss against parameters and against units (text8, RCF: Fig. 3; parentheses,
arithmetic: Fig. 4 first metric).

Per (cell, depth, budget): the eval metric of the best-valid feasible trial.
`spread` quantifies "loss is set by parameters, not units" (docs/method.md §1, Fig. 3d):
the mean absolute gap between two cells' loss curves, interpolated on a common
grid of log10(params) (resp. log10(units)) over the range both cells cover,
averaged over cell pairs and then over depths. Params explain the loss better
than units when the gap at equal params is the smaller one.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from .common import best_rows, frame, sort_cells

COLUMNS = ["cell", "depth", "budget", "params", "width", "metric", "loss", "valid", "n_trials", "n_feasible"]
SPREAD_COLUMNS = ["depth", "n_cells", "spread_params", "pairs_params", "spread_units", "pairs_units"]
GRID = 25


def loss_vs_params(trials: pd.DataFrame) -> pd.DataFrame:
    if trials.empty:
        return frame([], COLUMNS)
    best = best_rows(trials, ["cell", "depth", "budget"])
    best["loss"] = pd.to_numeric(best["eval_metric"], errors="coerce").astype(float)
    best["valid"] = pd.to_numeric(best["valid_metric"], errors="coerce").astype(float)
    return frame(sort_cells(best), COLUMNS)


def _pair_gap(xa, ya, xb, yb) -> float | None:
    lo, hi = max(xa.min(), xb.min()), min(xa.max(), xb.max())
    if not hi > lo:
        return None
    g = np.linspace(lo, hi, GRID)
    return float(np.mean(np.abs(np.interp(g, xa, ya) - np.interp(g, xb, yb))))


def _curves(d: pd.DataFrame, x: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out = {}
    for cell, g in d.groupby("cell"):
        g = g.groupby(x, as_index=False)["loss"].min().sort_values(x)
        if len(g) >= 2:
            out[cell] = (np.log10(g[x].astype(float).values), g["loss"].astype(float).values)
    return out


def spread(curve: pd.DataFrame) -> pd.DataFrame:
    """Per depth: mean cross-cell gap at equal params and at equal units (NaN: no overlapping pair)."""
    rows = []
    if not curve.empty:
        for depth, d in curve.groupby("depth"):
            row: dict = {"depth": int(depth), "n_cells": int(d["cell"].nunique())}
            for x, name in (("params", "params"), ("width", "units")):
                cs = _curves(d, x)
                gaps = [gp for a, b in itertools.combinations(sorted(cs), 2)
                        if (gp := _pair_gap(*cs[a], *cs[b])) is not None]
                row[f"spread_{name}"] = float(np.mean(gaps)) if gaps else float("nan")
                row[f"pairs_{name}"] = len(gaps)
            rows.append(row)
    return frame(rows, SPREAD_COLUMNS)


def summary(curve: pd.DataFrame, spreads: pd.DataFrame) -> dict:
    if curve.empty:
        return {"available": False}
    i = curve["loss"].astype(float).idxmin()
    sp = spreads.dropna(subset=["spread_params", "spread_units"]) if not spreads.empty else spreads
    s_p = float(sp["spread_params"].mean()) if len(sp) else None
    s_u = float(sp["spread_units"].mean()) if len(sp) else None
    return {
        "available": True,
        "metric": str(curve["metric"].iloc[0]),
        "best_loss": float(curve.loc[i, "loss"]),
        "best_cell": str(curve.loc[i, "cell"]),
        "best_depth": int(curve.loc[i, "depth"]),
        "best_params": int(curve.loc[i, "params"]),
        "n_points": int(len(curve)),
        "spread_params": s_p,
        "spread_units": s_u,
        "spread_ratio": (s_p / s_u) if (s_p is not None and s_u) else None,
        "depths_compared": [int(x) for x in sp["depth"]] if len(sp) else [],
    }

