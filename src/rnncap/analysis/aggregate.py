"""Concatenate run directories into the two tables every analysis reads."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import pandas as pd

from .. import io
from ..trials import RUN_KEYS
from .common import best_rows


def collect(run_dirs: Iterable[str | Path]) -> pd.DataFrame:
    frames = []
    for d in run_dirs:
        p = Path(d) / "trials.parquet"
        if not p.exists():
            raise FileNotFoundError(f"{p}: run directory has no trials.parquet (did its train job finish?)")
        frames.append(io.read_parquet(p))  # checked: a damaged run table is named, never aggregated
    if not frames:
        raise ValueError("no run directories given")
    return pd.concat(frames, ignore_index=True)


def best_per_run(trials: pd.DataFrame) -> pd.DataFrame:
    """One row per run: its best feasible trial (runs where every trial diverged are left out)."""
    return best_rows(trials, RUN_KEYS).drop(columns=["n_trials", "n_feasible"])
