"""Figures of the paper, from the CSVs of `rnncap fit` (one function per figure).

Shared style: one fixed colour per cell in every figure (`CELL_COLORS`, the
Okabe–Ito colour-blind-safe palette), one marker per depth, a
"reduced scale: preset NAME" stamp on every figure whose preset is not
"paper", and "not run at this scale" in panels whose role has no data.

The notebooks in workflow/notebooks/ are thin: `fig = plots.figN(plots.load(fits_dir), preset)`
then `plots.save(fig, fig_dir, "figN")`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import colors as mcolors
from matplotlib.lines import Line2D

from .. import io
from ..analysis import fit as _fit
from ..analysis.common import CELL_LABELS, CELL_ORDER
from ..analysis.memory import DEFAULT_N_IN, reference_error

CELL_COLORS: dict[str, str] = {
    "rnn": "#0072B2",    # blue
    "irnn": "#56B4E9",   # sky blue
    "ugrnn": "#009E73",  # bluish green
    "gru": "#E69F00",    # orange
    "lstm": "#D55E00",   # vermillion
    "plus": "#CC79A7",   # reddish purple
}
DEPTH_MARKERS: dict[int, str] = {1: "o", 2: "s", 4: "^", 8: "D"}
NOT_RUN = "not run at this scale"
PAPER_BAND = "#e8e8e8"
LOSS_LABELS = {
    "text8": "eval loss (bits/char)",
    "rcf": "eval loss (weighted squared error)",
    "parentheses": "eval loss (nats)",
    "arithmetic": "eval loss (nats)",
}
FIGURES_LIST = ("fig1", "fig2", "fig3", "fig4", "fig5", "figA1")


# ---------------------------------------------------------------- style helpers

def style() -> None:
    plt.rcParams.update({
        "font.size": 8, "axes.titlesize": 8.5, "axes.labelsize": 8, "legend.fontsize": 7.5,
        "xtick.labelsize": 7, "ytick.labelsize": 7, "axes.spines.top": False, "axes.spines.right": False,
        "axes.grid": True, "grid.color": "#dddddd", "grid.linewidth": 0.5, "lines.linewidth": 1.3,
        "lines.markersize": 4, "figure.dpi": 100, "savefig.dpi": 200, "pdf.fonttype": 42,
        "axes.titlelocation": "left", "legend.frameon": False,
    })


def color(cell: str) -> str:
    return CELL_COLORS.get(cell, "#777777")


def label(cell: str) -> str:
    return CELL_LABELS.get(cell, cell)


def marker(depth: int) -> str:
    return DEPTH_MARKERS.get(int(depth), "v")


def cells_in(*frames: pd.DataFrame) -> list[str]:
    present = set()
    for f in frames:
        if f is not None and len(f) and "cell" in f.columns:
            present |= set(f["cell"])
    return [c for c in CELL_ORDER if c in present]


def stamp(fig: plt.Figure, preset: str) -> None:
    """Mark a figure made at reduced scale (any preset but 'paper')."""
    if preset != "paper":
        # below everything already drawn (axis labels included), right-aligned
        bb = fig.get_tightbbox(fig.canvas.get_renderer())
        w, h = fig.get_figwidth(), fig.get_figheight()
        fig.text(bb.x1 / w, bb.y0 / h - 0.01, f"reduced scale: preset {preset}", ha="right", va="top",
                 fontsize=7, color="#9a0000", style="italic")


def not_run(ax: plt.Axes, text: str = NOT_RUN) -> None:
    """An empty panel that says its experiment was not run."""
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for s in ax.spines.values():
        s.set_visible(True)
        s.set_color("#bbbbbb")
        s.set_linestyle(":")
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="#888888",
            fontsize=8, style="italic")


def cell_legend(fig: plt.Figure, cells: Iterable[str], depths: Iterable[int] = (), y: float = 1.0,
                extra: list | None = None, right: bool = False) -> None:
    """One legend for the whole figure: a colour per cell (and a marker per depth)."""
    handles = [Line2D([], [], color=color(c), marker="o", lw=1.3, ms=4, label=label(c)) for c in cells]
    handles += [Line2D([], [], color="#555555", marker=marker(d), lw=0, ms=4, label=f"depth {d}")
                for d in depths]
    handles += extra or []
    if handles and right:
        fig.legend(handles=handles, loc="center left", bbox_to_anchor=(0.98, 0.5), ncol=1)
    elif handles:
        fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, y), ncol=min(len(handles), 12),
                   handlelength=1.8, columnspacing=1.2)


def panel_title(ax: plt.Axes, letter: str, text: str) -> None:
    ax.set_title(f"({letter}) {text}")


def _compact(v: float, _pos=None) -> str:
    if v <= 0:
        return ""
    for div, suf in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if v >= div:
            x = v / div
            return f"{x:.0f}{suf}" if abs(x - round(x)) < 1e-9 else f"{x:.1f}{suf}"
    return f"{v:g}"


def nice_log_ticks(lo: float, hi: float, max_ticks: int = 6) -> list[float]:
    """Round ticks (1, 2, 5 x 10^k, denser when the range is narrow) inside [lo, hi]."""
    if not (lo > 0 and hi > lo):
        return []
    for mants in ((1, 2, 5), (1, 2, 3, 5), (1, 1.5, 2, 3, 4, 5, 6, 8), (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8, 9)):
        ticks = [m * 10.0 ** k for k in range(int(np.floor(np.log10(lo))) - 1, int(np.ceil(np.log10(hi))) + 1)
                 for m in mants if lo <= m * 10.0 ** k <= hi]
        if len(ticks) >= 2:
            break
    while len(ticks) > max_ticks:
        ticks = ticks[::2]
    return ticks


def log_axis(ax: plt.Axes, which: str = "x") -> None:
    """Log scale with readable round ticks (1k, 2k, 5k...) and no minor labels; call after plotting."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    axis = ax.xaxis if which == "x" else ax.yaxis
    (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    lo, hi = (ax.get_xlim() if which == "x" else ax.get_ylim())
    ticks = nice_log_ticks(lo, hi)
    if ticks:
        axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(FuncFormatter(_compact))
    axis.set_minor_formatter(NullFormatter())


def _log_ok(values) -> bool:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return len(v) > 0 and bool((v > 0).all())


def save(fig: plt.Figure, fig_dir: str | Path, name: str) -> tuple[Path, Path]:
    """Write `{fig_dir}/{name}.pdf` and `.png` atomically; returns both paths."""
    out = []
    for ext in ("pdf", "png"):
        p = Path(fig_dir) / f"{name}.{ext}"
        with io.atomic_path(p) as tmp:
            fig.savefig(tmp, format=ext, bbox_inches="tight")
        out.append(p)
    return out[0], out[1]


@dataclass
class Fits:
    tables: dict[str, pd.DataFrame]
    numbers: dict[str, Any]

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]


def load(fits_dir: str | Path) -> Fits:
    tables, numbers = _fit.read(fits_dir)
    return Fits(tables, numbers)


def _depths(df: pd.DataFrame, paper: Iterable[int]) -> list[int]:
    """The paper's depths for this figure, plus any other depth the data has."""
    return sorted({int(d) for d in df["depth"]} | set(paper)) if len(df) else sorted(paper)


def _data_depths(*frames: pd.DataFrame) -> list[int]:
    return sorted({int(d) for f in frames if len(f) for d in f["depth"]})


def _new(nrows: int, ncols: int, w: float, h: float, **kw):
    style()
    fig, axes = plt.subplots(nrows, ncols, figsize=(w, h), squeeze=False, **kw)
    return fig, axes


# ---------------------------------------------------------------- Fig. 1: capacity

def fig1(fits: Fits, preset: str) -> plt.Figure:
    """(a) best MI vs params, all depths; (b..) per depth; (e) bits/param, all depths; (f..) per depth; (i) ratio table."""
    cb, cr = fits["capacity_best"], fits["capacity_ratio"]
    depths = _depths(cb, (1, 2, 4))
    nd = len(depths)
    style()
    fig = plt.figure(figsize=(2.0 * (nd + 1) + 2.8, 4.9))
    gs = fig.add_gridspec(2, nd + 2, width_ratios=[1] * (nd + 1) + [1.45], wspace=0.38, hspace=0.45)
    letters = iter("abcdefghijklmnop")
    top_axes, bot_axes = [], []
    for row in (0, 1):
        for j in range(nd + 1):
            ax = fig.add_subplot(gs[row, j])
            (top_axes if row == 0 else bot_axes).append(ax)
    # letters in paper order: a, b.. (top), e, f.. (bottom), i (table)
    top_letters = [next(letters) for _ in range(nd + 1)]
    bot_letters = [next(letters) for _ in range(nd + 1)]
    table_letter = next(letters)
    ax_t = fig.add_subplot(gs[:, nd + 1])
    if cb.empty:
        titles = ["all depths"] + [f"depth {d}" for d in depths]
        for ax, lt, title in zip(top_axes + bot_axes, top_letters + bot_letters, titles + titles):
            panel_title(ax, lt, title)
            not_run(ax)
        panel_title(ax_t, table_letter, "param. factor to switch")
        not_run(ax_t)
        stamp(fig, preset)
        return fig
    for j, sel in enumerate([None] + depths):
        d = cb if sel is None else cb[cb["depth"] == sel]
        ax_mi, ax_b = top_axes[j], bot_axes[j]
        title = "all depths" if sel is None else f"depth {sel}"
        panel_title(ax_mi, top_letters[j], title)
        panel_title(ax_b, bot_letters[j], title)
        if d.empty:
            not_run(ax_mi)
            not_run(ax_b)
            continue
        xs = np.geomspace(max(cb["params"].min() * 0.8, 1), cb["params"].max() * 1.25, 20)
        ax_mi.fill_between(xs, 3 * xs, 6 * xs, color=PAPER_BAND, lw=0, zorder=0)
        ax_mi.plot(xs, 5 * xs, color="#999999", ls="--", lw=0.8, zorder=1)
        ax_b.axhspan(3, 6, color=PAPER_BAND, lw=0, zorder=0)
        ax_b.axhline(5, color="#999999", ls="--", lw=0.8, zorder=1)
        for (cell, depth), g in d.groupby(["cell", "depth"]):
            g = g.sort_values("params")
            kw = dict(color=color(cell), marker=marker(depth), lw=1.0 if sel is None else 1.3,
                      alpha=0.85 if sel is None else 1.0)
            ax_mi.plot(g["params"], g["mi"], **kw)
            ax_b.plot(g["params"], g["bits_per_param"], **kw)
        log_axis(ax_mi, "x")
        if _log_ok(cb["mi"]):
            log_axis(ax_mi, "y")
        log_axis(ax_b, "x")
        ax_b.set_xlabel("parameters")
        if j == 0:
            ax_mi.set_ylabel("best MI (bits)")
            ax_b.set_ylabel("bits / parameter")
        ax_b.set_ylim(0, max(7.0, float(np.nanmax(cb["bits_per_param"])) * 1.1))
    _ratio_panel(ax_t, cr, table_letter)
    extra = [plt.Rectangle((0, 0), 1, 1, color=PAPER_BAND, label="paper: 3–6 bits/param"),
             Line2D([], [], color="#999999", ls="--", lw=0.8, label="paper: ≈5")]
    cell_legend(fig, cells_in(cb), _data_depths(cb), y=1.02, extra=extra)
    stamp(fig, preset)
    return fig


def _ratio_panel(ax: plt.Axes, cr: pd.DataFrame, letter: str) -> None:
    panel_title(ax, letter, "param. factor, row → column")
    if cr.empty:
        not_run(ax)
        return
    cells = [c for c in CELL_ORDER if c in set(cr["cell_a"])]
    m = np.full((len(cells), len(cells)), np.nan)
    for r in cr.itertuples():
        m[cells.index(r.cell_a), cells.index(r.cell_b)] = r.ratio
    lim = max(float(np.nanmax(np.abs(np.log2(m[np.isfinite(m) & (m > 0)])))) if np.isfinite(m).any() else 1, 0.1)
    norm = mcolors.TwoSlopeNorm(vmin=-lim, vcenter=0.0, vmax=lim)
    ax.imshow(np.log2(np.where(m > 0, m, np.nan)), cmap="RdBu_r", norm=norm, aspect="equal")
    for i in range(len(cells)):
        for j in range(len(cells)):
            if np.isfinite(m[i, j]):
                ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=6.5,
                        color="black" if abs(np.log2(m[i, j])) < 0.6 * lim else "white")
    ax.set_xticks(range(len(cells)), [label(c) for c in cells], rotation=45, ha="right")
    ax.set_yticks(range(len(cells)), [label(c) for c in cells])
    ax.set_xlabel("to")
    ax.set_ylabel("from")
    ax.grid(False)
    for s in ax.spines.values():
        s.set_visible(False)


# ---------------------------------------------------------------- Fig. 2: ReLU, unroll, memory

def fig2(fits: Fits, preset: str) -> plt.Figure:
    relu, cb = fits["capacity_relu"], fits["capacity_best"]
    us, mem = fits["capacity_unroll_summary"], fits["memory"]
    fig, axes = _new(1, 3, 7.6, 2.7, gridspec_kw={"wspace": 0.38})
    ax_a, ax_b, ax_c = axes[0]

    # (a) ReLU only
    panel_title(ax_a, "a", "ReLU-only capacity")
    if relu.empty:
        not_run(ax_a)
    else:
        groups = [c for c in ("rnn", "ugrnn") if c in set(relu["cell"])]
        irnn = cb[cb["cell"] == "irnn"]["bits_per_param"] if len(cb) else pd.Series(dtype=float)
        x = 0
        ticks = []
        for c in groups:
            g = relu[relu["cell"] == c]
            ax_a.bar(x - 0.2, g["bits_per_param_all"].max(), 0.38, color=color(c), label=None)
            ax_a.bar(x + 0.2, g["bits_per_param_relu"].max(), 0.38, color="white", edgecolor=color(c),
                     hatch="////", lw=1.0)
            ticks.append((x, label(c)))
            x += 1
        if len(irnn):
            ax_a.bar(x, irnn.max(), 0.38, color="white", edgecolor=color("irnn"), hatch="////", lw=1.0)
            ticks.append((x, "IRNN"))
        ax_a.axhline(3.5, color="#555555", ls="--", lw=0.8)
        ax_a.set_xticks([t[0] for t in ticks], [t[1] for t in ticks])
        ax_a.set_ylabel("max bits / parameter")
        ax_a.grid(axis="x", visible=False)
        ax_a.legend(handles=[plt.Rectangle((0, 0), 1, 1, color="#777777", label="all HPs"),
                             plt.Rectangle((0, 0), 1, 1, facecolor="white", edgecolor="#777777", hatch="////",
                                           label="ReLU only"),
                             Line2D([], [], color="#555555", ls="--", lw=0.8, label="paper: ≈3.5 (ReLU)")],
                    loc="upper right", fontsize=6.5)
        ax_a.set_ylim(0, max(7.0, float(np.nanmax(relu["bits_per_param_all"])) * 1.25))

    # (b) unroll
    panel_title(ax_b, "b", "capacity vs unrolling")
    if us.empty:
        not_run(ax_b)
    else:
        m = us.groupby(["cell", "seq_len"], as_index=False)["bits_per_param"].mean()
        for c in cells_in(m):
            g = m[m["cell"] == c].sort_values("seq_len")
            ax_b.plot(g["seq_len"], g["bits_per_param"], color=color(c), marker="o")
        ax_b.set_xlabel("unrolling steps T")
        ax_b.set_ylabel("bits / parameter")
        ax_b.set_xticks(sorted(m["seq_len"].unique()))
        ax_b.set_ylim(0, None)

    # (c) memory
    panel_title(ax_c, "c", "per-unit memory")
    if mem.empty:
        not_run(ax_c)
    else:
        n_in = int(mem["n_in"].iloc[0]) if mem["n_in"].nunique() == 1 else DEFAULT_N_IN
        for (c, d), g in mem.groupby(["cell", "depth"]):
            g = g.sort_values("width")
            ax_c.plot(g["width"], g["error"], color=color(c), marker=marker(d), lw=0.8, alpha=0.9)
        xs = np.linspace(0, max(mem["width"].max() * 1.05, n_in * 1.3), 200)
        ax_c.plot(xs, reference_error(xs, n_in), color="black", lw=1.2, zorder=0,
                  label=f"max(0, 1 − $n_h$/{n_in})")
        ax_c.axvline(n_in, color="#999999", ls=":", lw=0.8)
        ax_c.set_xlabel("hidden units per layer $n_h$")
        ax_c.set_ylabel("eval squared error (per dim)")
        ax_c.set_xlim(0, None)
        ax_c.set_ylim(-0.02, max(1.05, float(mem["error"].max()) * 1.05))
        ax_c.legend(loc="upper right", fontsize=6.5)
    cell_legend(fig, cells_in(relu, cb, us, mem), _data_depths(mem), y=1.08)
    stamp(fig, preset)
    return fig


# ---------------------------------------------------------------- Fig. 3: text8, RCF

def _loss_vs(ax, d: pd.DataFrame, x: str, by_depth_marker: bool) -> None:
    for (c, dep), g in d.groupby(["cell", "depth"]):
        g = g.sort_values(x)
        ax.plot(g[x], g["loss"], color=color(c), marker=marker(dep), lw=1.0 if by_depth_marker else 1.3)
    log_axis(ax, "x")
    if _log_ok(d["loss"]) and d["loss"].max() / max(d["loss"].min(), 1e-300) > 20:
        log_axis(ax, "y")


def fig3(fits: Fits, preset: str) -> plt.Figure:
    t8, rcf = fits["text8"], fits["rcf"]
    depths = sorted(set(_depths(t8, (1, 2, 4))) | set(_depths(rcf, (1, 2, 4))))
    nd = len(depths)
    fig, axes = _new(2, nd + 1, 1.95 * (nd + 1) + 0.4, 4.6, gridspec_kw={"wspace": 0.35, "hspace": 0.5})
    letters = iter("abcdefghijklmnop")
    for row, (task, df) in enumerate((("text8", t8), ("rcf", rcf))):
        name = "text8" if task == "text8" else "RCF"
        for j, dep in enumerate(depths):
            ax = axes[row, j]
            panel_title(ax, next(letters), f"{name}, depth {dep}")
            d = df[df["depth"] == dep] if len(df) else df
            if d.empty:
                not_run(ax)
                continue
            _loss_vs(ax, d, "params", False)
            ax.set_xlabel("parameters")
            if j == 0:
                ax.set_ylabel(LOSS_LABELS[task])
        ax = axes[row, nd]
        panel_title(ax, next(letters), f"{name} vs units, all depths")
        if df.empty:
            not_run(ax)
        else:
            _loss_vs(ax, df, "width", True)
            ax.set_xlabel("hidden units per layer")
    cell_legend(fig, cells_in(t8, rcf), _data_depths(t8, rcf), y=1.03)
    stamp(fig, preset)
    return fig


# ---------------------------------------------------------------- Fig. 4: trainability

def fig4(fits: Fits, preset: str) -> plt.Figure:
    tasks = (("parentheses", "Parentheses"), ("arithmetic", "Arithmetic"))
    frames = [fits[t] for t, _ in tasks] + [fits[f"{t}_bestsofar"] for t, _ in tasks]
    depths = sorted(set().union(*[set(_depths(f, (1, 2, 4, 8))) for f in frames]))
    nd = len(depths)
    fig, axes = _new(4, nd, 1.9 * nd + 0.4, 8.2, gridspec_kw={"wspace": 0.35, "hspace": 0.62})
    letters = iter("abcdefghijklmnopqrstuvwxyz")
    for ti, (task, name) in enumerate(tasks):
        curve, bsf = fits[task], fits[f"{task}_bestsofar"]
        row_l, row_b = axes[2 * ti], axes[2 * ti + 1]
        lets_l = [next(letters) for _ in depths]
        lets_b = [next(letters) for _ in depths]
        for j, dep in enumerate(depths):
            ax = row_l[j]
            panel_title(ax, lets_l[j], f"depth {dep}")
            d = curve[curve["depth"] == dep] if len(curve) else curve
            if d.empty:
                not_run(ax)
            else:
                _loss_vs(ax, d, "params", False)
                ax.set_xlabel("parameters")
                if j == 0:
                    ax.set_ylabel(f"{name}\nbest " + LOSS_LABELS[task])
            ax = row_b[j]
            b = bsf[bsf["depth"] == dep] if len(bsf) else bsf
            budget = f", {_compact(int(b['budget'].iloc[0]))} params" if len(b) else ""
            panel_title(ax, lets_b[j], f"depth {dep}{budget}")
            if b.empty:
                not_run(ax)
                continue
            med = b.groupby(["cell", "evaluations"], as_index=False)["best_eval"].median()
            for c in cells_in(med):
                g = med[med["cell"] == c].sort_values("evaluations")
                ax.plot(g["evaluations"], g["best_eval"], color=color(c), drawstyle="steps-post")
            if _log_ok(med["best_eval"]) and med["best_eval"].max() / max(med["best_eval"].min(), 1e-300) > 20:
                log_axis(ax, "y")
            ax.set_xlabel("HP evaluations")
            if j == 0:
                ax.set_ylabel(f"{name}\nbest-so-far eval loss (nats)")
    cell_legend(fig, cells_in(*frames), (), y=0.95)
    stamp(fig, preset)
    return fig


# ---------------------------------------------------------------- Fig. 5: random HPs

def fig5(fits: Fits, preset: str) -> plt.Figure:
    losses, summ = fits["random_hp_losses"], fits["random_hp_summary"]
    depths = _depths(losses, (1, 8))
    fig, axes = _new(1, len(depths), 3.6 * len(depths), 3.0, gridspec_kw={"wspace": 0.25})
    rng = np.random.default_rng(0)
    for j, (ax, dep) in enumerate(zip(axes[0], depths)):
        d = losses[losses["depth"] == dep] if len(losses) else losses
        budget = f", {_compact(int(d['budget'].iloc[0]))} params" if len(d) else ""
        panel_title(ax, "abcdefgh"[j], f"random HPs, depth {dep}{budget}")
        if d.empty:
            not_run(ax)
            continue
        cells = cells_in(d)
        ok = d[~d["infeasible"].astype(bool)]
        data = [ok.loc[ok["cell"] == c, "eval_metric"].astype(float).values for c in cells]
        pos = np.arange(len(cells))
        for p, c, v in zip(pos, cells, data):
            if len(v):
                ax.scatter(p + rng.uniform(-0.18, 0.18, len(v)), v, s=5, color=color(c), alpha=0.45, lw=0,
                           zorder=2)
        nonempty = [(p, v) for p, v in zip(pos, data) if len(v)]
        if nonempty:
            bp = ax.boxplot([v for _, v in nonempty], positions=[p for p, _ in nonempty], widths=0.55,
                            showfliers=False, patch_artist=True, zorder=3,
                            medianprops={"color": "black", "lw": 1.2},
                            boxprops={"facecolor": "none", "lw": 0.9}, whiskerprops={"lw": 0.9},
                            capprops={"lw": 0.9})
            del bp
        s = summ[summ["depth"] == dep].set_index("cell") if len(summ) else summ
        ticks = [f"{label(c)}\n{s.loc[c, 'pct_infeasible']:.0f}% inf." if c in s.index else label(c)
                 for c in cells]
        ax.set_xticks(pos, ticks)
        ax.grid(axis="x", visible=False)
        allv = np.concatenate([v for v in data if len(v)]) if any(len(v) for v in data) else np.array([])
        if _log_ok(allv):
            log_axis(ax, "y")
        if j == 0:
            ax.set_ylabel("eval loss of feasible draws (nats)")
    cell_legend(fig, cells_in(losses), (), y=1.06)
    stamp(fig, preset)
    return fig


# ---------------------------------------------------------------- Fig. App.1: optimal b

def figA1(fits: Fits, preset: str) -> plt.Figure:
    ob = fits["capacity_optimal_b"]
    fig, axes = _new(1, 1, 3.6, 3.3)
    ax = axes[0, 0]
    ax.set_title("tuned dataset size vs capacity")
    ok = ob.dropna(subset=["b", "mi"]) if len(ob) else ob
    ok = ok[(ok["b"] > 0) & (ok["mi"] > 0)] if len(ok) else ok
    if ok.empty:
        not_run(ax)
    else:
        for (c, d), g in ok.groupby(["cell", "depth"]):
            ax.scatter(g["mi"], g["b"], color=color(c), marker=marker(d), s=18, alpha=0.85, lw=0)
        lo = min(ok["mi"].min(), ok["b"].min()) * 0.7
        hi = max(ok["mi"].max(), ok["b"].max()) * 1.4
        ax.plot([lo, hi], [lo, hi], color="black", lw=1.0, ls="--", label="b = MI")
        log_axis(ax, "x")
        log_axis(ax, "y")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_xlabel("best MI (bits)")
        ax.set_ylabel("optimal dataset size b (samples)")
        ax.legend(loc="lower right")
    cell_legend(fig, cells_in(ob), _data_depths(ob), right=True)
    stamp(fig, preset)
    return fig


FIGURES: dict[str, Callable[[Fits, str], plt.Figure]] = {
    "fig1": fig1, "fig2": fig2, "fig3": fig3, "fig4": fig4, "fig5": fig5, "figA1": figA1,
}


def make(name: str, fits_dir: str | Path, fig_dir: str | Path, preset: str) -> tuple[Path, Path]:
    """Draw and save one figure (what each notebook does, in one call)."""
    fig = FIGURES[name](load(fits_dir), preset)
    try:
        return save(fig, fig_dir, name)
    finally:
        plt.close(fig)
