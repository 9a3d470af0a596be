"""The paper's figures: one module per figure (drawing from results/fits/ only), one notebook
per figure in workflow/notebooks/ that calls it, one Snakemake rule for all of them.

`FIGURES` is the one list of figure names: the workflow's wildcard, the report and the tests
read it. Each name is a module here with `draw(fits, preset) -> Figure`; `style` holds what
they share. Kept free of matplotlib so that importing the list costs nothing.
"""

from __future__ import annotations

import importlib
from pathlib import Path

FIGURES: tuple[str, ...] = ("fig1", "fig2", "fig3", "fig4", "fig5", "figA1")


def make(name: str, fits_dir: str | Path, fig_dir: str | Path, preset: str) -> tuple[Path, Path]:
    """Draw and save one figure, what its notebook does, in one call; returns (pdf, png)."""
    if name not in FIGURES:  # only figure modules: not style, engine or a typo
        raise ValueError(f"unknown figure {name!r} (known: {', '.join(FIGURES)})")
    import matplotlib.pyplot as plt

    from . import style

    fig = importlib.import_module(f"{__name__}.{name}").draw(style.load(fits_dir), preset)
    try:
        return style.save(fig, fig_dir, name)
    finally:
        plt.close(fig)
