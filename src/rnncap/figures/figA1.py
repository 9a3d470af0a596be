"""Fig. App.1: the tuned dataset size b against the capacity it reaches.

One panel: for each best capacity trial, the dataset size b the tuner chose against its
mutual information, beside b = MI (the paper finds b only slightly above the MI).
"""

from __future__ import annotations

import matplotlib.pyplot as plt

from . import style
from .style import Fits, not_run


def draw(fits: Fits, preset: str) -> plt.Figure:
    """The single panel of Fig. App.1, on log-log axes."""
    ob = fits["capacity_optimal_b"]
    fig, axes = style.new(1, 1, 3.6, 3.3)
    ax = axes[0, 0]
    ax.set_title("tuned dataset size vs capacity")
    ok = ob.dropna(subset=["b", "mi"]) if len(ob) else ob
    ok = ok[(ok["b"] > 0) & (ok["mi"] > 0)] if len(ok) else ok  # log axes
    if ok.empty:
        not_run(ax)
    else:
        for (c, d), g in ok.groupby(["cell", "depth"]):
            ax.scatter(g["mi"], g["b"], color=style.color(c), marker=style.marker(d), s=18, alpha=0.85, lw=0)
        lo = min(ok["mi"].min(), ok["b"].min()) * 0.7
        hi = max(ok["mi"].max(), ok["b"].max()) * 1.4
        ax.plot([lo, hi], [lo, hi], color="black", lw=1.0, ls="--", label="b = MI")
        style.log_axis(ax, "x")
        style.log_axis(ax, "y")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_xlabel("best MI (bits)")
        ax.set_ylabel("optimal dataset size b (samples)")
        ax.legend(loc="lower right")
    style.cell_legend(fig, style.cells_in(ob), style.data_depths(ob), right=True)
    style.stamp(fig, preset)
    return fig
