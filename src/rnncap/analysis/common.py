"""Shared helpers of the analysis: roles, feasibility, best-trial selection.

Pure pandas; no torch import, so analysis, figures and tables stay light.

Selection rule everywhere (spec §4): among the *feasible* trials of a group, the
one with the best validation metric (max for higher-is-better metrics such as
MI, min otherwise); the figures report that trial's *evaluation* metric.
A trial is feasible when its `infeasible` flag is false and its validation
metric is finite.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

# display order and labels of the cells (spec §2)
CELL_ORDER: tuple[str, ...] = ("rnn", "irnn", "ugrnn", "gru", "lstm", "plus")
CELL_LABELS: dict[str, str] = {
    "rnn": "RNN", "irnn": "IRNN", "ugrnn": "UGRNN", "gru": "GRU", "lstm": "LSTM", "plus": "+RNN",
}

# the figure roles of docs/contracts.md
ROLES: tuple[str, ...] = (
    "capacity", "unroll", "memory", "text8", "rcf", "parentheses", "arithmetic", "random_hp", "rerun_best",
)


def label(cell: str) -> str:
    return CELL_LABELS.get(cell, cell)


def cell_sort_key(cell: str) -> int:
    return CELL_ORDER.index(cell) if cell in CELL_ORDER else len(CELL_ORDER)


def parse_roles(roles: str | Mapping[str, Any] | None) -> dict[str, list[str]]:
    """`--roles` as JSON text, `@file.json`, a path to a JSON file, or a mapping -> role: [experiments].

    A role's value may be one experiment name or a list; unknown roles are an error.
    """
    if roles is None:
        return {}
    if isinstance(roles, str):
        text = roles.strip()
        if text.startswith("@"):
            text = Path(text[1:]).read_text()
        elif not text.startswith("{") and Path(text).is_file():
            text = Path(text).read_text()
        roles = json.loads(text) if text else {}
    out: dict[str, list[str]] = {}
    for role, v in dict(roles).items():
        if role not in ROLES:
            raise KeyError(f"roles.{role}: unknown role (known: {', '.join(ROLES)})")
        if v is None:
            continue
        out[role] = [v] if isinstance(v, str) else [str(x) for x in v]
    return out


def select_role(trials: pd.DataFrame, roles: Mapping[str, Sequence[str]], role: str) -> pd.DataFrame:
    """Trials of the experiments a role names (empty, with all columns, when the role is absent)."""
    exps = roles.get(role) or []
    if trials.empty or not exps or "experiment" not in trials.columns:
        return trials.iloc[0:0].copy()
    return trials[trials["experiment"].isin(list(exps))].copy()


def as_bool(s: pd.Series) -> pd.Series:
    return s.fillna(False).astype(bool)


def finite(s: pd.Series) -> pd.Series:
    return pd.Series(np.isfinite(pd.to_numeric(s, errors="coerce").astype(float)), index=s.index)


def feasible_mask(df: pd.DataFrame, metric: str = "valid_metric") -> pd.Series:
    """Not flagged infeasible and the given metric finite."""
    if df.empty:
        return pd.Series(False, index=df.index, dtype=bool)
    return ~as_bool(df["infeasible"]) & finite(df[metric])


def failed_mask(df: pd.DataFrame) -> pd.Series:
    """Counted as infeasible in Table 1 / Table App.1: flagged, or a non-finite eval metric."""
    if df.empty:
        return pd.Series(False, index=df.index, dtype=bool)
    return as_bool(df["infeasible"]) | ~finite(df["eval_metric"])


def higher_is_better(df: pd.DataFrame) -> bool:
    if df.empty or "higher_is_better" not in df.columns:
        return False
    vals = df["higher_is_better"].dropna().astype(bool).unique()
    if len(vals) > 1:
        raise ValueError("higher_is_better: mixed metric directions in one group of trials")
    return bool(vals[0]) if len(vals) else False


def score(df: pd.DataFrame, metric: str = "valid_metric") -> pd.Series:
    """Metric turned into 'bigger is better' using each row's direction."""
    v = pd.to_numeric(df[metric], errors="coerce").astype(float)
    sign = np.where(as_bool(df["higher_is_better"]), 1.0, -1.0) if "higher_is_better" in df else -1.0
    return v * sign


def best_rows(trials: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """One row per group of `keys`: the feasible trial with the best validation metric.

    Adds `n_trials` and `n_feasible` (counts in the group). Groups with no feasible
    trial are left out. Ties go to the earliest row (lowest trial index first).
    """
    keys = list(keys)
    if trials.empty:
        return trials.iloc[0:0].assign(n_trials=pd.Series(dtype=int), n_feasible=pd.Series(dtype=int))
    df = trials.copy()
    sort_cols = [c for c in ("seed", "trial") if c in df.columns]
    if sort_cols:
        df = df.sort_values(sort_cols, kind="stable")
    df["_ok"] = feasible_mask(df)
    df["_score"] = score(df)
    counts = df.groupby(keys, dropna=False).agg(n_trials=("_ok", "size"), n_feasible=("_ok", "sum"))
    ok = df[df["_ok"]]
    if ok.empty:
        return trials.iloc[0:0].assign(n_trials=pd.Series(dtype=int), n_feasible=pd.Series(dtype=int))
    idx = ok.groupby(keys, dropna=False)["_score"].idxmax()
    best = ok.loc[idx.values].drop(columns=["_ok", "_score"])
    best = best.merge(counts.reset_index(), on=keys, how="left")
    return sort_cells(best.reset_index(drop=True), keys)


def sort_cells(df: pd.DataFrame, keys: Iterable[str] = ("cell", "depth", "budget")) -> pd.DataFrame:
    """Sort by cell in paper order, then by the other keys present."""
    if df.empty:
        return df.reset_index(drop=True)
    by = [k for k in keys if k in df.columns]
    if "cell" in df.columns:
        df = df.assign(_c=df["cell"].map(cell_sort_key))
        by = ["_c"] + [k for k in by if k != "cell"]
        return df.sort_values(by, kind="stable").drop(columns="_c").reset_index(drop=True)
    return df.sort_values(by, kind="stable").reset_index(drop=True) if by else df.reset_index(drop=True)


def frame(rows: list[dict] | pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """A frame with exactly `columns` (missing ones NaN), also when there are no rows."""
    df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
    if df.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    return df.reindex(columns=list(columns))


def opt_column(df: pd.DataFrame, name: str, default: Any) -> pd.Series:
    """A task option column (`opt_<name>`), filled with `default` where missing."""
    col = f"opt_{name}"
    if col in df.columns:
        return df[col].where(df[col].notna(), default)
    return pd.Series(default, index=df.index)


def largest_budgets(budgets: Iterable[Any], n: int) -> list[int]:
    vals = sorted({int(b) for b in budgets})
    return vals[-n:] if n > 0 else vals
