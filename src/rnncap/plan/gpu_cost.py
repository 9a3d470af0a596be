"""The GPU cost model: modelled GPU-hours of a training job, fitted to GPU throughput logs.

A planning estimate, like rnncap.plan.cost (CPU core-hours), beside which `describe` prints it.
One training step of a process that trains M members in lockstep on one GPU (M = a run's
ensemble size E today; packing several runs into one process raises it) costs

    t_step = max(T * L * launch_us[cell] * 1e-6 + step_ms * 1e-3,   # the host issuing kernels
                 6 * M * B * W / flops_per_s)                        # the GPU running the matmuls

The host launches a fixed set of small kernels per layer and time step (forward and backward)
and per step (loss, optimizer); the GPU runs them asynchronously, so the slower side sets the
step. A small model is launch-bound, and 128 members cost what one does; a wide one is bound by
its matmuls, and the cost grows with M. W: the multiply-adds of one sequence
(rnncap.plan.cost.sequence_macs), plus T*K*G*n for the rows one-hot inputs gather. Elementwise
work has no term of its own: fitted on its own coefficient, it came out zero on these logs.

A run trains ceil(trials/E) ensembles one after another, each to the top of its `steps`
range (under `halving`, members stop at the rungs: rnncap.plan.cost.alive_segments). With
P = M/E runs sharing a process (1 until packing), its share of the GPU is

    gpu_seconds = start_s / P + ceil(trials/E) * (batch_overhead_s
                  + sum over segments of steps * t_step(alive * P) / P * (1 + eval_fraction))

with batch_overhead_s and eval_fraction from the config's `cost:`.

Coefficients: `fit_gpu` on the rows of rnncap.plan.gpu_data, the committed logs of
benchmarks/throughput.py --device cuda (docs/benchmarks/throughput-cuda-h100.txt and
-h200.txt; T = 20, batch 128 per member, input width = width, 10 outputs at the last step;
E 1-128, widths 16-256, depths 1 and 4): least squares on log step time (robust loss), 6
launch_us, one step_ms, one flops_per_s. Fitted to both, the model puts 90 % of their rows
within 0.84-1.19x of the measured time. start_s: one `rnncap train` process less its training
in docs/benchmarks/capacity-slice-cuda-h100.log (12 s wall - 6.3 s: imports, CUDA context,
data load, final evaluation).
A session with a GPU refreshes them: `rnncap fit-gpu-cost LOG --write` (docs/performance.md).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import cache
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from ..model.cells import spec as cell_spec
from ..tasks import TaskFacts
from .cost import alive_segments, sequence_macs, train_rows
from .experiment import experiment_facts

BENCH_T, BENCH_BATCH, BENCH_OUT = 20, 128, 10  # benchmarks/throughput.py's fixed shape


@dataclass(frozen=True)
class GpuCost:
    launch_us: Mapping[str, float]  # per layer and time step, per cell
    step_ms: float                  # per step
    flops_per_s: float              # sustained fp32 matmul rate
    start_s: float = 0.0            # process start-up
    label: str = "GPU"

    def launch(self, cell: str) -> float:
        """A cell the logs lack gets the slowest measured cell's launch cost."""
        return self.launch_us.get(cell, max(self.launch_us.values()))


# --------------------------------------------------------------------------- the model

def step_work(cell: str, width: int, depth: int, facts: TaskFacts) -> float:
    """W: multiply-adds of one sequence, plus the gathered weights of one-hot inputs."""
    w = sequence_macs(cell, width, depth, facts.n_in, facts.n_out, facts.seq_len, len(facts.readout_steps),
                      facts.input_kind)
    if facts.input_kind == "index":
        w += facts.seq_len * facts.active_inputs * cell_spec(cell).G * width
    return float(w)


def gpu_step_seconds(cell: str, depth: int, seq_len: int, work: float, rows: int, members: float,
                     coef: GpuCost) -> float:
    """Modelled seconds of one step of `members` members on one GPU (see the module doc)."""
    host = seq_len * depth * coef.launch(cell) * 1e-6 + coef.step_ms * 1e-3
    return max(host, 6.0 * members * rows * work / coef.flops_per_s)


def run_gpu_hours(cell: str, width: int, depth: int, facts: TaskFacts, search: Mapping[str, Any],
                  cost: Mapping[str, float], coef: GpuCost, rows: int | None = None,
                  members: int | None = None) -> float:
    """Modelled GPU-hours of one run directory. `members`: members per process (default the
    run's own ensemble, min(E, trials)); more than that means runs packed into one process."""
    E = max(1, int(search["ensemble"]))
    own = min(E, int(search["trials"]))
    pack = max(1.0, (members or own) / own)
    rows = int(search["batch_size"]) if rows is None else rows
    work = step_work(cell, width, depth, facts)
    train_s = sum(n * gpu_step_seconds(cell, depth, facts.seq_len, work, rows, alive * pack, coef) / pack
                  for n, alive in alive_segments(search, own))
    per_batch = cost["batch_overhead_s"] + train_s * (1.0 + cost["eval_fraction"])
    return (coef.start_s / pack + math.ceil(int(search["trials"]) / E) * per_batch) / 3600.0


def sweep_gpu_hours(cfg: Mapping[str, Any], table: pd.DataFrame, coef: GpuCost | None = None,
                    members: int | None = None) -> pd.Series:
    """GPU-hours of each row of a job table (rnncap.plan.jobs.sweep_table), same index."""
    coef = coef or planning_cost()
    memo: dict[tuple, float] = {}
    out = []
    for r in table.itertuples(index=False):
        key = (r.experiment, r.cell, int(r.width), int(r.depth), int(r.params))
        if key not in memo:
            search = cfg["experiments"][r.experiment]["search"]
            facts = experiment_facts(cfg, r.experiment)
            rows = train_rows(facts, r.cell, search)(int(r.params))
            memo[key] = run_gpu_hours(r.cell, int(r.width), int(r.depth), facts, search, cfg["cost"], coef,
                                      rows, members)
        out.append(memo[key])
    return pd.Series(out, index=table.index, dtype=float)


# --------------------------------------------------------------------------- the fit

def parse_log(text: str) -> list[dict[str, Any]]:
    """Rows of a benchmarks/throughput.py log: its table, or its --json lines. Skipped rows
    (no throughput) are dropped; each row: cell, width, depth, ensemble, model_seq_per_s."""
    if re.search(r"^# .*device cpu\b", text, re.M):
        raise ValueError("a CPU throughput log: the GPU model wants --device cuda rows")
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            d = json.loads(line)
            if d.get("device", "cuda") == "cpu":
                raise ValueError("a CPU throughput log: the GPU model wants --device cuda rows")
            if d.get("model_seq_per_s"):
                rows.append({k: d[k] for k in ("cell", "width", "depth", "ensemble", "model_seq_per_s")})
        elif m := re.match(r"^([a-z]+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s", line):
            rows.append({"cell": m[1], "width": int(m[2]), "depth": int(m[3]), "ensemble": int(m[4]),
                         "model_seq_per_s": float(m[5])})
    return rows


def device_name(text: str) -> str | None:
    """'H100' from a table log's header '# torch ..., device cuda (NVIDIA H100 80GB HBM3), ...'."""
    m = re.search(r"device cuda \(([^)]*)\)", text)
    words = [w for w in (m[1].split() if m else []) if re.fullmatch(r"[A-Z]+\d+[A-Za-z]*", w)]
    return words[0] if words else None


def _design(rows: Iterable[Mapping[str, Any]]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(cells, [cell index, T*L, 6*E*B*W] per row, measured step seconds)."""
    rows = list(rows)
    cells = sorted({r["cell"] for r in rows})
    x, y = [], []
    for r in rows:
        c, n, L, E = r["cell"], int(r["width"]), int(r["depth"]), int(r["ensemble"])
        work = step_work(c, n, L, TaskFacts("bench", {}, n, BENCH_OUT, BENCH_T, (BENCH_T - 1,), "dense", 0))
        x.append((cells.index(c), BENCH_T * L, 6.0 * E * BENCH_BATCH * work))
        y.append(E * BENCH_BATCH / float(r["model_seq_per_s"]))
    return cells, np.array(x), np.array(y)


def _predict(theta: np.ndarray, x: np.ndarray, n_cells: int) -> np.ndarray:
    launch, step_ms, inv_tflops = theta[:n_cells], theta[n_cells], theta[n_cells + 1]
    host = x[:, 1] * launch[x[:, 0].astype(int)] * 1e-6 + step_ms * 1e-3
    return np.maximum(host, x[:, 2] * inv_tflops * 1e-12)


def fit_gpu(rows: Iterable[Mapping[str, Any]], start_s: float = 0.0, label: str = "GPU") -> GpuCost:
    """Coefficients of the module doc's t_step from throughput rows (`parse_log`)."""
    from scipy.optimize import least_squares

    cells, x, y = _design(rows)
    k = len(cells)
    per_cell = [float(np.median(y[x[:, 0] == i] / x[x[:, 0] == i, 1])) * 1e6 for i in range(k)]
    theta0 = np.r_[per_cell, 0.1, 1.0 / max(float(np.max(x[:, 2] / y)) / 1e12, 1e-3)]
    fit = least_squares(lambda t: np.log(_predict(t, x, k)) - np.log(y), theta0,
                        bounds=(np.r_[[1e-3] * k, 0.0, 1e-6], np.inf), loss="soft_l1", f_scale=0.1,
                        x_scale="jac")
    t = fit.x
    return GpuCost({c: round(float(v), 2) for c, v in zip(cells, t[:k])}, round(float(t[k]), 4),
                   float(f"{1e12 / t[k + 1]:.4g}"), start_s, label)


def ratios(coef: GpuCost, rows: Iterable[Mapping[str, Any]]) -> np.ndarray:
    """Modelled / measured step time of each row."""
    rows = list(rows)
    cells, x, y = _design(rows)
    theta = np.r_[[coef.launch(c) for c in cells], coef.step_ms, 1e12 / coef.flops_per_s]
    return _predict(theta, x, len(cells)) / y


def fit_logs(logs: Mapping[str, tuple[str, str]], start: tuple[str, float, float]) -> GpuCost:
    """One model for all logs of a gpu_data-shaped mapping, labelled by their GPUs."""
    rows = [r for _, text in logs.values() for r in parse_rows(text)]
    return fit_gpu(rows, start_s=start[1] - start[2], label="/".join(logs) + "-class")


@cache
def planning_cost() -> GpuCost:
    """The model `snakemake -n` prints: fitted to every log in rnncap.plan.gpu_data."""
    from . import gpu_data

    return fit_logs(gpu_data.LOGS, gpu_data.START)


def describe_fit(coef: GpuCost, rows: list[Mapping[str, Any]]) -> str:
    r = ratios(coef, rows)
    lo, mid, hi = np.percentile(r, [10, 50, 90])
    launch = ", ".join(f"{c} {v:.0f}" for c, v in coef.launch_us.items())
    return (f"launch_us: {launch}; step_ms {coef.step_ms:.3f}; flops_per_s {coef.flops_per_s:.3g}; "
            f"{len(r)} rows, modelled/measured p10 {lo:.2f} median {mid:.2f} p90 {hi:.2f}")


# --------------------------------------------------------------------------- the data file

DATA_DOC = '''"""Measured GPU throughput behind the GPU cost model (rnncap.plan.gpu_cost): its one home.

Written by `rnncap fit-gpu-cost LOG --write` from the logs of benchmarks/throughput.py
--device cuda (engine model-sequences per second; T = 20, batch 128 per member, input width =
width, 10 outputs at the last step). LOGS: name -> (the committed log, one line per cell, width
and depth: `E=seq/s` per ensemble size measured); tests/test_cost.py checks them against the
logs. START: (log, whole process s, training s) of one GPU training run; the difference is the
start-up one run pays.
"""
'''


def format_rows(rows: Iterable[Mapping[str, Any]]) -> str:
    """`rnn 16 1: 1=32152 8=233263` lines, in the log's order."""
    lines: dict[tuple, list[str]] = {}
    for r in rows:
        key = (r["cell"], int(r["width"]), int(r["depth"]))
        lines.setdefault(key, []).append(f"{int(r['ensemble'])}={round(float(r['model_seq_per_s']))}")
    return "\n".join(f"{c} {n} {L}: " + " ".join(v) for (c, n, L), v in lines.items())


def parse_rows(text: str) -> list[dict[str, Any]]:
    rows = []
    for line in text.strip().splitlines():
        head, _, rest = line.partition(":")
        c, n, L = head.split()
        for item in rest.split():
            E, thr = item.split("=")
            rows.append({"cell": c, "width": int(n), "depth": int(L), "ensemble": int(E),
                         "model_seq_per_s": float(thr)})
    return rows


def render_data(logs: Mapping[str, tuple[str, str]], start: tuple[str, float, float]) -> str:
    """The text of rnncap/plan/gpu_data.py."""
    body = "".join(f'    "{name}": ("{src}", """\\\n{text.strip()}\n"""),\n' for name, (src, text) in logs.items())
    src, total, train = start
    return DATA_DOC + f'\nLOGS = {{\n{body}}}\nSTART = ("{src}", {float(total)}, {float(train)})\n'


def refit(log: str, name: str | None = None, write: bool = False, only: bool = False,
          data_path: str | None = None) -> str:
    """`rnncap fit-gpu-cost`: fit a throughput log, compare with the planning model, and with
    `write` store its rows in rnncap/plan/gpu_data.py (or `data_path`) under `name`, replacing
    a log of that name (`only`: dropping the others), so that the plan is refitted with them."""
    import importlib
    from pathlib import Path

    from . import gpu_data

    text = Path(log).read_text()
    rows = parse_log(text)
    if not rows:
        raise ValueError(f"{log}: no throughput rows (benchmarks/throughput.py --device cuda [--json])")
    name = name or device_name(text)
    if not name:
        raise ValueError(f"{log}: no GPU name in the log; give one with --name")
    old = planning_cost()
    out = [f"{name} alone: {describe_fit(fit_gpu(rows, label=name), rows)}",
           f"planning model ({old.label}) on this log: {describe_fit(old, rows)}"]
    if write:
        logs = {} if only else dict(gpu_data.LOGS)
        logs[name] = (log, format_rows(rows))
        target = Path(data_path or gpu_data.__file__)
        target.write_text(render_data(logs, gpu_data.START))
        if data_path is None:
            importlib.reload(gpu_data)
            planning_cost.cache_clear()
        new = fit_logs(logs, gpu_data.START)
        all_rows = [r for _, t in logs.values() for r in parse_rows(t)]
        out.append(f"wrote {target}; planning model now {new.label}: {describe_fit(new, all_rows)}")
    return "\n".join(out)
