"""Best metric found against member-steps spent: full-length GP search, successive halving,
and halving warm-started from a smaller neighbour.

For each (task, cell) case and seed, one run directory is trained per method with the
pipeline's own driver (`rnncap.train.run.run`), on the same data:

  full     the paper's search: `trials` GP trials, each trained to `steps`;
  halving  the same GP tuner, `halving_trials` trials, asynchronous successive halving
           (eta, min_steps): members judged at rungs min_steps * eta**i, the worse stopped;
  warm     halving whose GP is first told the trials of a halving run at half the budget
           (the next smaller budget of a sweep), itself started from the paper's published
           HP set (search.warm_start). The neighbour's member-steps are reported apart
           (`neighbour_steps`): in a sweep that run is trained anyway.

A member-step is one training step of one trial (the sum of the `steps` column), the unit
in which an ensemble's cost grows. The table gives, per case and method, the median over
seeds of the best validation metric and of the member-steps, and the ratio of member-steps
to the full search's; `--json` writes one row per (task, cell, method, seed):
{task, cell, method, seed, member_steps, best_metric, trials, neighbour_steps}.

    python benchmarks/search_efficiency.py [--seeds 0 1 2] [--methods full halving warm]
        [--cases capacity-gru capacity-rnn parentheses-gru] [--quick] [--json out.json]

`--quick` shrinks every case to a smoke test (CI-sized); the committed log in
docs/benchmarks/ is a full run.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from rnncap.plan.config import validate_config
from rnncap.tasks import get_task_class
from rnncap.train.run import run

# The cases of the issue: capacity at 2000 params, depth 1 (GRU and RNN), and parentheses at
# the default preset's size (depth 1). HP ranges are the default preset's (config/config.yaml).
LEARNING = {"lr": [0.001, 0.03], "lr_decay": [0.01, 0.3], "clip": [10, 100], "l2": [1.0e-8, 1.0e-6],
            "in_scale_*": [0.3, 2.0], "rec_scale_*": [0.3, 1.5]}
CASES: list[dict[str, Any]] = [
    {"task": "capacity", "cell": "gru", "budget": 2000, "options": {"n_in": 16, "seq_len": 5, "n_samples": 16384},
     "search": {"batch_size": 1024, "ranges": {**LEARNING, "lr": [0.003, 0.03], "b_ratio": [1.0, 4.0]}}},
    {"task": "capacity", "cell": "rnn", "budget": 2000, "options": {"n_in": 16, "seq_len": 5, "n_samples": 16384},
     "search": {"batch_size": 1024, "ranges": {**LEARNING, "lr": [0.003, 0.03], "b_ratio": [1.0, 4.0]}}},
    {"task": "parentheses", "cell": "gru", "budget": 3000, "options": {"seq_len": 25, "n_eval": 256},
     "search": {"batch_size": 64, "ranges": LEARNING}},
]
FULL = {"trials": 8, "ensemble": 8, "initial_points": 4, "fixed": {"optimizer": "adam"}}
HALVING = {"trials": 8, "ensemble": 8, "initial_points": 4, "fixed": {"optimizer": "adam"}}


METHODS = ("full", "halving", "warm")


def search_block(case: dict[str, Any], method: str, steps: int, eta: int) -> dict[str, Any]:
    """The case's search block with the schema's defaults filled, as the workflow builds it."""
    body = {**(FULL if method == "full" else HALVING), **case["search"], "steps": [steps, steps],
            "eval_every": max(1, steps // 4), "checkpoint_every": steps}
    if method != "full":
        body["halving"] = {"eta": eta, "min_steps": max(1, steps // eta ** 2)}
    cfg = validate_config({"experiments": {"x": {"task": case["task"], "budgets": [case["budget"]], "depths": [1],
                                                 "options": case["options"], "search": body}}})
    return cfg["experiments"]["x"]["search"]


def train(case: dict[str, Any], method: str, seed: int, steps: int, eta: int, root: Path, budget: int,
          warm_start: list[str] | None, name: str) -> tuple[Any, float]:
    """One run of the pipeline's driver on the case's data: (trial table, wall seconds)."""
    data = root / "data" / case["task"]
    if not (data / "meta.json").exists():
        get_task_class(case["task"]).make_data(0, data, **case["options"])
    spec = {"experiment": "bench", "task": case["task"], "mode": "search", "cell": case["cell"],
            "budget": budget, "depth": 1, "seed": seed, "options": case["options"],
            "data_dir": str(data), "search": search_block(case, method, steps, eta), "source_best": None}
    if warm_start is not None:
        spec["warm_start"] = warm_start
    t0 = time.perf_counter()
    trials = run(spec, root / name, log=lambda m: None)
    return trials, time.perf_counter() - t0


def one(case: dict[str, Any], method: str, seed: int, steps: int, eta: int, root: Path) -> dict[str, Any]:
    stem = f"{case['task']}-{case['cell']}-s{seed}"
    nb_steps = 0
    warm = None
    if method == "warm":  # the neighbour: half the budget, started from the paper's HP set
        nb, _ = train(case, "halving", seed, steps, eta, root, case["budget"] // 2, [], f"{stem}-neighbour")
        nb_steps, warm = int(nb["steps"].sum()), [str(root / f"{stem}-neighbour" / "trials.parquet")]
    trials, wall = train(case, method, seed, steps, eta, root, case["budget"], warm, f"{stem}-{method}")
    ok = trials[~trials["infeasible"].astype(bool)]
    best = ok["valid_metric"].max() if bool(trials["higher_is_better"].iloc[0]) else ok["valid_metric"].min()
    return {"task": case["task"], "cell": case["cell"], "method": method, "seed": seed,
            "member_steps": int(trials["steps"].sum()), "best_metric": float(best), "trials": len(trials),
            "neighbour_steps": nb_steps, "wall_s": round(wall, 1)}


def case_name(case: dict[str, Any]) -> str:
    return f"{case['task']}-{case['cell']}"


def table(rows: list[dict[str, Any]]) -> str:
    out = ["| task | cell | method | seeds | median best metric | median member-steps | vs full "
           "| + neighbour's member-steps |", "|---|---|---|---|---|---|---|---|"]
    keys = sorted({(r["task"], r["cell"]) for r in rows}, key=lambda k: [c["task"] + c["cell"] for c in CASES].index(k[0] + k[1]))
    for task, cell in keys:
        full_steps = None
        for method in METHODS:
            rs = [r for r in rows if (r["task"], r["cell"], r["method"]) == (task, cell, method)]
            if not rs:
                continue
            steps = statistics.median(r["member_steps"] for r in rs)
            full_steps = steps if method == "full" else full_steps
            ratio = f"{steps / full_steps:.2f}" if full_steps else "—"
            out.append(f"| {task} | {cell} | {method} | {len(rs)} | "
                       f"{statistics.median(r['best_metric'] for r in rs):.4g} | {steps:,.0f} | {ratio} | "
                       f"{statistics.median(r['neighbour_steps'] for r in rs):,.0f} |")
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--steps", type=int, nargs=3, default=[3000, 3000, 600], metavar=("CAP_GRU", "CAP_RNN", "PAREN"),
                   help="full training length per case")
    p.add_argument("--eta", type=int, default=3)
    p.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    p.add_argument("--cases", nargs="+", choices=[case_name(c) for c in CASES],
                   default=[case_name(c) for c in CASES])
    p.add_argument("--quick", action="store_true", help="a smoke test: 60 steps, one seed")
    p.add_argument("--json", help="write the rows here")
    a = p.parse_args()
    steps, seeds = ([60, 60, 60], [0]) if a.quick else (a.steps, a.seeds)
    print(f"# {platform.processor() or platform.machine()}, steps {steps}, eta {a.eta}, seeds {seeds}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for case, n in zip(CASES, steps):
            if case_name(case) not in a.cases:
                continue
            for seed in seeds:
                for method in a.methods:
                    rows.append(one(case, method, seed, n, a.eta, Path(tmp)))
                    print(json.dumps(rows[-1]), flush=True)
    print(table(rows))
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
