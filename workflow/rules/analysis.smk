# Aggregate every run directory into two tables, then fit everything the figures,
# tables, scorecard and paper read (docs/contracts.md).


localrules:
    run_list,


rule run_list:
    """The run directories to aggregate, one per line. A file, not a command line: the
    paper grid has >10^4 of them, past Linux's 128 KiB limit on one shell argument; the
    grid that expands to them fits, and changes exactly when they do."""
    input:
        best=all_best(),
    output:
        runs="results/tables/runs.txt",
    params:
        grid=RUN_GRID,
    log:
        "logs/run_list.log",
    conda:
        "../../envs/rnncap.yaml"
    shell:
        "rnncap run-list --grid {params.grid:q} --out {output.runs} > {log} 2>&1"


rule aggregate:
    """results/tables/{trials,best}.parquet from every run directory of the sweep."""
    input:
        runs="results/tables/runs.txt",
        trials=all_trials(),
    output:
        trials="results/tables/trials.parquet",
        best="results/tables/best.parquet",
    log:
        "logs/aggregate.log",
    conda:
        "../../envs/rnncap.yaml"
    shell:
        "rnncap aggregate --runs-from {input.runs} --out-trials {output.trials} --out-best {output.best} > {log} 2>&1"


rule fit:
    """Every fit table (results/fits/*.csv) and numbers.json (written last)."""
    input:
        trials="results/tables/trials.parquet",
        best="results/tables/best.parquet",
    output:
        FIT_OUTPUTS,
    params:
        roles=roles_json,
        out=out_dir,
    log:
        "logs/fit.log",
    conda:
        "../../envs/rnncap.yaml"
    shell:
        "rnncap fit --trials {input.trials} --best {input.best} --roles {params.roles:q} --out {params.out} > {log} 2>&1"
