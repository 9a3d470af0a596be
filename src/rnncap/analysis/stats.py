"""Small statistics: Welch's t-test (Table App.2) and robust summaries."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np


def welch_df(var_a: float, n_a: int, var_b: float, n_b: int) -> float:
    """Welch–Satterthwaite degrees of freedom from sample variances (ddof=1) and sizes."""
    qa, qb = var_a / n_a, var_b / n_b
    den = qa * qa / (n_a - 1) + qb * qb / (n_b - 1)
    return (qa + qb) ** 2 / den if den > 0 else float("nan")


def welch(a: Sequence[float], b: Sequence[float]) -> dict[str, float]:
    """Welch's unequal-variance t-test of mean(a) vs mean(b).

    t > 0 when a's mean is larger (the paper's convention: "a negative t means the
    second architecture's mean is larger"). p is two-sided. NaN when either side
    has fewer than 2 values.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    out = {"n_a": int(a.size), "n_b": int(b.size),
           "mean_a": float(a.mean()) if a.size else math.nan, "mean_b": float(b.mean()) if b.size else math.nan,
           "t": math.nan, "df": math.nan, "p": math.nan}
    if a.size < 2 or b.size < 2:
        return out
    va, vb = float(a.var(ddof=1)), float(b.var(ddof=1))
    if va == 0 and vb == 0:
        return out
    from scipy import stats as _st  # lazy: figures and tables never need scipy

    res = _st.ttest_ind(a, b, equal_var=False)
    out.update(t=float(res.statistic), p=float(res.pvalue), df=welch_df(va, a.size, vb, b.size))
    return out
