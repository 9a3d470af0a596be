"""Per-unit memory capacity (docs/method.md §3.2, Fig. 2c).

Best eval error (mse_per_dim of the best-valid feasible trial) per
(cell, depth, budget), against hidden units per layer, beside the reference
curve of reconstructing an n_h-dimensional subspace of a unit-variance
n_in-dimensional input: max(0, 1 - n_h / n_in).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..paper_values import MEMORY_N_IN
from .common import best_rows, frame, opt_column, sort_cells

COLUMNS = ["cell", "depth", "budget", "params", "width", "n_in", "error", "reference", "n_trials", "n_feasible"]


def reference_error(n_h, n_in=MEMORY_N_IN):
    """Optimal per-dimension MSE when only n_h of n_in unit-variance dimensions can be kept."""
    return np.maximum(0.0, 1.0 - np.asarray(n_h, dtype=float) / np.asarray(n_in, dtype=float))


def memory_curve(trials: pd.DataFrame) -> pd.DataFrame:
    if trials.empty:
        return frame([], COLUMNS)
    t = trials.assign(n_in=opt_column(trials, "n_in", MEMORY_N_IN).astype(int))
    best = best_rows(t, ["cell", "depth", "budget", "n_in"])
    best["error"] = pd.to_numeric(best["eval_metric"], errors="coerce").astype(float)
    best["reference"] = reference_error(best["width"], best["n_in"])
    return frame(sort_cells(best), COLUMNS)


def summary(curve: pd.DataFrame) -> dict:
    """Numbers behind 'error ≈ 0 iff n_h >= n_in' (scorecard)."""
    if curve.empty:
        return {"available": False}
    at = curve[curve["width"] >= curve["n_in"]]
    below = curve[curve["width"] < curve["n_in"]]
    return {
        "available": True,
        "n_in": int(curve["n_in"].iloc[0]) if curve["n_in"].nunique() == 1 else None,
        "n_points_at_or_above": int(len(at)),
        "n_points_below": int(len(below)),
        "max_error_at_or_above": float(at["error"].max()) if len(at) else None,
        "median_error_at_or_above": float(at["error"].median()) if len(at) else None,
        "mean_abs_dev_below": float((below["error"] - below["reference"]).abs().mean()) if len(below) else None,
        "min_error_below": float(below["error"].min()) if len(below) else None,
    }
