"""Fig. 4: trainability on parentheses and arithmetic.

For each task two rows, one panel per depth: best eval loss against parameters, then the
best-so-far eval loss (median over tuner seeds) against the number of HP evaluations at the
largest budget, which shows how easily each cell is tuned.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from . import style
from .style import LOSS_LABELS, Fits, not_run, panel_title

PAPER_DEPTHS = (1, 2, 4, 8)
TASKS = (("parentheses", "Parentheses"), ("arithmetic", "Arithmetic"))  # (table, title)


def draw(fits: Fits, preset: str) -> plt.Figure:
    """Panels (a..) parentheses loss vs params and best-so-far, then the same for arithmetic."""
    frames = [fits[t] for t, _ in TASKS] + [fits[f"{t}_bestsofar"] for t, _ in TASKS]
    depths = sorted(set().union(*[set(style.depths(f, PAPER_DEPTHS)) for f in frames]))
    nd = len(depths)
    fig, axes = style.new(4, nd, 1.9 * nd + 0.4, 8.2, gridspec_kw={"wspace": 0.35, "hspace": 0.62})
    letters = iter("abcdefghijklmnopqrstuvwxyz")
    for ti, (task, name) in enumerate(TASKS):
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
                style.loss_vs(ax, d, "params", all_depths=False)
                ax.set_xlabel("parameters")
                if j == 0:
                    ax.set_ylabel(f"{name}\nbest " + LOSS_LABELS[task])
            b = bsf[bsf["depth"] == dep] if len(bsf) else bsf
            _best_so_far(row_b[j], b, lets_b[j], dep, name if j == 0 else None)
    style.cell_legend(fig, style.cells_in(*frames), (), y=0.95)
    style.stamp(fig, preset)
    return fig


def _best_so_far(ax: plt.Axes, b: pd.DataFrame, letter: str, depth: int, ylabel_task: str | None) -> None:
    """Median best-so-far loss per cell as steps: a step is where the tuner found a better trial."""
    budget = f", {style.compact(int(b['budget'].iloc[0]))} params" if len(b) else ""
    panel_title(ax, letter, f"depth {depth}{budget}")
    if b.empty:
        not_run(ax)
        return
    med = b.groupby(["cell", "evaluations"], as_index=False)["best_eval"].median()
    for c in style.cells_in(med):
        g = med[med["cell"] == c].sort_values("evaluations")
        ax.plot(g["evaluations"], g["best_eval"], color=style.color(c), drawstyle="steps-post")
    if style.spans_decades(med["best_eval"]):
        style.log_axis(ax, "y")
    ax.set_xlabel("HP evaluations")
    if ylabel_task:
        ax.set_ylabel(f"{ylabel_task}\nbest-so-far eval loss (nats)")
