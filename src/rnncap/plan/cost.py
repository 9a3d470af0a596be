"""The cost model: modelled core-hours, memory and wall time of a training job.

A planning estimate, not a promise; calibrate with `cost:` in the config. One training
step of an ensemble of E members (width n, depth L, G gate blocks, T time steps,
minibatch B) on one core costs

    t_step = T * L * overhead_us * 1e-6                 # ~25 small ops per layer and time step
           + T * L * E * B * (G+1) * n * elem_ns * 1e-9  # elementwise gate math, fwd + bwd
           + T * E * B * K * G * n * gather_ns * 1e-9    # one-hot ("index") inputs: K rows gathered
           + 6 * E * B * M / rate(n)                     # matmuls: forward 2, backward 4 FLOP per MAC

with M the multiply-adds of one sequence: T * sum over layers of G*n*(n_x + n) (n_x = 0
for index inputs) + R * n_out * n for the R read-out steps. A core's matmul rate grows with
the matrices:

    rate(n) = max(flops_per_s, GEMM_PEAK_FLOPS * n / (n + GEMM_HALF_WIDTH))

`flops_per_s` is what the small widths the defaults were fitted to reach; wider layers run
at up to 100 GFLOP/s (`cpu_matmul_rate`). A run trains ceil(trials/E) ensembles, each for
the upper end of the `steps` range (an ensemble runs until its longest member is done):

    core_seconds = job_overhead_s
                 + ceil(trials/E) * (batch_overhead_s + steps_hi * t_step * (1 + eval_fraction))

Under `search.halving` the steps of a batch are split at its rungs and each segment
costs t_step of the members still alive in it (`alive_segments`).

The defaults were fitted to six runs of this engine (`rnncap train`, 8 members, 300-1000
steps; capacity, memory, RCF, parentheses, arithmetic; widths 11-17, depth 1-2) on a
2-core AVX-512 CPU shared with other work: 1.1-1.35x the measured wall time (conservative).
Small models are overhead- and elementwise-bound, so the cost grows much more slowly than
the parameter count until width reaches the hundreds. The rate curve comes from the
committed throughput log of that CPU (docs/benchmarks/throughput-cpu.txt, 1 thread): the
all-in GFLOP/s of its E=8 depth-1 rows (the whole step counted at 6 FLOP per MAC) are 15-27
at width 16, 53-62 at 64 and 74-93 at 256, the curve's 24, 56 and 84. With one rate for all
widths (25 GFLOP/s) the model planned width-256 steps at 3-4x their measured time and the
paper's grid (widths up to ~1000) at ~2.5x; now 0.9-1.6x. The estimate is CPU core-hours;
GPU-hours come from rnncap.plan.gpu_cost, and `describe` prints both.

The task sizes (n_in, n_out, T, R, K, input kind) come from `Task.facts`.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping

import pandas as pd

from ..hpspace import apply_overrides
from ..model.cells import spec as cell_spec
from ..tasks import TaskFacts
from .experiment import search_dims


GEMM_PEAK_FLOPS = 1.0e11  # one core's fp32 matmul rate on wide layers (docs/benchmarks/throughput-cpu.txt)
GEMM_HALF_WIDTH = 50      # the width at which it reaches half of that


def cpu_matmul_rate(width: int, cost: Mapping[str, float]) -> float:
    """FLOP/s of one core on the matmuls of a layer of this width (see the module doc)."""
    return max(cost["flops_per_s"], GEMM_PEAK_FLOPS * width / (width + GEMM_HALF_WIDTH))


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


def step_seconds(cell: str, width: int, depth: int, macs: int, facts: TaskFacts, batch: int, ensemble: int,
                 cost: Mapping[str, float]) -> float:
    """Modelled wall seconds of one training step of one ensemble on one core."""
    G, T, EB = cell_spec(cell).G, facts.seq_len, ensemble * batch
    t = T * depth * cost["overhead_us"] * 1e-6
    t += T * depth * EB * (G + 1) * width * cost["elem_ns"] * 1e-9
    if facts.input_kind == "index":
        t += T * EB * facts.active_inputs * G * width * cost["gather_ns"] * 1e-9
    return t + 6.0 * macs * EB / cpu_matmul_rate(width, cost)


def train_rows(facts: TaskFacts, cell: str, search: Mapping[str, Any]) -> Callable[[int], int]:
    """params -> rows one member trains on per step, for one (experiment, cell).

    The capacity task trains full-batch whenever its set of b = b_ratio * params samples
    fits in batch_size (tasks/capacity.py), so a batch_size sized for a sweep's largest
    set costs each run only its own largest b.
    """
    batch = int(search["batch_size"])
    if facts.task != "capacity":
        return lambda params: batch
    dims = apply_overrides(search_dims(facts.task, cell, (1, 2)), search["fixed"], search["ranges"], "search")
    hi = next(float(d.high) for d in dims if d.name == "b_ratio")
    n = int(facts.options["n_samples"])
    return lambda params: max(1, min(batch, math.ceil(hi * params), n))


def run_core_hours(cell: str, width: int, depth: int, facts: TaskFacts, search: Mapping[str, Any],
                   cost: Mapping[str, float], rows: int | None = None) -> float:
    """Modelled core-hours of one run directory (all its trials)."""
    E = max(1, int(search["ensemble"]))
    trials = int(search["trials"])
    macs = sequence_macs(cell, width, depth, facts.n_in, facts.n_out, facts.seq_len, len(facts.readout_steps),
                         facts.input_kind)
    rows = int(search["batch_size"]) if rows is None else rows
    members = min(E, trials)
    train_s = sum(n * step_seconds(cell, width, depth, macs, facts, rows, alive, cost)
                  for n, alive in alive_segments(search, members))
    per_batch = cost["batch_overhead_s"] + train_s * (1.0 + cost["eval_fraction"])
    return (cost["job_overhead_s"] + math.ceil(trials / E) * per_batch) / 3600.0


def alive_segments(search: Mapping[str, Any], members: int) -> list[tuple[int, int]]:
    """(steps, members alive) over a batch that runs to the top of the `steps` range.

    Without `halving`, one segment of all members. With it, the members judged at
    each rung r_i = min_steps * eta**i below it are cut to the best 1/eta (train/halving.py;
    ASHA keeps that share of its population on average), and the stopped ones cost nothing.
    """
    hi = int(search["steps"][1])
    if search.get("halving") is None:
        return [(hi, members)]
    h = search["halving"]
    eta, r, start, alive, out = int(h["eta"]), int(h["min_steps"]), 0, members, []
    while r < hi:
        out.append((r - start, alive))
        start, alive, r = r, max(1, math.ceil(alive / eta)), r * eta
    return out + [(hi - start, alive)]


def train_mem_mb(facts: TaskFacts, search: Mapping[str, Any], width: int, depth: int) -> int:
    """MB of one training job: a base for python+torch, the activations kept for backprop
    (4 float32 per unit, 3x for autograd's copies), the corpus for text8; at most 64 GB."""
    floats = min(search["ensemble"], search["trials"]) * max(search["batch_size"], 1) * facts.seq_len * depth \
        * width * 4 * 3
    mb = 1000 + floats * 4 / 2**20 + (1500 if facts.task == "text8" else 0)
    return int(min(mb, 64000))


def runtime_minutes(core_hours: float, threads: int, attempt: int) -> int:
    """A job's time limit: twice the modelled hours over its threads, at least 10 minutes,
    times the attempt number (a job killed at its limit is resubmitted with more)."""
    hours = core_hours / max(1, int(threads))
    return int(max(10, 2 * 60 * hours + 5)) * attempt


def describe(table: pd.DataFrame, done_mask: Any = None, gpu_label: str = "GPU") -> str:
    """'N training jobs, ~X core-hours estimated on CPU, ~Y GPU-hours on <gpu_label> GPUs' (the
    GPU figure when the table has rnncap.plan.gpu_cost's est_gpu_hours), how many are done
    when known, and per experiment when there are several."""
    gpu = "est_gpu_hours" in table

    def hours(rows: pd.DataFrame, core: str = "core-h", gpus: str = "GPU-h") -> str:
        text = f"~{_fmt_hours(float(rows['est_core_hours'].sum()))} {core}"
        return text + (f", ~{_fmt_hours(float(rows['est_gpu_hours'].sum()))} {gpus}" if gpu else "")

    n = len(table)
    text = f"{n} training jobs, " + hours(table, "core-hours estimated on CPU" if gpu else "core-hours estimated",
                                          f"GPU-hours on {gpu_label} GPUs")
    if done_mask is not None and n:
        done = pd.Series(done_mask, index=table.index).astype(bool)
        text += f" ({int(done.sum())} done; {hours(table[~done])} left)"
    by = table.groupby("experiment", sort=False) if n else None
    if by is not None and by.ngroups > 1:
        text += "; " + ", ".join(f"{e}: {len(r)} jobs {hours(r)}" for e, r in by)
    return text


def _fmt_hours(h: float) -> str:
    if h < 0.1:
        return f"{h:.3f}"
    if h < 10:
        return f"{h:.2f}"
    return f"{h:,.0f}"
