"""A validated config -> the sweep table (one row per training job) and its cost.

    cfg = rnncap.plan.config.load_config("config/config.yaml")
    table = sweep_table(cfg)     # experiment, task, mode, cell, budget, depth, seed, width, params, ...
    print(describe(table))       # "N training jobs, ~X core-hours estimated"

Rows: every enabled experiment x its cells x depths x budgets x seeds. A +RNN at
depth 1 only arises from the top-level default cell list and is skipped there
(an experiment listing `plus` with depth 1 is a ConfigError in rnncap.plan.config).

Cost model (a planning estimate, not a promise; calibrate with `cost:` in the config).
One training step of an ensemble of E members (width n, depth L, G gate blocks, T time
steps, minibatch B) on one core costs

    t_step = T * L * overhead_us * 1e-6                 # ~25 small ops per layer and time step
           + T * L * E * B * (G+1) * n * elem_ns * 1e-9  # elementwise gate math, fwd + bwd
           + T * E * B * K * G * n * gather_ns * 1e-9    # one-hot ("index") inputs: K rows gathered
           + 6 * E * B * M / flops_per_s                 # matmuls: forward 2, backward 4 FLOP per MAC

with M the multiply-adds of one sequence: T * sum over layers of G*n*(n_x + n) (n_x = 0
for index inputs) + R * n_out * n for the R read-out steps. A run trains ceil(trials/E)
ensembles, each for the upper end of the `steps` range (an ensemble runs until its
longest member is done):

    core_seconds = job_overhead_s
                 + ceil(trials/E) * (batch_overhead_s + steps_hi * t_step * (1 + eval_fraction))

The defaults were fitted to six runs of this engine (`rnncap train`, 8 members, 300-1000
steps; capacity, memory, RCF, parentheses, arithmetic; widths 11-17, depth 1-2) on a
2-core AVX-512 CPU shared with other work: 1.1-1.35x the measured wall time (conservative).
Small models are overhead- and elementwise-bound, so the cost grows much more slowly than
the parameter count until width reaches the hundreds. The estimate is CPU core-hours; on
a GPU large ensembles are far cheaper.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from typing import Any, Callable, Mapping

import pandas as pd

from ..model.cells import spec as cell_spec
from .config import experiment_cells, experiment_seeds, task_facts, valid_depth
from ..model.params import count_params, solve_width

COLUMNS = ["experiment", "task", "mode", "cell", "budget", "depth", "seed", "width", "params",
           "est_core_hours", "source"]

RUN_DIR = "results/runs/{experiment}/{cell}/p{budget}/d{depth}/s{seed}"
DATA_DIR = "results/data/{experiment}/seed{data_seed}"


@lru_cache(maxsize=None)
def _arch(cell: str, budget: int, depth: int, n_in: int, n_out: int) -> tuple[int, int]:
    w = solve_width(cell, budget, depth, n_in, n_out)
    return w, count_params(cell, w, depth, n_in, n_out)


def sequence_macs(cell: str, width: int, depth: int, n_in: int, n_out: int, seq_len: int, readouts: int,
                  input_kind: str = "dense") -> int:
    """Multiply-adds of one forward pass over one sequence (see the module doc)."""
    s = cell_spec(cell)
    dense = input_kind == "dense"
    first = width if s.input_projection else (n_in if dense else 0)
    rec = sum(s.G * width * (n_x + width) for n_x in [first] + [width] * (depth - 1))
    if s.input_projection and dense:
        rec += width * n_in  # the input projection
    return seq_len * rec + readouts * n_out * width


def step_seconds(cell: str, width: int, depth: int, macs: int, facts: Any, batch: int, ensemble: int,
                 cost: Mapping[str, float]) -> float:
    """Modelled wall seconds of one training step of one ensemble on one core."""
    G, T, EB = cell_spec(cell).G, facts.seq_len, ensemble * batch
    t = T * depth * cost["overhead_us"] * 1e-6
    t += T * depth * EB * (G + 1) * width * cost["elem_ns"] * 1e-9
    if facts.input_kind == "index":
        t += T * EB * facts.active_inputs * G * width * cost["gather_ns"] * 1e-9
    return t + 6.0 * macs * EB / cost["flops_per_s"]


def train_rows(facts: Any, cell: str, search: Mapping[str, Any]) -> Callable[[int], int]:
    """params -> rows one member trains on per step, for one (experiment, cell).

    The capacity task trains full-batch whenever its set of b = b_ratio * params samples
    fits in batch_size (tasks/capacity.py), so a batch_size sized for a sweep's largest
    set costs each run only its own largest b.
    """
    batch = int(search["batch_size"])
    if facts.task != "capacity":
        return lambda params: batch
    from .config import search_dims
    from ..hpspace import apply_overrides

    dims = apply_overrides(search_dims(facts.task, cell, (1, 2)), search.get("fixed", {}),
                           search.get("ranges", {}), "search")
    hi = next(float(d.high) for d in dims if d.name == "b_ratio")
    n = int(facts.options["n_samples"])
    return lambda params: max(1, min(batch, math.ceil(hi * params), n))


def run_core_hours(cell: str, width: int, depth: int, facts: Any, search: Mapping[str, Any],
                   cost: Mapping[str, float], rows: int | None = None) -> float:
    """Modelled core-hours of one run directory (all its trials)."""
    E = max(1, int(search["ensemble"]))
    trials = int(search["trials"])
    macs = sequence_macs(cell, width, depth, facts.n_in, facts.n_out, facts.seq_len, facts.readouts, facts.input_kind)
    rows = int(search["batch_size"]) if rows is None else rows
    t = step_seconds(cell, width, depth, macs, facts, rows, min(E, trials), cost)
    per_batch = cost["batch_overhead_s"] + int(search["steps"][1]) * t * (1.0 + cost["eval_fraction"])
    return (cost["job_overhead_s"] + math.ceil(trials / E) * per_batch) / 3600.0


def sweep_table(cfg: Mapping[str, Any]) -> pd.DataFrame:
    """One row per training job of a validated config (rnncap.plan.config.validate_config)."""
    rows = []
    cost = cfg["cost"]
    for name, exp in cfg["experiments"].items():
        if not exp.get("enabled", True):
            continue
        facts = task_facts(exp["task"], exp.get("options", {}), f"experiments.{name}.options")
        cells, _ = experiment_cells(cfg, name)
        seeds = experiment_seeds(cfg, name)
        src = exp.get("source", "") if exp["mode"] == "rerun" else ""
        for cell in cells:
            rows_of = train_rows(facts, cell, exp["search"])
            for depth in exp["depths"]:
                if not valid_depth(cell, depth):
                    continue  # +RNN at depth 1 from the default cell list (see module doc)
                for budget in exp["budgets"]:
                    width, params = _arch(cell, int(budget), int(depth), facts.n_in, facts.n_out)
                    hours = run_core_hours(cell, width, int(depth), facts, exp["search"], cost, rows_of(params))
                    for seed in seeds:
                        rows.append((name, exp["task"], exp["mode"], cell, int(budget), int(depth), int(seed),
                                     width, params, hours, src))
    return pd.DataFrame.from_records(rows, columns=COLUMNS)


def run_dir(row: Mapping[str, Any]) -> str:
    return RUN_DIR.format(**{k: row[k] for k in ("experiment", "cell", "budget", "depth", "seed")})


def data_dir(cfg: Mapping[str, Any], experiment: str) -> str:
    return DATA_DIR.format(experiment=experiment, data_seed=cfg["data_seed"])


def train_spec(cfg: Mapping[str, Any], row: Mapping[str, Any]) -> dict[str, Any]:
    """The `rnncap train --spec` of one row (docs/contracts.md). No device: it is a runtime choice."""
    exp = cfg["experiments"][row["experiment"]]
    src = row.get("source") or ""
    return {
        "experiment": row["experiment"], "task": exp["task"], "mode": exp["mode"],
        "cell": row["cell"], "budget": int(row["budget"]), "depth": int(row["depth"]), "seed": int(row["seed"]),
        "options": task_facts(exp["task"], exp.get("options", {})).options,
        "data_dir": data_dir(cfg, row["experiment"]),
        "search": dict(exp["search"]),
        "source_best": (RUN_DIR.format(experiment=src, cell=row["cell"], budget=row["budget"], depth=row["depth"],
                                       seed=row["seed"]) + "/best.json") if src else None,
    }


def spec_json(spec: Mapping[str, Any]) -> str:
    """Canonical JSON (sorted keys, no spaces): equal specs give equal text, so Snakemake's
    params trigger reruns a job exactly when its spec changes."""
    return json.dumps(spec, sort_keys=True, separators=(",", ":"))


def cost_summary(table: pd.DataFrame, done: int | None = None) -> dict[str, Any]:
    return {"jobs": int(len(table)), "core_hours": float(table["est_core_hours"].sum()) if len(table) else 0.0,
            "done": done}


def describe(table: pd.DataFrame, done_mask: Any = None) -> str:
    """'N training jobs, ~X core-hours estimated' (+ how many are done, when known)."""
    n = len(table)
    hours = float(table["est_core_hours"].sum()) if n else 0.0
    text = f"{n} training jobs, ~{_fmt_hours(hours)} core-hours estimated"
    if done_mask is not None and n:
        done = int(pd.Series(done_mask).sum())
        left = float(table.loc[~pd.Series(done_mask, index=table.index), "est_core_hours"].sum())
        text += f" ({done} done; ~{_fmt_hours(left)} core-hours left)"
    by = table.groupby("experiment", sort=False)["est_core_hours"].agg(["size", "sum"]) if n else None
    if by is not None and len(by) > 1:
        text += "; " + ", ".join(f"{e}: {int(r['size'])} jobs ~{_fmt_hours(r['sum'])} h" for e, r in by.iterrows())
    return text


def _fmt_hours(h: float) -> str:
    if h < 0.1:
        return f"{h:.3f}"
    if h < 10:
        return f"{h:.2f}"
    return f"{h:,.0f}"


__all__ = ["COLUMNS", "sweep_table", "train_spec", "spec_json", "run_dir", "data_dir", "describe",
           "cost_summary", "run_core_hours", "step_seconds", "sequence_macs"]
