"""`rnncap tables`: the paper's tables as LaTeX (booktabs) and Markdown, from the fits.

Written (each as NAME.tex and NAME.md):
- table1_random_hp   Table 1: random HPs, % infeasible, min / median eval loss per cell and depth
- tableA1_rerun      Table App.1: best HPs retrained, ours beside the paper's row
- tableA2_welch      Table App.2: Welch t-tests (t / df / p), ours beside the paper's
- fig1i_ratio        Fig. 1i: parameter-count factor bpp(row)/bpp(column)
- capacity_summary   bits/parameter per cell and depth (median over the largest budgets)
A table whose role was not run says so in one row instead of being left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from .. import io
from .. import paper_values as P
from ..analysis.common import CELL_ORDER, NOT_RUN, cell_sort_key, label
from . import markdown

DASH = "—"


@dataclass
class Table:
    name: str
    title: str
    caption: str
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    align: str = ""  # LaTeX column spec; default l then r...
    note: str = ""

    def colspec(self) -> str:
        return self.align or "l" + "r" * (len(self.header) - 1)


def fmt(x: Any, digits: int = 3) -> str:
    """3 significant digits (trailing zeros kept), integers from 100 up, scientific below 0.01; NaN -> —."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return DASH
    if isinstance(x, str):
        return x
    x = float(x)
    if x == 0:
        return "0"
    if abs(x) < 1e-2 or abs(x) >= 1e6:
        return f"{x:.{digits - 1}e}"
    if abs(x) >= 10 ** (digits - 1):
        return f"{x:.0f}"
    out = f"{x:#.{digits}g}"
    return out[:-1] if out.endswith(".") else out


def fmt_p(p: Any) -> str:
    if isinstance(p, str):
        return p
    if p is None or not math.isfinite(float(p)):
        return DASH
    return "<0.001" if p < 1e-3 else fmt(p)


def fmt_pct(x: Any) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return DASH
    return f"{float(x):.0f}%"


# ---------------------------------------------------------------- builders

def table1(fits: Mapping[str, pd.DataFrame]) -> Table:
    s = fits["random_hp_summary"]
    t = Table("table1_random_hp", "Table 1", "Random HPs on the parentheses task: share of infeasible draws, "
              "minimum and median evaluation loss of the feasible draws.",
              ["Arch", "Depth", "Budget", "Draws", "Infeasible", "Min", "Median"])
    s = s.assign(_c=s["cell"].map(cell_sort_key)).sort_values(["depth", "_c"]) if len(s) else s
    for r in s.itertuples():
        t.rows.append([label(r.cell), str(int(r.depth)), str(int(r.budget)), str(int(r.n)),
                       fmt_pct(r.pct_infeasible), fmt(r.min), fmt(r.median)])
    return t


def tableA1(fits: Mapping[str, pd.DataFrame]) -> Table:
    s = fits["rerun_best"]
    t = Table("tableA1_rerun", "Table App.1", "Best HPs retrained with new seeds: evaluation loss of the "
              "feasible reruns; the paper's row (100 reruns, 100k params, depth 1) below ours.",
              ["Arch", "Source", "Original", "Infeasible", "Min", "Mean", "Max", "SD", "SD/mean"], align="llrrrrrrr")
    cells = list(s["cell"]) if len(s) else []
    for r in s.itertuples():
        t.rows.append([label(r.cell), f"ours (n={int(r.n)})", fmt(r.original), fmt_pct(r.pct_infeasible),
                       fmt(r.min), fmt(r.mean), fmt(r.max), fmt(r.sd), fmt(r.sd_over_mean)])
        if r.cell in P.TABLE_A1:
            t.rows.append(_paper_a1(r.cell))
    for c in P.TABLE_A1:
        if c not in cells:
            t.rows.append(_paper_a1(c))
    return t


def _paper_a1(cell: str) -> list[str]:
    p = P.TABLE_A1[cell]
    return [label(cell), "paper", fmt(p["original"]), fmt_pct(p["pct_infeasible"]), fmt(p["min"]),
            fmt(p["mean"]), fmt(p["max"]), fmt(p["sd"]), fmt(p["sd_over_mean"])]


def tableA2(fits: Mapping[str, pd.DataFrame]) -> Table:
    w = fits["random_hp_welch"]
    depths = sorted({int(d) for d in w["depth"]}) if len(w) else [1, 8]
    paper_depths = sorted({d for v in P.TABLE_A2.values() for d in v})
    all_depths = sorted(set(depths) | set(paper_depths))
    header = ["Pair"]
    for d in all_depths:
        header += [f"{d} layer{'s' if d > 1 else ''} (ours)", f"{d} layer{'s' if d > 1 else ''} (paper)"]
    t = Table("tableA2_welch", "Table App.2", "Welch's t-tests on the random-HP evaluation losses: "
              "t / df / p; a negative t means the second architecture's mean loss is larger.", header,
              align="l" + "c" * (len(header) - 1))
    ours = {(r.cell_a, r.cell_b, int(r.depth)): (r.t, r.df, r.p) for r in w.itertuples()}
    pairs = list(dict.fromkeys([(a, b) for a, b, _ in ours] + list(P.TABLE_A2)))
    pairs.sort(key=lambda ab: (label(ab[0]), label(ab[1])))
    for a, b in pairs:
        row = [f"{label(a)}/{label(b)}"]
        for d in all_depths:
            o = ours.get((a, b, d))
            row.append(f"{fmt(o[0])} / {fmt(o[1])} / {fmt_p(o[2])}" if o and math.isfinite(o[0]) else DASH)
            p = P.TABLE_A2.get((a, b), {}).get(d)
            row.append(f"{fmt(p[0])} / {p[1]} / {fmt_p(p[2])}" if p else DASH)
        t.rows.append(row)
    return t


def ratio(fits: Mapping[str, pd.DataFrame]) -> Table:
    r = fits["capacity_ratio"]
    cells = [c for c in CELL_ORDER if c in set(r["cell_a"])] if len(r) else []
    t = Table("fig1i_ratio", "Fig. 1i", "Parameter-count factor to switch from the row architecture to the column "
              "architecture at equal capacity: bits/param(row) / bits/param(column).",
              ["From → to"] + [label(c) for c in cells])
    look = {(x.cell_a, x.cell_b): x.ratio for x in r.itertuples()}
    for a in cells:
        t.rows.append([label(a)] + [fmt(look.get((a, b))) for b in cells])
    return t


def capacity_summary(fits: Mapping[str, pd.DataFrame]) -> Table:
    s = fits["capacity_summary"]
    depths = sorted({int(d) for d in s["depth"]}) if len(s) else []
    t = Table("capacity_summary", "Capacity summary", "Bits per parameter per architecture and depth: median over the two "
              f"largest budgets of the best MI / params (paper: {P.BPP_RANGE[0]:g}-{P.BPP_RANGE[1]:g}, "
              f"≈{P.BPP_MEAN:g} on average).",
              ["Arch"] + [f"depth {d}" for d in depths] + ["mean"])
    for c in [c for c in CELL_ORDER if c in set(s["cell"])]:
        g = s[s["cell"] == c]
        vals = {int(x.depth): x.bits_per_param for x in g.itertuples()}
        t.rows.append([label(c)] + [fmt(vals.get(d)) for d in depths] + [fmt(g["bits_per_param"].mean())])
    if len(s):
        t.rows.append(["all"] + [fmt(s[s["depth"] == d]["bits_per_param"].mean()) for d in depths]
                      + [fmt(s["bits_per_param"].mean())])
    return t


BUILDERS = {"table1_random_hp": table1, "tableA1_rerun": tableA1, "tableA2_welch": tableA2,
            "fig1i_ratio": ratio, "capacity_summary": capacity_summary}
# the role each table needs, for the "not run at this scale" row
NEEDS = {"table1_random_hp": "random_hp_summary", "tableA1_rerun": "rerun_best",
         "tableA2_welch": "random_hp_welch", "fig1i_ratio": "capacity_ratio", "capacity_summary": "capacity_summary"}


def build_all(fits: Mapping[str, pd.DataFrame]) -> list[Table]:
    out = []
    for name, f in BUILDERS.items():
        t = f(fits)
        if fits[NEEDS[name]].empty:
            t.note = NOT_RUN
        out.append(t)
    return out


# ---------------------------------------------------------------- renderers

def to_markdown(t: Table) -> str:
    lines = [f"**{t.title}.** {t.caption}", "", markdown.table(t.header, t.rows, t.colspec())]
    if t.note:
        lines += ["", f"*Ours: {t.note}.*"]
    return "\n".join(lines) + "\n"


_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
        "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
        "—": "---", "→": r"$\to$", "≈": r"$\approx$", "<": r"$<$", ">": r"$>$"}


def tex_escape(s: str) -> str:
    return "".join(_TEX.get(ch, ch) for ch in s)


def to_latex(t: Table) -> str:
    lines = [r"\begin{table}[t]", r"\centering", r"\small",
             rf"\caption{{{tex_escape(t.title)}: {tex_escape(t.caption)}}}", rf"\label{{tab:{t.name.replace('_', '-')}}}",
             rf"\begin{{tabular}}{{{t.colspec()}}}", r"\toprule",
             " & ".join(tex_escape(h) for h in t.header) + r" \\", r"\midrule"]
    lines += [" & ".join(tex_escape(c) for c in r) + r" \\" for r in t.rows]
    if t.note:
        lines.append(rf"\multicolumn{{{len(t.header)}}}{{l}}{{\emph{{Ours: {tex_escape(t.note)}.}}}} \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def write_all(fits: Mapping[str, pd.DataFrame], out_dir: str | Path) -> list[Path]:
    out_dir = Path(out_dir)
    paths = []
    for t in build_all(fits):
        for ext, render in (("tex", to_latex), ("md", to_markdown)):
            p = out_dir / f"{t.name}.{ext}"
            with io.atomic_path(p) as tmp:
                tmp.write_text(render(t))
            paths.append(p)
    return paths
