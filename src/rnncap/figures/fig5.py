"""Fig. 5: random hyperparameters on parentheses.

One panel per depth (the paper's 1 and 8): eval loss of every feasible random HP draw per cell
(dots, with box plots), and the share of infeasible draws under each cell's name.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..analysis.common import label
from . import style
from .style import Fits, not_run, panel_title

PAPER_DEPTHS = (1, 8)


def draw(fits: Fits, preset: str) -> plt.Figure:
    """Panels (a) depth 1 and (b) depth 8 (plus any other depth the data has)."""
    losses, summ = fits["random_hp_losses"], fits["random_hp_summary"]
    depths = style.depths(losses, PAPER_DEPTHS)
    fig, axes = style.new(1, len(depths), 3.6 * len(depths), 3.0, gridspec_kw={"wspace": 0.25})
    rng = np.random.default_rng(0)  # fixed jitter: the same fits give the same picture
    for j, (ax, dep) in enumerate(zip(axes[0], depths)):
        d = losses[losses["depth"] == dep] if len(losses) else losses
        budget = f", {style.compact(int(d['budget'].iloc[0]))} params" if len(d) else ""
        panel_title(ax, "abcdefgh"[j], f"random HPs, depth {dep}{budget}")
        if d.empty:
            not_run(ax)
            continue
        cells = style.cells_in(d)
        ok = d[~d["infeasible"].astype(bool)]
        data = [ok.loc[ok["cell"] == c, "eval_metric"].astype(float).values for c in cells]
        pos = np.arange(len(cells))
        for p, c, v in zip(pos, cells, data):
            if len(v):
                ax.scatter(p + rng.uniform(-0.18, 0.18, len(v)), v, s=5, color=style.color(c), alpha=0.45, lw=0,
                           zorder=2)
        nonempty = [(p, v) for p, v in zip(pos, data) if len(v)]
        if nonempty:
            ax.boxplot([v for _, v in nonempty], positions=[p for p, _ in nonempty], widths=0.55,
                       showfliers=False, patch_artist=True, zorder=3,
                       medianprops={"color": "black", "lw": 1.2},
                       boxprops={"facecolor": "none", "lw": 0.9}, whiskerprops={"lw": 0.9},
                       capprops={"lw": 0.9})
        s = summ[summ["depth"] == dep].set_index("cell") if len(summ) else summ
        ticks = [f"{label(c)}\n{s.loc[c, 'pct_infeasible']:.0f}% inf." if c in s.index else label(c)
                 for c in cells]
        ax.set_xticks(pos, ticks)
        ax.grid(axis="x", visible=False)
        allv = np.concatenate([v for v in data if len(v)]) if any(len(v) for v in data) else np.array([])
        if style.log_ok(allv):
            style.log_axis(ax, "y")
        if j == 0:
            ax.set_ylabel("eval loss of feasible draws (nats)")
    style.cell_legend(fig, style.cells_in(losses), (), y=1.06)
    style.stamp(fig, preset)
    return fig
