"""Successive halving over a batch's members, asynchronous across batches (ASHA).

A search setting, not part of the paper (docs/method.md §4 trains every proposal to
completion; a search without a `halving` block does that). With `search.halving` a member is judged at
each rung r_i = min_steps * eta**i below the batch's longest `steps`: it keeps training
if its validation metric ranks within the top ceil(n / eta) of every trial of the run
judged at that rung so far (earlier batches' trials from the finished-trials table, plus
this batch's members). With no history this is plain successive halving inside the batch.

`keep` is a pure function of the metric table, so the decision a resumed run takes is the
one an uninterrupted run took.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd

from ..trials import RUNG_PREFIX



def rung_column(i: int) -> str:
    """The trial-table column of the validation metric at rung i (rnncap.trials)."""
    return f"{RUNG_PREFIX}{i}"


def rung_columns(columns: Sequence[str]) -> list[str]:
    """The rung columns among `columns`, in rung order."""
    found = [c for c in columns if c.startswith(RUNG_PREFIX) and c[len(RUNG_PREFIX):].isdigit()]
    return sorted(found, key=lambda c: int(c[len(RUNG_PREFIX):]))


def rungs(min_steps: int, eta: int, longest: int) -> tuple[int, ...]:
    """r_i = min_steps * eta**i for every r_i < longest (a member's steps are <= longest)."""
    out, r = [], int(min_steps)
    while r < int(longest):
        out.append(r)
        r *= int(eta)
    return tuple(out)


def keep(members: Sequence[int], values: Sequence[float], history: Sequence[tuple[int, float]],
         eta: int, higher_is_better: bool) -> list[bool]:
    """Which `members` (trial indices, their rung values) continue past the rung.

    The population is `history` (trial, value) plus the members; the best ceil(n / eta)
    of it are kept. NaN/Inf rank last, ties go to the lower trial index.
    """
    pop = [(int(t), float(v)) for t, v in history] + [(int(t), float(v)) for t, v in zip(members, values)]
    sign = -1.0 if higher_is_better else 1.0

    def rank_key(tv: tuple[int, float]) -> tuple[int, float, int]:
        t, v = tv
        return (0, sign * v, t) if math.isfinite(v) else (1, 0.0, t)

    top = {t for t, _ in sorted(pop, key=rank_key)[: math.ceil(len(pop) / int(eta))]}
    return [int(t) in top for t in members]


def reached(done: pd.DataFrame, i: int) -> pd.DataFrame:
    """The finished trials judged at rung i: those that passed it, or were stopped there."""
    if done.empty or rung_column(i) not in done.columns:
        return done.iloc[0:0]
    rung = done["rung"].astype(int)
    return done[(rung > i) | ((rung == i) & done["stopped"].astype(bool))]


def history(done: pd.DataFrame, i: int) -> list[tuple[int, float]]:
    """(trial, value at rung i) of the finished trials judged at rung i."""
    rows = reached(done, i)
    if rows.empty:
        return []
    vals = pd.to_numeric(rows[rung_column(i)], errors="coerce").astype(float).to_numpy()
    return [(int(t), float(v)) for t, v in zip(rows["trial"], np.asarray(vals))]
