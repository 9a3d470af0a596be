# The paper: figures (papermill notebooks, one rule each), tables, scorecard and the
# reproduction report. Every figure reads only results/fits/ (docs/contracts.md).

# One command line for every figure. `--engine rnncap` runs the kernel over Unix sockets: with
# TCP, figure rules started together can race for a port and a kernel dies at start-up
# (src/rnncap/notebook.py).
PAPERMILL = (
    "papermill {input.notebook} {output.notebook} --engine rnncap -k python3"
    " -p fits_dir {params.fits} -p fig_dir {params.figures} -p preset {params.preset} > {log} 2>&1"
)


rule figure_fig1:
    """Fig. 1: capacity (bits per parameter)."""
    input:
        notebook="workflow/notebooks/fig1.ipynb",
        fits=FIT_OUTPUTS,
    output:
        notebook="results/notebooks/fig1.ipynb",
        pdf="paper/figures/fig1.pdf",
        png=report(
            "paper/figures/fig1.png",
            caption="../report/fig1.rst",
            category="Figures",
            labels={"figure": "fig1"},
        ),
    params:
        fits=fits_dir,
        figures=figure_dir,
        preset=preset_name,
    log:
        "logs/figures/fig1.log",
    conda:
        "../../envs/rnncap.yaml"
    shell:
        PAPERMILL


rule figure_fig2:
    """Fig. 2: ReLU-only capacity, unrolling, memory."""
    input:
        notebook="workflow/notebooks/fig2.ipynb",
        fits=FIT_OUTPUTS,
    output:
        notebook="results/notebooks/fig2.ipynb",
        pdf="paper/figures/fig2.pdf",
        png=report(
            "paper/figures/fig2.png",
            caption="../report/fig2.rst",
            category="Figures",
            labels={"figure": "fig2"},
        ),
    params:
        fits=fits_dir,
        figures=figure_dir,
        preset=preset_name,
    log:
        "logs/figures/fig2.log",
    conda:
        "../../envs/rnncap.yaml"
    shell:
        PAPERMILL


rule figure_fig3:
    """Fig. 3: text8 and RCF loss vs parameters."""
    input:
        notebook="workflow/notebooks/fig3.ipynb",
        fits=FIT_OUTPUTS,
    output:
        notebook="results/notebooks/fig3.ipynb",
        pdf="paper/figures/fig3.pdf",
        png=report(
            "paper/figures/fig3.png",
            caption="../report/fig3.rst",
            category="Figures",
            labels={"figure": "fig3"},
        ),
    params:
        fits=fits_dir,
        figures=figure_dir,
        preset=preset_name,
    log:
        "logs/figures/fig3.log",
    conda:
        "../../envs/rnncap.yaml"
    shell:
        PAPERMILL


rule figure_fig4:
    """Fig. 4: trainability (parentheses, arithmetic)."""
    input:
        notebook="workflow/notebooks/fig4.ipynb",
        fits=FIT_OUTPUTS,
    output:
        notebook="results/notebooks/fig4.ipynb",
        pdf="paper/figures/fig4.pdf",
        png=report(
            "paper/figures/fig4.png",
            caption="../report/fig4.rst",
            category="Figures",
            labels={"figure": "fig4"},
        ),
    params:
        fits=fits_dir,
        figures=figure_dir,
        preset=preset_name,
    log:
        "logs/figures/fig4.log",
    conda:
        "../../envs/rnncap.yaml"
    shell:
        PAPERMILL


rule figure_fig5:
    """Fig. 5: random hyperparameters."""
    input:
        notebook="workflow/notebooks/fig5.ipynb",
        fits=FIT_OUTPUTS,
    output:
        notebook="results/notebooks/fig5.ipynb",
        pdf="paper/figures/fig5.pdf",
        png=report(
            "paper/figures/fig5.png",
            caption="../report/fig5.rst",
            category="Figures",
            labels={"figure": "fig5"},
        ),
    params:
        fits=fits_dir,
        figures=figure_dir,
        preset=preset_name,
    log:
        "logs/figures/fig5.log",
    conda:
        "../../envs/rnncap.yaml"
    shell:
        PAPERMILL


rule figure_figA1:
    """Fig. App.1: optimal dataset size."""
    input:
        notebook="workflow/notebooks/figA1.ipynb",
        fits=FIT_OUTPUTS,
    output:
        notebook="results/notebooks/figA1.ipynb",
        pdf="paper/figures/figA1.pdf",
        png=report(
            "paper/figures/figA1.png",
            caption="../report/figA1.rst",
            category="Figures",
            labels={"figure": "figA1"},
        ),
    params:
        fits=fits_dir,
        figures=figure_dir,
        preset=preset_name,
    log:
        "logs/figures/figA1.log",
    conda:
        "../../envs/rnncap.yaml"
    shell:
        PAPERMILL


rule tables:
    """paper/tables/*.tex and *.md (Table 1, App.1, App.2, Fig. 1i, capacity summary)."""
    input:
        fits=FIT_OUTPUTS,
    output:
        tables=TABLE_OUTPUTS,
    params:
        fits=fits_dir,
        out=out_dir,
    log:
        "logs/tables.log",
    conda:
        "../../envs/rnncap.yaml"
    shell:
        "rnncap tables --fits {params.fits} --out {params.out} > {log} 2>&1"


rule scorecard:
    """The paper's numbers beside ours."""
    input:
        fits=FIT_OUTPUTS,
    output:
        md=report("paper/scorecard.md", caption="../report/scorecard.rst", category="Scorecard"),
        csv="paper/scorecard.csv",
    params:
        fits=fits_dir,
        preset=preset_name,
    log:
        "logs/scorecard.log",
    conda:
        "../../envs/rnncap.yaml"
    shell:
        "rnncap scorecard --fits {params.fits} --preset {params.preset} --out {output.md} > {log} 2>&1"


rule paper:
    """The reproduction report (paper/rnncap.md filled from the fits): figures, tables and
    scorecard in one self-contained HTML document."""
    input:
        template="paper/rnncap.md",
        figures=expand("paper/figures/{fig}.png", fig=FIGURES),
        tables=TABLE_OUTPUTS,
        scorecard="paper/scorecard.md",
        fits=FIT_OUTPUTS,
        reproductions=REPRODUCTIONS,
    output:
        html=report("results/paper/rnncap.html", category="Report"),
    params:
        fits=fits_dir,
        figures=figures_input_dir,
        tables=tables_input_dir,
        preset=preset_name,
    log:
        "logs/paper.log",
    conda:
        "../../envs/rnncap.yaml"
    shell:
        "rnncap paper --template {input.template} --fits {params.fits} --figures {params.figures} --tables {params.tables} --scorecard {input.scorecard} --preset {params.preset} --reproductions paper/reproductions --out {output.html} > {log} 2>&1"
