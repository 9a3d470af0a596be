# The paper: figures (papermill notebooks, one rule for all), tables, scorecard and the
# reproduction report. Every figure reads only results/fits/ (docs/contracts.md).


rule figure:
    """Draws any figure of the paper: runs workflow/notebooks/{fig}.ipynb, which calls
    rnncap.figures.{fig}. `--engine rnncap` runs the kernel over Unix sockets: with TCP, figure
    jobs started together can race for a port and a kernel dies at start-up
    (rnncap.figures.engine)."""
    wildcard_constraints:
        fig="|".join(FIGURES),
    input:
        notebook="workflow/notebooks/{fig}.ipynb",
        fits=FIT_OUTPUTS,
    output:
        notebook="results/notebooks/{fig}.ipynb",
        pdf="paper/figures/{fig}.pdf",
        # Snakemake fills no wildcards into a caption's path: the one caption picks its text
        # by {fig}; labels do take wildcards
        png=report(
            "paper/figures/{fig}.png",
            caption="../report/figure.rst",
            category="Figures",
            labels={"figure": "{fig}"},
        ),
    params:
        fits=fits_dir,
        figures=figure_dir,
        preset=preset_name,
    log:
        "logs/figures/{fig}.log",
    conda:
        "../../envs/rnncap.yaml"
    shell:
        "papermill {input.notebook} {output.notebook} --engine rnncap -k python3 -p fits_dir {params.fits} -p fig_dir {params.figures} -p preset {params.preset} > {log} 2>&1"


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
