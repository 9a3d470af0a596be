"""The paper's figures: one module per figure (drawing from results/fits/ only), one notebook
per figure in workflow/notebooks/ that calls it, one Snakemake rule for all of them.

`FIGURES` is the one list of figure names: the workflow's wildcard, the report and the tests
read it. Kept free of matplotlib so that importing the list costs nothing.
"""

FIGURES: tuple[str, ...] = ("fig1", "fig2", "fig3", "fig4", "fig5", "figA1")
