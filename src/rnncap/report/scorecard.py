"""`rnncap scorecard`: each headline claim of the paper (spec §1) beside our number and a verdict.

Every measured value comes from the fit's numbers.json; the paper's values are in
`paper_values`. Verdicts: "reproduced", "not reproduced", or "not run at this
scale" (the role is absent or has too little data to decide). Tolerances (all
explicit, all here):

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
- C7 memory, n_h >= n_in: max best eval error <= 0.10 (inputs have unit variance).
- C8 memory, n_h < n_in: mean |error - max(0, 1 - n_h/n_in)| <= 0.10.
- C9/C10 text8/RCF params not units: cross-cell gap at equal params <= 0.8x the
  gap at equal units (`losscurves.spread`).
- C11-C14 trainability: the claimed cell wins both metrics (best loss at the
  largest budget; area under the best-so-far curve); a value within 10% of the
  best counts as a win (tie).
- C15 random HPs, IRNN infeasible ≈ half: |% infeasible - 50| <= 20 points.
- C16/C17 random HPs, lowest median loss (GRU at depth 1, +RNN at depth 8), 10% tie rule.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from .. import io
from .. import paper_values as P
from ..analysis.common import label

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
NOT_RUN = "not run at this scale"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, NOT_RUN)

TOL_RANGE = 0.5
TOL_MEAN = 1.0
TOL_IRNN = 0.75
TOL_RELU = 0.75
UNROLL_RISE = 1.10
UNROLL_SAT = 0.10
TOL_MEM_ZERO = 0.10
TOL_MEM_CURVE = 0.10
SPREAD_RATIO = 0.8
TIE = 0.10
TOL_IRNN_INFEASIBLE = 20.0


@dataclass
class Claim:
    id: str
    claim: str
    paper: str
    measured: str
    tolerance: str
    verdict: str
    value: float | None = None


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


def wins(values: Mapping[str, float], cell: str, tie: float = TIE) -> bool:
    """`cell` has the lowest value, or is within `tie` (relative) of the lowest."""
    vals = {k: v for k, v in values.items() if v is not None and math.isfinite(v)}
    if cell not in vals:
        return False
    best = min(vals.values())
    return vals[cell] <= best + tie * abs(best)


def discordant_pairs(measured: list[str], reference: tuple[str, ...]) -> int:
    """Pairs of cells ordered differently in `measured` than in `reference` (cells in both only)."""
    common = [c for c in reference if c in measured]
    pos = {c: measured.index(c) for c in common}
    return sum(1 for i, a in enumerate(common) for b in common[i + 1:] if pos[a] > pos[b])


# ---------------------------------------------------------------- claims

def c_range(n):
    paper = f"{P.BPP_RANGE[0]:g}–{P.BPP_RANGE[1]:g}"
    tol = f"all within [{P.BPP_RANGE[0] - TOL_RANGE:g}, {P.BPP_RANGE[1] + TOL_RANGE:g}]"
    if not _avail(n, "capacity"):
        return Claim("C1", "Capacity is 3–6 bits per parameter for every architecture and depth",
                     paper, "n/a", tol, NOT_RUN)
    lo, hi = n["capacity"]["bpp_min"], n["capacity"]["bpp_max"]
    ok = lo >= P.BPP_RANGE[0] - TOL_RANGE and hi <= P.BPP_RANGE[1] + TOL_RANGE
    return Claim("C1", "Capacity is 3–6 bits per parameter for every architecture and depth", paper,
                 f"{_f(lo)}–{_f(hi)}", tol, REPRODUCED if ok else NOT_REPRODUCED, lo)


def c_mean(n):
    tol = f"|mean − {P.BPP_MEAN:g}| ≤ {TOL_MEAN:g}"
    text = "Averaged over architectures and depths, ≈5 bits per parameter"
    if not _avail(n, "capacity"):
        return Claim("C2", text, f"≈{P.BPP_MEAN:g}", "n/a", tol, NOT_RUN)
    m = n["capacity"]["bpp_mean"]
    return Claim("C2", text, f"≈{P.BPP_MEAN:g}", _f(m), tol,
                 REPRODUCED if abs(m - P.BPP_MEAN) <= TOL_MEAN else NOT_REPRODUCED, m)


def c_order(n):
    paper = " > ".join(label(c) for c in P.ORDERING)
    tol = "≤ 1 discordant pair (one adjacent swap); ≥ 3 cells"
    text = "Capacity ordering RNN > UGRNN > GRU > LSTM > +RNN (gating slightly reduces capacity)"
    order = [c for c in _get(n, "capacity", "ordering", default=[]) if c in P.ORDERING]
    if not _avail(n, "capacity") or len(order) < 3:
        return Claim("C3", text, paper, " > ".join(label(c) for c in order) or "n/a", tol, NOT_RUN)
    d = discordant_pairs(order, P.ORDERING)
    return Claim("C3", text, paper, " > ".join(label(c) for c in order) + f" ({d} discordant)", tol,
                 REPRODUCED if d <= 1 else NOT_REPRODUCED, float(d))


def c_irnn(n):
    tol = f"IRNN lowest and |max − {P.IRNN_MAX:g}| ≤ {TOL_IRNN:g}"
    text = "The IRNN has the lowest capacity, at most ≈3.5 bits per parameter"
    means = _get(n, "capacity", "bpp_by_cell", default={})
    mx = _get(n, "capacity", "irnn_max")
    if not _avail(n, "capacity") or "irnn" not in means or mx is None or len(means) < 2:
        return Claim("C4", text, f"max ≈{P.IRNN_MAX:g}", "n/a", tol, NOT_RUN)
    lowest = min(means, key=means.get) == "irnn"
    ok = lowest and abs(mx - P.IRNN_MAX) <= TOL_IRNN
    return Claim("C4", text, f"max ≈{P.IRNN_MAX:g}, lowest",
                 f"max {_f(mx)}, {'lowest' if lowest else 'not lowest'}", tol,
                 REPRODUCED if ok else NOT_REPRODUCED, mx)


def c_relu(n):
    tol = f"ReLU max < all-HP max and |ReLU max − {P.RELU_MAX:g}| ≤ {TOL_RELU:g}, each cell"
    text = "With ReLU only, the RNN and UGRNN fall to ≈3.5 bits per parameter"
    by = _get(n, "relu", "by_cell", default={})
    cells = [c for c in ("rnn", "ugrnn") if c in by and by[c].get("relu") is not None]
    if not _avail(n, "relu") or not cells:
        return Claim("C5", text, f"≈{P.RELU_MAX:g}", "n/a", tol, NOT_RUN)
    ok = all(by[c]["relu"] < by[c]["all"] and abs(by[c]["relu"] - P.RELU_MAX) <= TOL_RELU for c in cells)
    meas = "; ".join(f"{label(c)} {_f(by[c]['relu'])} (all HPs {_f(by[c]['all'])})" for c in cells)
    return Claim("C5", text, f"≈{P.RELU_MAX:g}", meas, tol, REPRODUCED if ok else NOT_REPRODUCED,
                 max(by[c]["relu"] for c in cells))


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
    sat = last <= UNROLL_SAT
    meas = ", ".join(f"T={t}: {_f(x)}" for t, x in zip(Ts, v)) + f" (last step {last:.0%})"
    return Claim("C6", text, "rises, then saturates", meas, tol,
                 REPRODUCED if (rises and sat) else NOT_REPRODUCED, last)


def c_mem_zero(n):
    tol = f"max error ≤ {TOL_MEM_ZERO:g} (per-dim MSE, unit-variance inputs)"
    text = "Memory task: reconstruction error ≈ 0 when n_h ≥ n_in, every cell and depth"
    m = n.get("memory", {})
    if not m.get("available") or not m.get("n_points_at_or_above"):
        return Claim("C7", text, "≈0", "n/a", tol, NOT_RUN)
    x = m["max_error_at_or_above"]
    return Claim("C7", text, "≈0", f"max {_f(x, 3)} over {m['n_points_at_or_above']} points", tol,
                 REPRODUCED if x <= TOL_MEM_ZERO else NOT_REPRODUCED, x)


def c_mem_curve(n):
    tol = f"mean |error − reference| ≤ {TOL_MEM_CURVE:g}"
    text = "Memory task: for n_h < n_in all cells follow max(0, 1 − n_h/n_in)"
    m = n.get("memory", {})
    if not m.get("available") or not m.get("n_points_below"):
        return Claim("C8", text, "on the curve", "n/a", tol, NOT_RUN)
    x = m["mean_abs_dev_below"]
    return Claim("C8", text, "on the curve", f"mean |dev| {_f(x, 3)} over {m['n_points_below']} points", tol,
                 REPRODUCED if x <= TOL_MEM_CURVE else NOT_REPRODUCED, x)


def c_spread(task: str, cid: str):
    def claim(n):
        tol = f"gap at equal params ≤ {SPREAD_RATIO:g}× gap at equal units"
        name = {"text8": "text8", "rcf": "RCF"}[task]
        text = f"{name}: loss is set by the number of parameters, not units (cells overlap at equal params)"
        r = _get(n, task, "spread_ratio")
        if not _avail(n, task) or r is None:
            return Claim(cid, text, "params, not units", "n/a", tol, NOT_RUN)
        t = n[task]
        meas = f"gap {_f(t['spread_params'], 3)} at equal params vs {_f(t['spread_units'], 3)} at equal units"
        return Claim(cid, text, "params, not units", meas, tol,
                     REPRODUCED if r <= SPREAD_RATIO else NOT_REPRODUCED, r)
    return claim


def c_train(task: str, depth: int, cid: str):
    def claim(n):
        cell = P.TRAINABLE_BEST[depth]
        tol = f"{label(cell)} best on both metrics (within {TIE:.0%} of the best counts)"
        text = f"{task.capitalize()}, depth {depth}: the {label(cell)} is the most trainable"
        e = _get(n, task, "by_depth", str(depth))
        if not _avail(n, task) or not e or cell not in e.get("losses", {}):
            return Claim(cid, text, label(cell), "n/a", tol, NOT_RUN)
        ok = wins(e["losses"], cell) and wins(e.get("tuning", {}), cell)
        bl, bt = e.get("best_cell_loss"), e.get("best_cell_tuning")
        meas = f"best loss: {label(bl) if bl else 'n/a'}; fastest tuning: {label(bt) if bt else 'n/a'}"
        return Claim(cid, text, label(cell), meas, tol, REPRODUCED if ok else NOT_REPRODUCED)
    return claim


def c_irnn_random(n):
    tol = f"|% infeasible − {P.IRNN_RANDOM_INFEASIBLE:g}| ≤ {TOL_IRNN_INFEASIBLE:g} points"
    text = "Random HPs: the IRNN is infeasible nearly half of the time"
    x = _get(n, "random_hp", "irnn_pct_infeasible")
    if not _avail(n, "random_hp") or x is None:
        return Claim("C15", text, "≈50%", "n/a", tol, NOT_RUN)
    return Claim("C15", text, "≈50%", f"{x:.0f}%", tol,
                 REPRODUCED if abs(x - P.IRNN_RANDOM_INFEASIBLE) <= TOL_IRNN_INFEASIBLE else NOT_REPRODUCED, x)


def c_random_best(depth: int, cid: str):
    def claim(n):
        cell = P.RANDOM_BEST_MEDIAN[depth]
        tol = f"lowest median (within {TIE:.0%} counts)"
        text = f"Random HPs, depth {depth}: the {label(cell)} has the lowest median loss"
        e = _get(n, "random_hp", "by_depth", str(depth))
        if not _avail(n, "random_hp") or not e or cell not in e.get("median", {}):
            return Claim(cid, text, label(cell), "n/a", tol, NOT_RUN)
        b = e.get("best_median")
        return Claim(cid, text, label(cell), f"lowest: {label(b) if b else 'n/a'}", tol,
                     REPRODUCED if wins(e["median"], cell) else NOT_REPRODUCED)
    return claim


CLAIMS: list[Callable[[Mapping], Claim]] = [
    c_range, c_mean, c_order, c_irnn, c_relu, c_unroll, c_mem_zero, c_mem_curve,
    c_spread("text8", "C9"), c_spread("rcf", "C10"),
    c_train("parentheses", 1, "C11"), c_train("parentheses", 8, "C12"),
    c_train("arithmetic", 1, "C13"), c_train("arithmetic", 8, "C14"),
    c_irnn_random, c_random_best(1, "C16"), c_random_best(8, "C17"),
]


def evaluate(numbers: Mapping) -> list[Claim]:
    return [f(numbers) for f in CLAIMS]


def to_markdown(claims: list[Claim], preset: str) -> str:
    counts = {v: sum(c.verdict == v for c in claims) for v in VERDICTS}
    lines = ["# Reproduction scorecard", ""]
    if preset != "paper":
        lines += [f"**Reduced scale: preset `{preset}`.** Far fewer HP evaluations, budgets and seeds than the "
                  "paper; a verdict here says what this run shows, not what the full grid would.", ""]
    else:
        lines += ["Preset `paper`: the paper's grid.", ""]
    lines += [f"{counts[REPRODUCED]} reproduced, {counts[NOT_REPRODUCED]} not reproduced, "
              f"{counts[NOT_RUN]} not run at this scale (of {len(claims)} claims).", "",
              "| # | Claim | Paper | Ours | Tolerance | Verdict |", "|---|---|---|---|---|---|"]
    for c in claims:
        cells = [c.id, c.claim, c.paper, c.measured, c.tolerance, f"**{c.verdict}**"]
        lines.append("| " + " | ".join(s.replace("|", "\\|") for s in cells) + " |")
    lines += ["", "Tolerances and metrics are defined in `src/rnncap/analysis/scorecard.py`; "
              "measured values come from `numbers.json` of `rnncap fit`."]
    return "\n".join(lines) + "\n"


def write(numbers: Mapping, preset: str, out_md: str | Path) -> list[Claim]:
    claims = evaluate(numbers)
    out_md = Path(out_md)
    out_csv = out_md.with_suffix(".csv")
    with io.atomic_path(out_csv) as tmp:
        with open(tmp, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=[*asdict(claims[0]).keys(), "preset"])
            w.writeheader()
            for c in claims:
                w.writerow({**asdict(c), "preset": preset})
    with io.atomic_path(out_md) as tmp:
        tmp.write_text(to_markdown(claims, preset))
    return claims


def run(fits_dir: str | Path, preset: str, out_md: str | Path) -> list[Claim]:
    p = Path(fits_dir) / "numbers.json"
    if not p.exists():
        raise FileNotFoundError(f"{p}: no numbers.json (run `rnncap fit` first)")
    return write(json.loads(p.read_text()), preset, out_md)
