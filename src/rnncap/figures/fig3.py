"""Fig. 3: text8 and random continuous functions (RCF).

One panel per depth of best eval loss against parameters (top row text8, bottom row RCF), and
a last column against hidden units per layer, all depths: the paper's point is that the cells
overlap at equal parameters but not at equal units.
"""

from __future__ import annotations

import matplotlib.pyplot as plt

from . import style
from .style import LOSS_LABELS, Fits, not_run, panel_title

PAPER_DEPTHS = (1, 2, 4)
TASKS = (("text8", "text8"), ("rcf", "RCF"))  # (table, title)


def draw(fits: Fits, preset: str) -> plt.Figure:
    """Panels (a..) text8 per depth and vs units, then RCF per depth and vs units."""
    frames = [fits[t] for t, _ in TASKS]
    depths = sorted(set().union(*[set(style.depths(f, PAPER_DEPTHS)) for f in frames]))
    nd = len(depths)
    fig, axes = style.new(2, nd + 1, 1.95 * (nd + 1) + 0.4, 4.6, gridspec_kw={"wspace": 0.35, "hspace": 0.5})
    letters = iter("abcdefghijklmnop")
    for row, ((task, name), df) in enumerate(zip(TASKS, frames)):
        for j, dep in enumerate(depths):
            ax = axes[row, j]
            panel_title(ax, next(letters), f"{name}, depth {dep}")
            d = df[df["depth"] == dep] if len(df) else df
            if d.empty:
                not_run(ax)
                continue
            style.loss_vs(ax, d, "params", all_depths=False)
            ax.set_xlabel("parameters")
            if j == 0:
                ax.set_ylabel(LOSS_LABELS[task])
        ax = axes[row, nd]
        panel_title(ax, next(letters), f"{name} vs units, all depths")
        if df.empty:
            not_run(ax)
        else:
            style.loss_vs(ax, df, "width", all_depths=True)
            ax.set_xlabel("hidden units per layer")
    style.cell_legend(fig, style.cells_in(*frames), style.data_depths(*frames), y=1.03)
    style.stamp(fig, preset)
    return fig
