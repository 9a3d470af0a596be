"""Fig. 2: what the capacity depends on.

Panels (a) maximum bits/parameter over all HPs and over ReLU-only trials (RNN, UGRNN; the
IRNN is always ReLU) beside the paper's ReLU value; (b) bits/parameter against unrolling steps;
(c) per-unit memory: eval error against hidden units beside max(0, 1 - n_h/n_in).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from ..analysis.common import label
from ..analysis.memory import reference_error
from ..paper_values import BPP_RANGE, MEMORY_N_IN, RELU_MAX
from . import style
from .style import Fits, not_run, panel_title

RELU_CELLS = ("rnn", "ugrnn")  # the cells whose HP search chooses between ReLU and tanh


def draw(fits: Fits, preset: str) -> plt.Figure:
    """Panels (a) ReLU-only capacity, (b) capacity vs unrolling, (c) per-unit memory."""
    relu, cb = fits["capacity_relu"], fits["capacity_best"]
    us, mem = fits["capacity_unroll_summary"], fits["memory"]
    fig, axes = style.new(1, 3, 7.6, 2.7, gridspec_kw={"wspace": 0.38})
    ax_a, ax_b, ax_c = axes[0]
    _relu(ax_a, relu, cb)
    _unroll(ax_b, us)
    _memory(ax_c, mem)
    style.cell_legend(fig, style.cells_in(relu, cb, us, mem), style.data_depths(mem), y=1.08)
    style.stamp(fig, preset)
    return fig


def _relu(ax: plt.Axes, relu: pd.DataFrame, cb: pd.DataFrame) -> None:
    panel_title(ax, "a", "ReLU-only capacity")
    if relu.empty:
        not_run(ax)
        return
    groups = [c for c in RELU_CELLS if c in set(relu["cell"])]
    irnn = cb[cb["cell"] == "irnn"]["bits_per_param"] if len(cb) else pd.Series(dtype=float)
    x = 0
    ticks = []
    for c in groups:
        g = relu[relu["cell"] == c]
        ax.bar(x - 0.2, g["bits_per_param_all"].max(), 0.38, color=style.color(c), label=None)
        ax.bar(x + 0.2, g["bits_per_param_relu"].max(), 0.38, color="white", edgecolor=style.color(c),
               hatch="////", lw=1.0)
        ticks.append((x, label(c)))
        x += 1
    if len(irnn):
        ax.bar(x, irnn.max(), 0.38, color="white", edgecolor=style.color("irnn"), hatch="////", lw=1.0)
        ticks.append((x, label("irnn")))
    ax.axhline(RELU_MAX, color="#555555", ls="--", lw=0.8)
    ax.set_xticks([t[0] for t in ticks], [t[1] for t in ticks])
    ax.set_ylabel("max bits / parameter")
    ax.grid(axis="x", visible=False)
    ax.legend(handles=[plt.Rectangle((0, 0), 1, 1, color="#777777", label="all HPs"),
                       plt.Rectangle((0, 0), 1, 1, facecolor="white", edgecolor="#777777", hatch="////",
                                     label="ReLU only"),
                       Line2D([], [], color="#555555", ls="--", lw=0.8, label=f"paper: ≈{RELU_MAX:g} (ReLU)")],
              loc="upper right", fontsize=6.5)
    # room above the paper's top bits/param for the legend
    ax.set_ylim(0, max(BPP_RANGE[1] + 1, float(np.nanmax(relu["bits_per_param_all"])) * 1.25))


def _unroll(ax: plt.Axes, us: pd.DataFrame) -> None:
    panel_title(ax, "b", "capacity vs unrolling")
    if us.empty:
        not_run(ax)
        return
    m = us.groupby(["cell", "seq_len"], as_index=False)["bits_per_param"].mean()
    for c in style.cells_in(m):
        g = m[m["cell"] == c].sort_values("seq_len")
        ax.plot(g["seq_len"], g["bits_per_param"], color=style.color(c), marker="o")
    ax.set_xlabel("unrolling steps T")
    ax.set_ylabel("bits / parameter")
    ax.set_xticks(sorted(m["seq_len"].unique()))
    ax.set_ylim(0, None)


def _memory(ax: plt.Axes, mem: pd.DataFrame) -> None:
    panel_title(ax, "c", "per-unit memory")
    if mem.empty:
        not_run(ax)
        return
    # the reference curve needs one input size; with several, fall back to the paper's
    n_in = int(mem["n_in"].iloc[0]) if mem["n_in"].nunique() == 1 else MEMORY_N_IN
    for (c, d), g in mem.groupby(["cell", "depth"]):
        g = g.sort_values("width")
        ax.plot(g["width"], g["error"], color=style.color(c), marker=style.marker(d), lw=0.8, alpha=0.9)
    xs = np.linspace(0, max(mem["width"].max() * 1.05, n_in * 1.3), 200)
    ax.plot(xs, reference_error(xs, n_in), color="black", lw=1.2, zorder=0, label=f"max(0, 1 − $n_h$/{n_in})")
    ax.axvline(n_in, color="#999999", ls=":", lw=0.8)
    ax.set_xlabel("hidden units per layer $n_h$")
    ax.set_ylabel("eval squared error (per dim)")
    ax.set_xlim(0, None)
    ax.set_ylim(-0.02, max(1.05, float(mem["error"].max()) * 1.05))
    ax.legend(loc="upper right", fontsize=6.5)
