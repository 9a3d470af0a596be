# Task data: made once per (experiment, data seed) by `rnncap data` (docs/contracts.md).


rule data:
    """Fixed data of one experiment's task instance (data.pt, then meta.json last)."""
    input:
        unpack(data_input),
    output:
        meta="results/data/{experiment}/seed{data_seed}/meta.json",
        data="results/data/{experiment}/seed{data_seed}/data.pt",
    params:
        task=data_task,
        options=data_options,
        out=out_dir,
    priority: data_priority
    log:
        "logs/data/{experiment}/seed{data_seed}.log",
    conda:
        "../../envs/rnncap.yaml"
    shell:
        "rnncap data --task {params.task} --seed {wildcards.data_seed} --options {params.options:q} --out {params.out} > {log} 2>&1"


rule make_test_corpus:
    """TESTS ONLY (text8.synthetic: true): a deterministic corpus of random words standing in for text8."""
    output:
        corpus=TEST_CORPUS,
    params:
        chars=CFG["text8"]["synthetic_chars"],
        seed=CFG["data_seed"],
    log:
        "logs/make_test_corpus.log",
    conda:
        "../../envs/rnncap.yaml"
    shell:
        "rnncap synthetic-text8 --chars {params.chars} --seed {params.seed} --out {output.corpus} > {log} 2>&1"
