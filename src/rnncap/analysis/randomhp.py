"""HP robustness (docs/method.md §6, Fig. 5, Table 1, Tables App.1/App.2).

Random HPs (role random_hp): per (cell, depth, budget) the share of infeasible
draws and the min / median eval loss of the feasible ones (Table 1), every
draw's eval loss (Fig. 5), and Welch's t-tests between every cell pair per
depth on the feasible draws (Table App.2).

Best-HP reruns (role rerun_best): % infeasible, min, mean, max, SD (sample,
ddof=1) and SD/mean of the feasible reruns' eval loss, beside the source run's
best eval loss, "original" (Table App.1).

"Infeasible" here: flagged infeasible by training (docs/choices.md #24) or a non-finite
eval metric.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from .common import CELL_LABELS, failed_mask, frame, sort_cells
from .stats import welch

SUMMARY_COLUMNS = ["cell", "depth", "budget", "n", "n_infeasible", "pct_infeasible", "n_feasible",
                   "min", "median", "mean"]
LOSSES_COLUMNS = ["cell", "depth", "budget", "seed", "trial", "eval_metric", "infeasible"]
WELCH_COLUMNS = ["depth", "cell_a", "cell_b", "n_a", "n_b", "mean_a", "mean_b", "t", "df", "p"]
RERUN_COLUMNS = ["cell", "depth", "budget", "original", "n", "n_infeasible", "pct_infeasible",
                 "min", "mean", "max", "sd", "sd_over_mean"]


def _marked(trials: pd.DataFrame) -> pd.DataFrame:
    t = trials.copy()
    t["_bad"] = failed_mask(t)
    t["_loss"] = pd.to_numeric(t["eval_metric"], errors="coerce").astype(float)
    return t


def random_summary(trials: pd.DataFrame) -> pd.DataFrame:
    if trials.empty:
        return frame([], SUMMARY_COLUMNS)
    rows = []
    for (cell, depth, budget), g in _marked(trials).groupby(["cell", "depth", "budget"]):
        ok = g.loc[~g["_bad"], "_loss"]
        rows.append({"cell": cell, "depth": int(depth), "budget": int(budget), "n": len(g),
                     "n_infeasible": int(g["_bad"].sum()), "pct_infeasible": 100.0 * g["_bad"].mean(),
                     "n_feasible": int(len(ok)),
                     "min": float(ok.min()) if len(ok) else np.nan,
                     "median": float(ok.median()) if len(ok) else np.nan,
                     "mean": float(ok.mean()) if len(ok) else np.nan})
    return frame(sort_cells(pd.DataFrame(rows)), SUMMARY_COLUMNS)


def random_losses(trials: pd.DataFrame) -> pd.DataFrame:
    if trials.empty:
        return frame([], LOSSES_COLUMNS)
    t = _marked(trials)
    out = t.assign(eval_metric=t["_loss"], infeasible=t["_bad"])
    return frame(sort_cells(out, ("cell", "depth", "budget", "seed", "trial")), LOSSES_COLUMNS)


def pair_order(cells) -> list[tuple[str, str]]:
    """Cell pairs as in Table App.2: cells sorted by label (+RNN, GRU, IRNN, LSTM, RNN, UGRNN), a before b."""
    cs = sorted(set(cells), key=lambda c: CELL_LABELS.get(c, c))
    return list(itertools.combinations(cs, 2))


def welch_table(trials: pd.DataFrame) -> pd.DataFrame:
    """Welch's t-test on the feasible draws' eval loss, every cell pair, per depth."""
    if trials.empty:
        return frame([], WELCH_COLUMNS)
    t = _marked(trials)
    t = t[~t["_bad"]]
    rows = []
    for depth, d in t.groupby("depth"):
        for a, b in pair_order(d["cell"].unique()):
            r = welch(d.loc[d["cell"] == a, "_loss"], d.loc[d["cell"] == b, "_loss"])
            rows.append({"depth": int(depth), "cell_a": a, "cell_b": b, **r})
    return frame(rows, WELCH_COLUMNS)


def rerun_summary(trials: pd.DataFrame) -> pd.DataFrame:
    if trials.empty:
        return frame([], RERUN_COLUMNS)
    rows = []
    for (cell, depth, budget), g in _marked(trials).groupby(["cell", "depth", "budget"]):
        ok = g.loc[~g["_bad"], "_loss"]
        src = g["source_eval_metric"].dropna() if "source_eval_metric" in g.columns else pd.Series(dtype=float)
        mean = float(ok.mean()) if len(ok) else np.nan
        sd = float(ok.std(ddof=1)) if len(ok) >= 2 else np.nan
        rows.append({"cell": cell, "depth": int(depth), "budget": int(budget),
                     "original": float(src.iloc[0]) if len(src) else np.nan,
                     "n": len(g), "n_infeasible": int(g["_bad"].sum()),
                     "pct_infeasible": 100.0 * g["_bad"].mean(),
                     "min": float(ok.min()) if len(ok) else np.nan, "mean": mean,
                     "max": float(ok.max()) if len(ok) else np.nan, "sd": sd,
                     "sd_over_mean": sd / mean if (len(ok) >= 2 and mean != 0) else np.nan})
    return frame(sort_cells(pd.DataFrame(rows)), RERUN_COLUMNS)


def _argbest(d: dict[str, float], lowest: bool = True) -> str | None:
    d = {k: v for k, v in d.items() if v is not None and np.isfinite(v)}
    if not d:
        return None
    return (min if lowest else max)(d, key=d.get)


def random_numbers(summary: pd.DataFrame) -> dict:
    if summary.empty:
        return {"available": False}
    out: dict = {"available": True, "depths": sorted(int(x) for x in summary["depth"].unique()),
                 "by_depth": {}}
    for depth, d in summary.groupby("depth"):
        pct = {str(r.cell): float(r.pct_infeasible) for r in d.itertuples()}
        med = {str(r.cell): float(r.median) for r in d.itertuples()}
        mn = {str(r.cell): float(r.min) for r in d.itertuples()}
        out["by_depth"][str(int(depth))] = {
            "budget": int(d["budget"].max()), "n": {str(r.cell): int(r.n) for r in d.itertuples()},
            "pct_infeasible": pct, "median": med, "min": mn,
            "fewest_infeasible": _argbest(pct), "best_median": _argbest(med), "best_min": _argbest(mn)}
    irnn = summary[summary["cell"] == "irnn"]
    out["irnn_pct_infeasible"] = float(100.0 * irnn["n_infeasible"].sum() / irnn["n"].sum()) if len(irnn) else None
    return out


def rerun_numbers(summary: pd.DataFrame) -> dict:
    if summary.empty:
        return {"available": False}
    return {"available": True,
            "pct_infeasible": {str(r.cell): float(r.pct_infeasible) for r in summary.itertuples()},
            "mean": {str(r.cell): float(r.mean) for r in summary.itertuples()},
            "sd_over_mean": {str(r.cell): float(r.sd_over_mean) for r in summary.itertuples()},
            "n": {str(r.cell): int(r.n) for r in summary.itertuples()}}
