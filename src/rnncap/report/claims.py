"""The paper's headline claims (docs/method.md §1) and the one verdict rule, shared by the scorecard and the
workstation targets of a committed reproduction (`report.targets`).

A claim holds the paper's value, ours, the tolerance and a verdict from `VERDICTS`. Every
measured value comes from the fit's numbers.json; the paper's values are in `paper_values`.
A claim is "not run at this scale" when its role is absent or has too little data to decide.
Tolerances (all explicit, all here):

- C1 bits/param range: every (cell, depth) summary within [3 - 0.5, 6 + 0.5].
- C2 mean bits/param: |grand mean - 5| <= 1.0.
- C3 ordering RNN > UGRNN > GRU > LSTM > +RNN: at most one discordant pair among
  the cells we ran (>= 3 of the five needed), i.e. one adjacent swap.
- C4 IRNN lowest, max ≈ 3.5: IRNN has the lowest mean bits/param and
  |IRNN max - 3.5| <= 0.75.
- C5 ReLU-only RNN/UGRNN ≈ 3.5: for each, ReLU-only max < all-HP max and
  |ReLU-only max - 3.5| <= 0.75.
- C6 unroll: the best bits/param over T > T_min is >= 1.10x that at T_min (rises),
  and the relative change over the last step of T is <= 10% (saturates);
  needs >= 3 unroll lengths.
- C7 memory, n_h >= n_in: max best eval error <= 0.10 (`MEM_ZERO`).
- C8 memory, n_h < n_in: mean |error - max(0, 1 - n_h/n_in)| <= 0.10 (`MEM_CURVE`).
- C9/C10 text8/RCF params not units: cross-cell gap at equal params <= 0.8x the
  gap at equal units (`losscurves.spread`).
- C11-C14 trainability: the claimed cell wins both metrics (best loss at the
  largest budget; area under the best-so-far curve).
- C15 random HPs, IRNN infeasible ≈ half: |% infeasible - 50| <= 20 points.
- C16/C17 random HPs, lowest median loss (GRU at depth 1, +RNN at depth 8).

Tie rule (C11-C14, C16, C17): the claimed cell must have the lowest value to read "reproduced";
within `TIE_MARGIN` (relative) of the lowest the verdict is `TIE`, because the Ours column then
names another cell as best and a plain "reproduced" beside it would contradict it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from .. import paper_values as P
from ..analysis.common import NOT_RUN, label

TIE_MARGIN = 0.10  # relative gap too small to name a winner from one HP search per cell
REPRODUCED = "reproduced"
TIE = f"tie within {TIE_MARGIN:.0%}"
NOT_REPRODUCED = "not reproduced"
VERDICTS = (REPRODUCED, TIE, NOT_REPRODUCED, NOT_RUN)  # best first (see `worst`)

TOL_RANGE = 0.5
TOL_MEAN = 1.0
TOL_IRNN = 0.75
TOL_RELU = 0.75
UNROLL_RISE = 1.10
UNROLL_SAT = 0.10
SPREAD_RATIO = 0.8
TOL_IRNN_INFEASIBLE = 20.0


@dataclass(frozen=True)
class Bound:
    """A pass line on one measured number, `x op value`, with the reason for the value."""

    op: str  # ">=" or "<="
    value: float
    why: str

    def __post_init__(self) -> None:
        if self.op not in (">=", "<="):
            raise ValueError(f"Bound.op must be '>=' or '<=', not {self.op!r}")

    def holds(self, x: float) -> bool:
        """False for a non-finite x: a number we could not measure does not pass."""
        if x is None or not math.isfinite(x):
            return False
        return x >= self.value if self.op == ">=" else x <= self.value

    def __str__(self) -> str:
        return f"{self.op} {self.value:g}"


# memory task: inputs have unit variance, so predicting zero scores 1 per dimension; a tenth of that
MEM_ZERO = Bound("<=", 0.10, "a tenth of the error of predicting zero (unit-variance inputs)")
MEM_CURVE = Bound("<=", 0.10, "a tenth of the reference curve's range (1 at n_h = 0 to 0 at n_h = n_in)")


@dataclass
class Claim:
    id: str
    claim: str
    paper: str
    measured: str
    tolerance: str
    verdict: str
    value: float | None = None


def verdict(ok: bool) -> str:
    return REPRODUCED if ok else NOT_REPRODUCED


def worst(verdicts: Iterable[str]) -> str:
    """The weakest of several verdicts (a claim on two metrics is as good as its worse one)."""
    return max(verdicts, key=VERDICTS.index)


def _f(x: Any, d: int = 2) -> str:
    return "n/a" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.{d}f}"


def _get(n: Mapping, *path, default=None):
    for k in path:
        if not isinstance(n, Mapping) or k not in n:
            return default
        n = n[k]
    return n


def _avail(n: Mapping, key: str) -> bool:
    return bool(_get(n, key, "available", default=False))


def _finite(values: Mapping[str, float | None]) -> dict[str, float]:
    return {k: float(v) for k, v in values.items() if v is not None and math.isfinite(v)}


def standing(values: Mapping[str, float | None], cell: str, margin: float = TIE_MARGIN) -> str:
    """REPRODUCED if `cell` has the lowest value, TIE if within `margin` (relative) of the lowest,
    else NOT_REPRODUCED (also when `cell` has no finite value: it cannot be the best)."""
    vals = _finite(values)
    if cell not in vals:
        return NOT_REPRODUCED
    best = min(vals.values())
    if vals[cell] <= best:
        return REPRODUCED
    return TIE if vals[cell] <= best + margin * abs(best) else NOT_REPRODUCED


def wins(values: Mapping[str, float | None], cell: str, margin: float = TIE_MARGIN) -> bool:
    """`cell` has the lowest value, or ties with it."""
    return standing(values, cell, margin) != NOT_REPRODUCED


def best_of(values: Mapping[str, float | None], cell: str) -> str:
    """The lowest cell by label; when that is not `cell`, how far `cell` is behind (e.g. "LSTM (GRU +5%)")."""
    vals = _finite(values)
    if not vals:
        return "n/a"
    best = min(vals, key=vals.get)
    if cell in vals and vals[cell] <= vals[best]:
        return label(cell)
    if cell not in vals:
        return label(best)
    gap = f"+{(vals[cell] - vals[best]) / abs(vals[best]):.0%}" if vals[best] else f"{vals[cell]:.3g} vs 0"
    return f"{label(best)} ({label(cell)} {gap})"


def discordant_pairs(measured: list[str], reference: tuple[str, ...]) -> int:
    """Pairs of cells ordered differently in `measured` than in `reference` (cells in both only)."""
    common = [c for c in reference if c in measured]
    pos = {c: measured.index(c) for c in common}
    return sum(1 for i, a in enumerate(common) for b in common[i + 1:] if pos[a] > pos[b])


# ---------------------------------------------------------------- claims

def gap(x: float, paper: float, digits: int = 2, unit: str = "") -> str:
    """Our number's distance from the paper's, signed, e.g. "gap −2.47" or "gap +12 points"."""
    return f"gap {x - paper:+.{digits}f}".replace("-", "−") + unit


def c_range(n):
    lo_p, hi_p = P.BPP_RANGE
    paper = f"{lo_p:g}–{hi_p:g}"
    text = f"Capacity is {paper} bits per parameter for every architecture and depth"
    tol = f"all within [{lo_p - TOL_RANGE:g}, {hi_p + TOL_RANGE:g}]"
    if not _avail(n, "capacity"):
        return Claim("C1", text, paper, "n/a", tol, NOT_RUN)
    lo, hi = n["capacity"]["bpp_min"], n["capacity"]["bpp_max"]
    ok = lo >= lo_p - TOL_RANGE and hi <= hi_p + TOL_RANGE
    return Claim("C1", text, paper, f"{_f(lo)}–{_f(hi)}", tol, verdict(ok), lo)


def c_mean(n):
    tol = f"|mean − {P.BPP_MEAN:g}| ≤ {TOL_MEAN:g}"
    text = f"Averaged over architectures and depths, ≈{P.BPP_MEAN:g} bits per parameter"
    if not _avail(n, "capacity"):
        return Claim("C2", text, f"≈{P.BPP_MEAN:g}", "n/a", tol, NOT_RUN)
    m = n["capacity"]["bpp_mean"]
    return Claim("C2", text, f"≈{P.BPP_MEAN:g}", f"{_f(m)} ({gap(m, P.BPP_MEAN)})", tol,
                 verdict(abs(m - P.BPP_MEAN) <= TOL_MEAN), m)


def c_order(n):
    paper = " > ".join(label(c) for c in P.ORDERING)
    tol = "≤ 1 discordant pair (one adjacent swap); ≥ 3 cells"
    text = f"Capacity ordering {paper} (gating slightly reduces capacity)"
    order = [c for c in _get(n, "capacity", "ordering", default=[]) if c in P.ORDERING]
    if not _avail(n, "capacity") or len(order) < 3:
        return Claim("C3", text, paper, " > ".join(label(c) for c in order) or "n/a", tol, NOT_RUN)
    d = discordant_pairs(order, P.ORDERING)
    return Claim("C3", text, paper, " > ".join(label(c) for c in order) + f" ({d} discordant)", tol,
                 verdict(d <= 1), float(d))


def c_irnn(n):
    tol = f"IRNN lowest and |max − {P.IRNN_MAX:g}| ≤ {TOL_IRNN:g}"
    text = f"The IRNN has the lowest capacity, at most ≈{P.IRNN_MAX:g} bits per parameter"
    means = _get(n, "capacity", "bpp_by_cell", default={})
    mx = _get(n, "capacity", "irnn_max")
    if not _avail(n, "capacity") or "irnn" not in means or mx is None or len(means) < 2:
        return Claim("C4", text, f"max ≈{P.IRNN_MAX:g}", "n/a", tol, NOT_RUN)
    lowest = min(means, key=means.get) == "irnn"
    ok = lowest and abs(mx - P.IRNN_MAX) <= TOL_IRNN
    return Claim("C4", text, f"max ≈{P.IRNN_MAX:g}, lowest",
                 f"max {_f(mx)} ({gap(mx, P.IRNN_MAX)}), {'lowest' if lowest else 'not lowest'}", tol,
                 verdict(ok), mx)


def c_relu(n):
    tol = f"ReLU max < all-HP max and |ReLU max − {P.RELU_MAX:g}| ≤ {TOL_RELU:g}, each cell"
    text = f"With ReLU only, the RNN and UGRNN fall to ≈{P.RELU_MAX:g} bits per parameter"
    by = _get(n, "relu", "by_cell", default={})
    cells = [c for c in ("rnn", "ugrnn") if c in by and by[c].get("relu") is not None]
    if not _avail(n, "relu") or not cells:
        return Claim("C5", text, f"≈{P.RELU_MAX:g}", "n/a", tol, NOT_RUN)
    ok = all(by[c]["relu"] < by[c]["all"] and abs(by[c]["relu"] - P.RELU_MAX) <= TOL_RELU for c in cells)
    meas = "; ".join(f"{label(c)} {_f(by[c]['relu'])} ({gap(by[c]['relu'], P.RELU_MAX)}; all HPs {_f(by[c]['all'])})"
                     for c in cells)
    return Claim("C5", text, f"≈{P.RELU_MAX:g}", meas, tol, verdict(ok), max(by[c]["relu"] for c in cells))


def c_unroll(n):
    tol = f"best over T>T_min ≥ {UNROLL_RISE:g}× T_min; last step changes ≤ {UNROLL_SAT:.0%}; ≥ 3 lengths"
    text = "Capacity rises for a few unrolling steps beyond one, then saturates"
    curve = _get(n, "unroll", "curve", default={})
    if not _avail(n, "unroll") or len(curve) < 3:
        return Claim("C6", text, "rises, then saturates", "n/a", tol, NOT_RUN)
    Ts = sorted(curve, key=int)
    v = [curve[t] for t in Ts]
    rises = max(v[1:]) >= UNROLL_RISE * v[0]
    last = abs(v[-1] - v[-2]) / abs(v[-1]) if v[-1] else math.inf
    meas = ", ".join(f"T={t}: {_f(x)}" for t, x in zip(Ts, v)) + f" (last step {last:.0%})"
    return Claim("C6", text, "rises, then saturates", meas, tol, verdict(rises and last <= UNROLL_SAT), last)


def c_mem_zero(n):
    tol = f"max error ≤ {MEM_ZERO.value:g} (per-dim MSE, unit-variance inputs)"
    text = "Memory task: reconstruction error ≈ 0 when n_h ≥ n_in, every cell and depth"
    m = n.get("memory", {})
    if not m.get("available") or not m.get("n_points_at_or_above"):
        return Claim("C7", text, "≈0", "n/a", tol, NOT_RUN)
    x = m["max_error_at_or_above"]
    return Claim("C7", text, "≈0", f"max {_f(x, 3)} over {m['n_points_at_or_above']} points", tol,
                 verdict(MEM_ZERO.holds(x)), x)


def c_mem_curve(n):
    tol = f"mean |error − reference| ≤ {MEM_CURVE.value:g}"
    text = "Memory task: for n_h < n_in all cells follow max(0, 1 − n_h/n_in)"
    m = n.get("memory", {})
    if not m.get("available") or not m.get("n_points_below"):
        return Claim("C8", text, "on the curve", "n/a", tol, NOT_RUN)
    x = m["mean_abs_dev_below"]
    return Claim("C8", text, "on the curve", f"mean |dev| {_f(x, 3)} over {m['n_points_below']} points", tol,
                 verdict(MEM_CURVE.holds(x)), x)


def c_spread(task: str, cid: str) -> Callable[[Mapping], Claim]:
    def claim(n):
        tol = f"gap at equal params ≤ {SPREAD_RATIO:g}× gap at equal units"
        name = {"text8": "text8", "rcf": "RCF"}[task]
        text = f"{name}: loss is set by the number of parameters, not units (cells overlap at equal params)"
        r = _get(n, task, "spread_ratio")
        if not _avail(n, task) or r is None:
            return Claim(cid, text, "params, not units", "n/a", tol, NOT_RUN)
        t = n[task]
        meas = f"gap {_f(t['spread_params'], 3)} at equal params vs {_f(t['spread_units'], 3)} at equal units"
        return Claim(cid, text, "params, not units", meas, tol, verdict(r <= SPREAD_RATIO), r)
    return claim


def c_train(task: str, depth: int, cid: str) -> Callable[[Mapping], Claim]:
    def claim(n):
        cell = P.TRAINABLE_BEST[depth]
        tol = f"{label(cell)} best on both metrics; within {TIE_MARGIN:.0%} of the best is a tie"
        text = f"{task.capitalize()}, depth {depth}: the {label(cell)} is the most trainable"
        e = _get(n, task, "by_depth", str(depth))
        if not _avail(n, task) or not e or cell not in e.get("losses", {}):
            return Claim(cid, text, label(cell), "n/a", tol, NOT_RUN)
        losses, tuning = e["losses"], e.get("tuning", {})
        meas = f"best loss: {best_of(losses, cell)}; fastest tuning: {best_of(tuning, cell)}"
        return Claim(cid, text, label(cell), meas, tol, worst([standing(losses, cell), standing(tuning, cell)]))
    return claim


def c_irnn_random(n):
    tol = f"|% infeasible − {P.IRNN_RANDOM_INFEASIBLE:g}| ≤ {TOL_IRNN_INFEASIBLE:g} points"
    text = "Random HPs: the IRNN is infeasible nearly half of the time"
    paper = f"≈{P.IRNN_RANDOM_INFEASIBLE:.0f}%"
    x = _get(n, "random_hp", "irnn_pct_infeasible")
    if not _avail(n, "random_hp") or x is None:
        return Claim("C15", text, paper, "n/a", tol, NOT_RUN)
    return Claim("C15", text, paper, f"{x:.0f}% ({gap(x, P.IRNN_RANDOM_INFEASIBLE, 0, ' points')})", tol,
                 verdict(abs(x - P.IRNN_RANDOM_INFEASIBLE) <= TOL_IRNN_INFEASIBLE), x)


def c_random_best(depth: int, cid: str) -> Callable[[Mapping], Claim]:
    def claim(n):
        cell = P.RANDOM_BEST_MEDIAN[depth]
        tol = f"lowest median; within {TIE_MARGIN:.0%} of it is a tie"
        text = f"Random HPs, depth {depth}: the {label(cell)} has the lowest median loss"
        e = _get(n, "random_hp", "by_depth", str(depth))
        if not _avail(n, "random_hp") or not e or cell not in e.get("median", {}):
            return Claim(cid, text, label(cell), "n/a", tol, NOT_RUN)
        return Claim(cid, text, label(cell), f"lowest: {best_of(e['median'], cell)}", tol,
                     standing(e["median"], cell))
    return claim


# the figure/table role whose experiments decide each claim (config `roles`)
ROLES = {"C1": "capacity", "C2": "capacity", "C3": "capacity", "C4": "capacity", "C5": "capacity",
         "C6": "unroll", "C7": "memory", "C8": "memory", "C9": "text8", "C10": "rcf",
         "C11": "parentheses", "C12": "parentheses", "C13": "arithmetic", "C14": "arithmetic",
         "C15": "random_hp", "C16": "random_hp", "C17": "random_hp"}

CLAIMS: list[Callable[[Mapping], Claim]] = [
    c_range, c_mean, c_order, c_irnn, c_relu, c_unroll, c_mem_zero, c_mem_curve,
    c_spread("text8", "C9"), c_spread("rcf", "C10"),
    c_train("parentheses", 1, "C11"), c_train("parentheses", 8, "C12"),
    c_train("arithmetic", 1, "C13"), c_train("arithmetic", 8, "C14"),
    c_irnn_random, c_random_best(1, "C16"), c_random_best(8, "C17"),
]


def evaluate(numbers: Mapping) -> list[Claim]:
    """Every claim on one fit's numbers.json, in C1..C17 order."""
    return [f(numbers) for f in CLAIMS]
