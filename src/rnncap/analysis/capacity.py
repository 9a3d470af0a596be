"""Per-parameter capacity (docs/method.md §3.1, Fig. 1, Fig. 2a/2b, Fig. App.1).

For the capacity task train = valid = eval, so the selection metric (MI, bits)
is also the reported one; we still report the best trial's `eval_metric`.

Definitions (docs/choices.md #4, #5):
- best MI of a (cell, depth, budget) = eval MI of the feasible trial with the
  highest validation MI over every trial of the role's runs at that point;
- bits/parameter = best MI / params (the exact count of that trial's model);
- per-(cell, depth) summary = median bits/param over the `N_LARGEST` largest
  budgets (small models suffer small-size effects, docs/method.md §1);
- grand mean = mean of the per-(cell, depth) summaries over cells and depths;
- Fig. 1i ratio bpp(A)/bpp(B) (per-cell means over depths) = the factor by which
  the parameter count must grow when switching from cell A to cell B at equal
  capacity.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..model.cells import SPECS
from .common import best_rows, cell_sort_key, frame, largest_budgets, opt_column, sort_cells

N_LARGEST = 2  # budgets per (cell, depth) in the summary
DEFAULT_SEQ_LEN = 5  # docs/choices.md #2: unroll length of runs that do not record opt_seq_len

BEST_COLUMNS = ["cell", "depth", "budget", "params", "width", "mi", "valid_mi", "b",
                "bits_per_param", "nonlinearity", "n_trials", "n_feasible"]
SUMMARY_COLUMNS = ["cell", "depth", "n_budgets", "budgets", "bits_per_param", "bits_per_param_max"]
RATIO_COLUMNS = ["cell_a", "cell_b", "bpp_a", "bpp_b", "ratio"]
OPTIMAL_B_COLUMNS = ["cell", "depth", "budget", "params", "mi", "b", "b_over_mi"]
RELU_COLUMNS = ["cell", "depth", "budget", "params", "bits_per_param_all", "bits_per_param_relu", "n_relu"]
RELU_CELLS = ("rnn", "ugrnn")
UNROLL_COLUMNS = ["cell", "depth", "budget", "seq_len", "params", "mi", "bits_per_param", "n_trials", "n_feasible"]
UNROLL_SUMMARY_COLUMNS = ["cell", "depth", "seq_len", "n_budgets", "budgets", "bits_per_param", "bits_per_param_max"]


def _with_mi(best: pd.DataFrame) -> pd.DataFrame:
    out = best.copy()
    out["mi"] = pd.to_numeric(out["eval_metric"], errors="coerce").astype(float)
    out["valid_mi"] = pd.to_numeric(out["valid_metric"], errors="coerce").astype(float)
    out["bits_per_param"] = out["mi"] / out["params"].astype(float)
    if "b" not in out.columns:
        out["b"] = np.nan
    out["nonlinearity"] = out["hp_nonlinearity"] if "hp_nonlinearity" in out.columns else np.nan
    # a cell with one fixed s(.) records no nonlinearity HP: the IRNN is ReLU by definition
    fixed = {c: s.nonlinearities[0] for c, s in SPECS.items() if len(s.nonlinearities) == 1}
    mask = out["cell"].isin(list(fixed))
    out.loc[mask, "nonlinearity"] = out.loc[mask, "cell"].map(fixed)
    return out


def best_capacity(trials: pd.DataFrame) -> pd.DataFrame:
    """Best MI and bits/param per (cell, depth, budget)."""
    if trials.empty:
        return frame([], BEST_COLUMNS)
    return frame(_with_mi(best_rows(trials, ["cell", "depth", "budget"])), BEST_COLUMNS)


def summarize(best: pd.DataFrame, keys: tuple[str, ...] = ("cell", "depth"), n_largest: int = N_LARGEST,
              columns: list[str] = SUMMARY_COLUMNS) -> pd.DataFrame:
    """Median bits/param over the `n_largest` largest budgets of each group."""
    rows = []
    if not best.empty:
        for key, g in best.groupby(list(keys), sort=False):
            key = key if isinstance(key, tuple) else (key,)
            top = largest_budgets(g["budget"], n_largest)
            sel = g[g["budget"].astype(int).isin(top)]
            rows.append({**dict(zip(keys, key)), "n_budgets": len(top), "budgets": ";".join(map(str, top)),
                         "bits_per_param": float(np.median(sel["bits_per_param"].astype(float))),
                         "bits_per_param_max": float(g["bits_per_param"].astype(float).max())})
    return frame(sort_cells(pd.DataFrame(rows), keys) if rows else [], columns)


def cell_means(summary: pd.DataFrame) -> pd.Series:
    """Per-cell mean over depths of the summary bits/param, in paper cell order."""
    if summary.empty:
        return pd.Series(dtype=float)
    s = summary.groupby("cell")["bits_per_param"].mean()
    return s.loc[sorted(s.index, key=cell_sort_key)]


def grand_mean(summary: pd.DataFrame) -> float:
    """Mean over every (cell, depth) summary value: the paper's '≈5 bits/parameter'."""
    return float(summary["bits_per_param"].astype(float).mean()) if not summary.empty else float("nan")


def ratio_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Fig. 1i: for every ordered pair (A, B), ratio = bpp(A)/bpp(B).

    Switching from A to B at equal capacity multiplies the parameter count by `ratio`.
    Compared at the depths both cells have (the +RNN has no depth 1): ratio is the
    geometric mean over those depths of the per-depth ratios; bpp_a, bpp_b are the
    plain means over the same depths. Pairs with no common depth are left out.
    """
    rows = []
    if not summary.empty:
        piv = summary.pivot_table(index="depth", columns="cell", values="bits_per_param", aggfunc="mean")
        cells = sorted(piv.columns, key=cell_sort_key)
        for a in cells:
            for b in cells:
                both = piv[[a, b]].dropna() if a != b else piv[[a]].dropna().assign(_b=piv[a])
                if both.empty:
                    continue
                va, vb = both.iloc[:, 0].astype(float), both.iloc[:, 1].astype(float)
                if (va > 0).all() and (vb > 0).all():
                    ratio = float(np.exp(np.mean(np.log(va.values / vb.values))))
                else:  # a zero capacity somewhere: fall back to the ratio of means
                    ratio = float(va.mean() / vb.mean()) if vb.mean() != 0 else float("nan")
                rows.append({"cell_a": a, "cell_b": b, "bpp_a": float(va.mean()), "bpp_b": float(vb.mean()),
                             "ratio": ratio})
    return frame(rows, RATIO_COLUMNS)


def optimal_b(best: pd.DataFrame) -> pd.DataFrame:
    """Fig. App.1: the tuner's dataset size b of each best trial beside its MI."""
    if best.empty:
        return frame([], OPTIMAL_B_COLUMNS)
    out = best[["cell", "depth", "budget", "params", "mi", "b"]].copy()
    out["b_over_mi"] = out["b"].astype(float) / out["mi"].astype(float)
    return frame(out, OPTIMAL_B_COLUMNS)


def relu_only(trials: pd.DataFrame, cells: tuple[str, ...] = RELU_CELLS) -> pd.DataFrame:
    """Fig. 2a: best bits/param over all trials vs over trials with hp_nonlinearity == 'relu'."""
    if trials.empty or "hp_nonlinearity" not in trials.columns:
        return frame([], RELU_COLUMNS)
    t = trials[trials["cell"].isin(cells)]
    if t.empty:
        return frame([], RELU_COLUMNS)
    keys = ["cell", "depth", "budget"]
    everything = _with_mi(best_rows(t, keys))[keys + ["params", "bits_per_param"]]
    relu_t = t[t["hp_nonlinearity"] == "relu"]
    relu = _with_mi(best_rows(relu_t, keys))[keys + ["bits_per_param"]] if not relu_t.empty else \
        pd.DataFrame(columns=keys + ["bits_per_param"])
    n_relu = relu_t.groupby(keys).size().rename("n_relu").reset_index() if not relu_t.empty else \
        pd.DataFrame(columns=keys + ["n_relu"])
    out = everything.rename(columns={"bits_per_param": "bits_per_param_all"})
    out = out.merge(relu.rename(columns={"bits_per_param": "bits_per_param_relu"}), on=keys, how="left")
    out = out.merge(n_relu, on=keys, how="left")
    out["n_relu"] = out["n_relu"].fillna(0).astype(int)
    return frame(sort_cells(out), RELU_COLUMNS)


def unroll(trials: pd.DataFrame) -> pd.DataFrame:
    """Fig. 2b: best bits/param per (cell, depth, budget, unroll length opt_seq_len)."""
    if trials.empty:
        return frame([], UNROLL_COLUMNS)
    t = trials.assign(seq_len=opt_column(trials, "seq_len", DEFAULT_SEQ_LEN).astype(int))
    best = _with_mi(best_rows(t, ["cell", "depth", "budget", "seq_len"]))
    return frame(sort_cells(best, ("cell", "depth", "budget", "seq_len")), UNROLL_COLUMNS)


def unroll_summary(unroll_best: pd.DataFrame) -> pd.DataFrame:
    """Per (cell, depth, seq_len): median bits/param over the largest budgets (as Fig. 1e), of the
    (cell, depth, budget) runs trained at every unroll length: the capacity role's own length may
    cover more cells, depths and sizes than the others, and a curve whose points average over
    different models would show that mix, not the unrolling."""
    if not unroll_best.empty:
        keys = ["cell", "depth", "budget"]
        at_all = unroll_best.groupby(keys)["seq_len"].transform("nunique") == unroll_best["seq_len"].nunique()
        unroll_best = unroll_best[at_all]
    return summarize(unroll_best, ("cell", "depth", "seq_len"), columns=UNROLL_SUMMARY_COLUMNS)


def ordering(summary: pd.DataFrame) -> list[str]:
    """Cells from highest to lowest mean bits/param."""
    m = cell_means(summary)
    return list(m.sort_values(ascending=False, kind="stable").index)
