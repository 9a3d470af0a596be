"""Fig. 1: per-parameter capacity.

Panels (a) best MI against parameters, all depths, and (b..) per depth; (e) bits per
parameter, all depths, and (f..) per depth; (i) the parameter-count factor to switch from one
architecture to another at equal capacity. The paper's band and mean are drawn behind the data.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import colors as mcolors
from matplotlib.lines import Line2D

from ..analysis.common import CELL_ORDER, label
from ..paper_values import BPP_MEAN, BPP_RANGE
from . import style
from .style import PAPER_BAND, PAPER_LINE, Fits, not_run, panel_title

PAPER_DEPTHS = (1, 2, 4)


def draw(fits: Fits, preset: str) -> plt.Figure:
    """Panels (a)-(d) MI, (e)-(h) bits/param, (i) ratio table, with one column per depth."""
    cb, cr = fits["capacity_best"], fits["capacity_ratio"]
    depths = style.depths(cb, PAPER_DEPTHS)
    nd = len(depths)
    style.use()
    fig = plt.figure(figsize=(2.0 * (nd + 1) + 2.8, 4.9))
    gs = fig.add_gridspec(2, nd + 2, width_ratios=[1] * (nd + 1) + [1.45], wspace=0.38, hspace=0.45)
    top_axes = [fig.add_subplot(gs[0, j]) for j in range(nd + 1)]
    bot_axes = [fig.add_subplot(gs[1, j]) for j in range(nd + 1)]
    # letters in paper order: a, b.. (top), e, f.. (bottom), i (table)
    letters = iter("abcdefghijklmnop")
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
        style.stamp(fig, preset)
        return fig
    lo, hi = BPP_RANGE
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
        ax_mi.fill_between(xs, lo * xs, hi * xs, color=PAPER_BAND, lw=0, zorder=0)
        ax_mi.plot(xs, BPP_MEAN * xs, color=PAPER_LINE, ls="--", lw=0.8, zorder=1)
        ax_b.axhspan(lo, hi, color=PAPER_BAND, lw=0, zorder=0)
        ax_b.axhline(BPP_MEAN, color=PAPER_LINE, ls="--", lw=0.8, zorder=1)
        for (cell, depth), g in d.groupby(["cell", "depth"]):
            g = g.sort_values("params")
            kw = dict(color=style.color(cell), marker=style.marker(depth), lw=1.0 if sel is None else 1.3,
                      alpha=0.85 if sel is None else 1.0)
            ax_mi.plot(g["params"], g["mi"], **kw)
            ax_b.plot(g["params"], g["bits_per_param"], **kw)
        style.log_axis(ax_mi, "x")
        if style.log_ok(cb["mi"]):
            style.log_axis(ax_mi, "y")
        style.log_axis(ax_b, "x")
        ax_b.set_xlabel("parameters")
        if j == 0:
            ax_mi.set_ylabel("best MI (bits)")
            ax_b.set_ylabel("bits / parameter")
        # the paper's band stays in view, with headroom above it
        ax_b.set_ylim(0, max(hi + 1, float(np.nanmax(cb["bits_per_param"])) * 1.1))
    _ratio_panel(ax_t, cr, table_letter)
    extra = [plt.Rectangle((0, 0), 1, 1, color=PAPER_BAND, label=f"paper: {lo:g}–{hi:g} bits/param"),
             Line2D([], [], color=PAPER_LINE, ls="--", lw=0.8, label=f"paper: ≈{BPP_MEAN:g}")]
    style.cell_legend(fig, style.cells_in(cb), style.data_depths(cb), y=1.02, extra=extra)
    style.stamp(fig, preset)
    return fig


def _ratio_panel(ax: plt.Axes, cr: pd.DataFrame, letter: str) -> None:
    """(i) bits/param(row) / bits/param(column) as a heat map, log2-centred on 1 (no change)."""
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
