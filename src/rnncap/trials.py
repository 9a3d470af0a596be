"""The trial tables: their columns (written by training, read by analysis) and the one
selection rule that picks a run's best trial.

One row per HP trial. `results/runs/{experiment}/{cell}/p{budget}/d{depth}/s{seed}/trials.parquet`
holds one run's trials; `results/tables/trials.parquet` is their concatenation and
`results/tables/best.parquet` has one row per run (the trial with the best
validation metric among feasible trials).

HP columns are prefixed `hp_` (e.g. `hp_lr`, `hp_optimizer`, `hp_b_ratio`); a HP that a
cell does not have is missing (NaN/None). Task options are prefixed `opt_`
(e.g. `opt_seq_len`, `opt_n_in`). Runs with `search.halving` (train/halving.py) add
`valid_metric_r0`, `valid_metric_r1`, ...: a trial's validation metric at each rung it was
judged at (NaN where it was not, or had diverged); full-schedule runs have none. Analyses
read none of the schedule columns: a stopped trial's row is an ordinary, shorter trial.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from .model.cells import CELLS

# identity of the run a trial belongs to
RUN_KEYS = ("experiment", "task", "mode", "cell", "budget", "depth", "seed")

COLUMNS: dict[str, str] = {
    # run identity
    "experiment": "config key of the experiment (e.g. 'capacity', 'parentheses-random')",
    "task": "task name: capacity | memory | rcf | text8 | parentheses | arithmetic",
    "mode": "search (GP tuner) | random (uniform HP draws) | rerun (best HPs, new seeds)",
    "cell": "rnn | irnn | ugrnn | gru | lstm | plus",
    "budget": "maximum number of parameters (int)",
    "depth": "stacked layers (int)",
    "seed": "run seed (int)",
    # trial identity and model
    "trial": "trial index within the run, 0-based, in the order trials were asked",
    "member_seed": "seed of this trial's init and data order (int)",
    "width": "hidden units per layer (int)",
    "params": "trainable parameters (int, docs/method.md §2.4)",
    # outcome
    "steps": "training steps this trial ran (int)",
    "train_loss": "final training loss (task loss units; running mean over the last eval period)",
    "valid_loss": "loss on the validation set",
    "eval_loss": "loss on the evaluation set",
    "metric": "name of the selection metric (mi_bits | mse_per_dim | loss | bits_per_char)",
    "higher_is_better": "direction of the metric (bool)",
    "valid_metric": "selection metric on the validation set (what the tuner optimises)",
    "eval_metric": "the same metric on the evaluation set (what figures report)",
    "infeasible": "diverged: NaN/Inf loss, or final training loss above the initial loss (bool)",
    "wall_s": "wall seconds of the ensemble this trial trained in, divided by its size",
    "device": "cpu | cuda:N",
    # task extras (NaN where a task has none)
    "eval_accuracy": "capacity: fraction of labels right; parentheses: streams right; arithmetic: answers right",
    "b": "capacity: dataset size (samples) used by this trial",
    "source_eval_metric": "rerun mode: eval metric of the source run's best trial (Table App.1 'original')",
    # the search schedule (train/halving.py; 0 and False without `search.halving`)
    "rung": "halving: rung decisions the trial passed (int)",
    "stopped": "halving: stopped early at a rung, so `steps` is that rung and its metrics are the rung's (bool)",
}

HP_PREFIX = "hp_"
OPT_PREFIX = "opt_"
RUNG_PREFIX = "valid_metric_r"  # + rung index: the validation metric at that rung (halving runs)


# --------------------------------------------------------------------------- selection
# Among the *feasible* trials of a group, the one with the best validation metric (max for
# higher-is-better metrics such as MI, min otherwise); figures report that trial's
# *evaluation* metric (docs/method.md §4). A trial is feasible when its `infeasible` flag is false and
# its validation metric is finite. Training (best.json), aggregation and every fit use this.

def cell_sort_key(cell: str) -> int:
    """Paper order of the cells (model.cells.CELLS); unknown names last."""
    return CELLS.index(cell) if cell in CELLS else len(CELLS)


def as_bool(s: pd.Series) -> pd.Series:
    return s.fillna(False).astype(bool)


def finite(s: pd.Series) -> pd.Series:
    return pd.Series(np.isfinite(pd.to_numeric(s, errors="coerce").astype(float)), index=s.index)


def feasible_mask(df: pd.DataFrame, metric: str = "valid_metric") -> pd.Series:
    """Not flagged infeasible and the given metric finite."""
    if df.empty:
        return pd.Series(False, index=df.index, dtype=bool)
    return ~as_bool(df["infeasible"]) & finite(df[metric])


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
