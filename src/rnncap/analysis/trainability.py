"""Trainability (docs/method.md §4; docs/choices.md #22, Fig. 4): parentheses and arithmetic.

Metric (i), loss vs params: `losscurves.loss_vs_params`.
Metric (ii), best-so-far: at the largest budget of each depth, for each
(cell, depth, seed) run in trial order, the eval metric of the trial with the
best validation metric among the feasible trials asked so far, against the
number of HP evaluations. Its validation value is monotone by construction; the
eval value need not be (a better-valid trial can have a worse eval loss).

Scorecard numbers per depth: the cell with the lowest best loss at the largest
budget (metric i), and the cell with the lowest `tuning` score (metric ii): the
mean over the first N HP evaluations (N = fewest evaluations any cell of that
depth has) of the median-over-seeds best-so-far eval loss, where "no feasible
trial yet" counts as the worst best-so-far loss seen at that depth.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .common import feasible_mask, frame, score, sort_cells

COLUMNS = ["cell", "depth", "budget", "seed", "evaluations", "trial", "best_trial", "best_valid", "best_eval"]
TUNING_COLUMNS = ["cell", "depth", "budget", "n_evaluations", "final_best", "tuning"]


def best_so_far(trials: pd.DataFrame) -> pd.DataFrame:
    if trials.empty:
        return frame([], COLUMNS)
    t = trials.copy()
    top = t.groupby("depth")["budget"].transform("max")
    t = t[t["budget"] == top]
    t["_ok"] = feasible_mask(t)
    t["_score"] = score(t)
    rows = []
    for (cell, depth, budget, seed), g in t.groupby(["cell", "depth", "budget", "seed"], sort=False):
        g = g.sort_values("trial", kind="stable")
        best_s, best = -np.inf, None
        for n, (_, r) in enumerate(g.iterrows(), start=1):
            if r["_ok"] and r["_score"] > best_s:
                best_s, best = r["_score"], r
            rows.append({"cell": cell, "depth": int(depth), "budget": int(budget), "seed": int(seed),
                         "evaluations": n, "trial": int(r["trial"]),
                         "best_trial": int(best["trial"]) if best is not None else np.nan,
                         "best_valid": float(best["valid_metric"]) if best is not None else np.nan,
                         "best_eval": float(best["eval_metric"]) if best is not None else np.nan})
    return frame(sort_cells(pd.DataFrame(rows), ("cell", "depth", "seed", "evaluations")), COLUMNS)


def median_curve(bsf: pd.DataFrame) -> pd.DataFrame:
    """Median over seeds of the best-so-far eval metric, per (cell, depth, evaluations)."""
    if bsf.empty:
        return pd.DataFrame(columns=["cell", "depth", "budget", "evaluations", "best_eval"])
    return (bsf.groupby(["cell", "depth", "budget", "evaluations"], as_index=False)["best_eval"]
            .median())


def tuning(bsf: pd.DataFrame) -> pd.DataFrame:
    """Per (cell, depth): area under the best-so-far curve (lower: easier to tune) and final best."""
    rows = []
    if not bsf.empty:
        med = median_curve(bsf)
        for depth, d in med.groupby("depth"):
            n_common = int(d.groupby("cell")["evaluations"].max().min())
            worst = float(d["best_eval"].max()) if d["best_eval"].notna().any() else np.nan
            for cell, g in d.groupby("cell"):
                g = g.sort_values("evaluations")
                head = g[g["evaluations"] <= n_common]["best_eval"].fillna(worst)
                rows.append({"cell": cell, "depth": int(depth), "budget": int(g["budget"].iloc[0]),
                             "n_evaluations": int(g["evaluations"].max()),
                             "final_best": float(g["best_eval"].iloc[-1]),
                             "tuning": float(head.mean())})
    return frame(sort_cells(pd.DataFrame(rows), ("cell", "depth")) if rows else [], TUNING_COLUMNS)


def summary(curve: pd.DataFrame, tune: pd.DataFrame) -> dict:
    """Winners per depth on both trainability metrics (lower loss is better on these tasks)."""
    if curve.empty:
        return {"available": False}
    by_depth: dict[str, dict] = {}
    for depth, d in curve.groupby("depth"):
        top = int(d["budget"].max())
        at = d[d["budget"] == top]
        losses = {str(r.cell): float(r.loss) for r in at.itertuples()}
        entry = {"budget": top, "losses": losses,
                 "best_cell_loss": min(losses, key=losses.get) if losses else None}
        tt = tune[tune["depth"] == depth] if not tune.empty else tune
        tvals = {str(r.cell): float(r.tuning) for r in tt.itertuples() if np.isfinite(r.tuning)}
        entry["tuning"] = tvals
        entry["best_cell_tuning"] = min(tvals, key=tvals.get) if tvals else None
        by_depth[str(int(depth))] = entry
    return {"available": True, "metric": str(curve["metric"].iloc[0]),
            "depths": sorted(int(k) for k in by_depth), "by_depth": by_depth}
