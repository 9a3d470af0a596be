"""Shared helpers of the analysis: roles, cell labels, failure counts, frame shapes.

The selection rule (best feasible trial) lives with the trial tables, `rnncap.trials`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..model.cells import CELLS, SPECS
from ..plan.checks import ROLE_TASKS
from ..trials import as_bool, best_rows, cell_sort_key, feasible_mask, finite, higher_is_better, score, sort_cells

# display order and labels of the cells: the cells' own specs
CELL_ORDER: tuple[str, ...] = CELLS
CELL_LABELS: dict[str, str] = {c: s.label for c, s in SPECS.items()}

# what a figure panel, table or claim says when the run had no data for it
NOT_RUN = "not run at this scale"

# the figure roles of docs/contracts.md: the config checks' table of them
ROLES: tuple[str, ...] = tuple(ROLE_TASKS)


def label(cell: str) -> str:
    return CELL_LABELS.get(cell, cell)


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


def failed_mask(df: pd.DataFrame) -> pd.Series:
    """Counted as infeasible in Table 1 / Table App.1: flagged, or a non-finite eval metric."""
    if df.empty:
        return pd.Series(False, index=df.index, dtype=bool)
    return as_bool(df["infeasible"]) | ~finite(df["eval_metric"])


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
