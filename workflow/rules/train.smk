# Training: one job per (experiment, cell, budget, depth, seed) run directory.
# The whole run spec travels in params.spec (canonical JSON), so a config change reruns
# exactly the runs whose spec it changes. Device and threads are runtime choices and
# not part of it: they are resources/threads, which no rerun trigger compares, so
# switching to the GPU profile (config device=cuda) or changing threads retrains nothing.


rule train:
    """HP search / random draws / reruns of one run directory (resumes from its ckpt/)."""
    input:
        unpack(train_input),
    output:
        trials="results/runs/{experiment}/{cell}/p{budget}/d{depth}/s{seed}/trials.parquet",
        best="results/runs/{experiment}/{cell}/p{budget}/d{depth}/s{seed}/best.json",
    params:
        spec=train_spec,
        out=out_dir,
    log:
        "logs/train/{experiment}/{cell}/p{budget}/d{depth}/s{seed}.log",
    benchmark:
        "results/benchmarks/train/{experiment}/{cell}/p{budget}/d{depth}/s{seed}.tsv"
    threads: CFG["threads"]
    priority: train_priority
    resources:
        runtime=train_runtime,
        mem_mb=train_mem_mb,
        device=CFG["device"],
    conda:
        "../../envs/rnncap.yaml"
    shell:
        "rnncap train --spec {params.spec:q} --out {params.out} --threads {threads} --device {resources.device} > {log} 2>&1"
