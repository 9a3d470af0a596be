"""What every figure shares: one look, one colour per cell, the stamps, and the fits loader.

One fixed colour per cell in every figure (`CELL_COLORS`, the Okabe–Ito colour-blind-safe
palette) and one marker per depth, so a cell reads the same across figures; a
"reduced scale: preset NAME" stamp on every figure whose preset is not "paper"; and the
analysis' own "not run" text (`rnncap.analysis.common.NOT_RUN`) in panels whose role has no
data. Cell names and order come from `rnncap.analysis.common`, i.e. from the cells' specs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from .. import io
from ..analysis import fit as _fit
from ..analysis.common import CELL_ORDER, NOT_RUN, label

CELL_COLORS: dict[str, str] = {
    "rnn": "#0072B2",    # blue
    "irnn": "#56B4E9",   # sky blue
    "ugrnn": "#009E73",  # bluish green
    "gru": "#E69F00",    # orange
    "lstm": "#D55E00",   # vermillion
    "plus": "#CC79A7",   # reddish purple
}
DEPTH_MARKERS: dict[int, str] = {1: "o", 2: "s", 4: "^", 8: "D"}
PAPER_BAND = "#e8e8e8"  # fill of a range the paper reports
PAPER_LINE = "#999999"  # dashed line at a value the paper reports
LOSS_LABELS: dict[str, str] = {
    "text8": "eval loss (bits/char)",
    "rcf": "eval loss (weighted squared error)",
    "parentheses": "eval loss (nats)",
    "arithmetic": "eval loss (nats)",
}


def use() -> None:
    """Small print sized for a two-column paper page; called by every figure before it draws."""
    plt.rcParams.update({
        "font.size": 8, "axes.titlesize": 8.5, "axes.labelsize": 8, "legend.fontsize": 7.5,
        "xtick.labelsize": 7, "ytick.labelsize": 7, "axes.spines.top": False, "axes.spines.right": False,
        "axes.grid": True, "grid.color": "#dddddd", "grid.linewidth": 0.5, "lines.linewidth": 1.3,
        "lines.markersize": 4, "figure.dpi": 100, "savefig.dpi": 200, "pdf.fonttype": 42,
        "axes.titlelocation": "left", "legend.frameon": False,
    })


def new(nrows: int, ncols: int, w: float, h: float, **kw: Any) -> tuple[plt.Figure, np.ndarray]:
    """A styled figure with a 2-D array of axes (also for one row or column)."""
    use()
    return plt.subplots(nrows, ncols, figsize=(w, h), squeeze=False, **kw)


def color(cell: str) -> str:
    return CELL_COLORS.get(cell, "#777777")


def marker(depth: int) -> str:
    return DEPTH_MARKERS.get(int(depth), "v")


def cells_in(*frames: pd.DataFrame) -> list[str]:
    """The cells any frame has, in the paper's order (legends list only what is drawn)."""
    present: set[str] = set()
    for f in frames:
        if f is not None and len(f) and "cell" in f.columns:
            present |= set(f["cell"])
    return [c for c in CELL_ORDER if c in present]


def depths(df: pd.DataFrame, paper: Iterable[int]) -> list[int]:
    """The paper's depths for this figure, plus any other depth the data has: a depth the run
    skipped still gets its panel, saying so."""
    return sorted({int(d) for d in df["depth"]} | set(paper)) if len(df) else sorted(paper)


def data_depths(*frames: pd.DataFrame) -> list[int]:
    """Depths with data (the legend's markers)."""
    return sorted({int(d) for f in frames if len(f) for d in f["depth"]})


def stamp(fig: plt.Figure, preset: str) -> None:
    """Mark a figure made at reduced scale (any preset but 'paper'), so it is not taken for the paper's."""
    if preset != "paper":
        # below everything already drawn (axis labels included), right-aligned
        bb = fig.get_tightbbox(fig.canvas.get_renderer())
        w, h = fig.get_figwidth(), fig.get_figheight()
        fig.text(bb.x1 / w, bb.y0 / h - 0.01, f"reduced scale: preset {preset}", ha="right", va="top",
                 fontsize=7, color="#9a0000", style="italic")


def not_run(ax: plt.Axes, text: str = NOT_RUN) -> None:
    """An empty panel that says its experiment was not run (rather than a blank that looks broken)."""
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
    """'(a) text': the panel letters follow the paper's, so panels can be compared by name."""
    ax.set_title(f"({letter}) {text}")


def compact(v: float, _pos: Any = None) -> str:
    """1500 -> '1.5k', 2e6 -> '2M': short tick labels and parameter budgets."""
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
    axis.set_major_formatter(FuncFormatter(compact))
    axis.set_minor_formatter(NullFormatter())


def log_ok(values: Any) -> bool:
    """All finite values positive (and at least one): a log axis can show them."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return len(v) > 0 and bool((v > 0).all())


def spans_decades(values: pd.Series) -> bool:
    """Log-worthy: positive and spanning more than a factor 20."""
    return log_ok(values) and values.max() / max(values.min(), 1e-300) > 20


def loss_vs(ax: plt.Axes, d: pd.DataFrame, x: str, all_depths: bool) -> None:
    """Loss against `x` (params or width), one line per (cell, depth); thinner lines when all
    depths share the panel (Figs. 3 and 4)."""
    for (c, dep), g in d.groupby(["cell", "depth"]):
        g = g.sort_values(x)
        ax.plot(g[x], g["loss"], color=color(c), marker=marker(dep), lw=1.0 if all_depths else 1.3)
    log_axis(ax, "x")
    if spans_decades(d["loss"]):
        log_axis(ax, "y")


def save(fig: plt.Figure, fig_dir: str | Path, name: str) -> tuple[Path, Path]:
    """Write `{fig_dir}/{name}.pdf` and `.png` atomically (a killed job leaves no half figure);
    returns both paths."""
    out = []
    for ext in ("pdf", "png"):
        p = Path(fig_dir) / f"{name}.{ext}"
        with io.atomic_path(p) as tmp:
            fig.savefig(tmp, format=ext, bbox_inches="tight")
        out.append(p)
    return out[0], out[1]


@dataclass
class Fits:
    """The tables and numbers of `rnncap fit`: all a figure may read."""

    tables: dict[str, pd.DataFrame]
    numbers: dict[str, Any]

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]


def load(fits_dir: str | Path) -> Fits:
    tables, numbers = _fit.read(fits_dir)
    return Fits(tables, numbers)
