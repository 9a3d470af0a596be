"""The workstation targets of a committed reproduction: claims in the sense of `report.claims`
(same Claim, same verdicts, same bounds), on the record's own tables, shown as targets.csv.

The record tables hold the largest budget a workstation run reaches, not the fit's median over
budgets, so these are judged on `capacity.csv`/`memory.csv` rather than numbers.json. A target is
"met" exactly when its claim's verdict is REPRODUCED.
"""

from __future__ import annotations

import pandas as pd

from .. import paper_values as P
from ..analysis.common import label
from ..analysis.memory import summary as memory_summary
from .claims import MEM_CURVE, MEM_ZERO, REPRODUCED, TOL_MEAN, Bound, Claim, verdict

TARGET_COLUMNS = ["target", "threshold", "measured", "met"]

BPP_EACH = Bound(">=", P.BPP_RANGE[0], "the low end of the paper's bits/param range, for every cell and depth")
BPP_MEAN = Bound(">=", P.BPP_MEAN - TOL_MEAN, "the low edge of the scorecard's C2 band around the paper's mean")


def largest_budget(capacity: pd.DataFrame) -> pd.DataFrame:
    """The row of the largest budget of every (cell, depth)."""
    idx = capacity.groupby(["cell", "depth"], sort=False)["budget"].idxmax()
    return capacity.loc[sorted(idx)].reset_index(drop=True)


def mean_over_cells(top: pd.DataFrame) -> float:
    """Mean over cells of bits/param, each cell's depths averaged first."""
    return float(top.groupby("cell", sort=False)["bits_per_param"].mean().mean())


def memory_numbers(memory: pd.DataFrame) -> dict:
    """memory.csv rows -> analysis.memory.summary (the numbers of claims C7/C8)."""
    return memory_summary(memory.rename(columns={"eval_error_per_dim": "error"}))


def _target(tid: str, text: str, paper: str, x: float, bound: Bound, digits: int) -> Claim:
    """Judged on the unrounded value; `digits` only shapes what targets.csv shows."""
    shown = round(float(x), digits)
    return Claim(tid, text, paper, f"{shown:g}", str(bound), verdict(bound.holds(float(x))), shown)


def evaluate(capacity: pd.DataFrame, memory: pd.DataFrame) -> list[Claim]:
    """Each target as a Claim (ids T1..), in the order targets.csv lists them."""
    spec: list[tuple[str, str, float, Bound, int]] = []  # text, paper, measured, bound, digits shown
    if not capacity.empty:
        top = largest_budget(capacity)
        paper_range = f"{P.BPP_RANGE[0]:g}–{P.BPP_RANGE[1]:g}"
        for r in top.itertuples():
            spec.append((f"bits/param at the largest budget, {label(r.cell)} depth {r.depth} ({r.params} params)",
                         paper_range, r.bits_per_param, BPP_EACH, 3))
        spec.append(("mean over cells of bits/param at the largest budget (depths averaged)",
                     f"≈{P.BPP_MEAN:g}", mean_over_cells(top), BPP_MEAN, 3))
    if not memory.empty:
        s = memory_numbers(memory)
        if s["n_points_at_or_above"]:
            spec.append((f"memory: max eval error per dim at n_h >= n_in ({s['n_points_at_or_above']} points)",
                         "≈0", s["max_error_at_or_above"], MEM_ZERO, 4))
        if s["n_points_below"]:
            spec.append((f"memory: mean abs(error - (1 - n_h/n_in)) at n_h < n_in ({s['n_points_below']} points)",
                         "on the curve", s["mean_abs_dev_below"], MEM_CURVE, 4))
    return [_target(f"T{i}", *t) for i, t in enumerate(spec, 1)]


def table(claims: list[Claim]) -> pd.DataFrame:
    """The targets.csv view of target claims: target, threshold, measured, met."""
    rows = [{"target": c.claim, "threshold": c.tolerance, "measured": c.value, "met": c.verdict == REPRODUCED}
            for c in claims]
    return pd.DataFrame(rows, columns=TARGET_COLUMNS)


def targets(capacity: pd.DataFrame, memory: pd.DataFrame) -> pd.DataFrame:
    """The targets table of a record: each target, its threshold, the measured value, whether met."""
    return table(evaluate(capacity, memory))


def met_line(tgt: pd.DataFrame) -> str:
    """"11 of 14" from a targets table (written now or read back from targets.csv)."""
    return f"{int(tgt['met'].astype(bool).sum())} of {len(tgt)}"
