"""Column contract of the trial tables: written by training, read by analysis.

One row per HP trial. `results/runs/{experiment}/{cell}/p{budget}/d{depth}/s{seed}/trials.parquet`
holds one run's trials; `results/tables/trials.parquet` is their concatenation and
`results/tables/best.parquet` has one row per run (the trial with the best
validation metric among feasible trials).

HP columns are prefixed `hp_` (e.g. `hp_lr`, `hp_optimizer`, `hp_b_ratio`); a HP that a
cell does not have is missing (NaN/None). Task options are prefixed `opt_`
(e.g. `opt_seq_len`, `opt_n_in`).
"""

from __future__ import annotations

# identity of the run a trial belongs to
RUN_KEYS = ("experiment", "task", "mode", "cell", "budget", "depth", "seed")

COLUMNS: dict[str, str] = {
    # run identity
    "experiment": "config key of the experiment (e.g. 'capacity', 'parentheses-random')",
    "task": "task name: capacity | memory | rcf | text8 | parentheses | arithmetic",
    "mode": "search (GP tuner) | random (uniform HP draws) | rerun (best HPs, new seeds)",
    "cell": "rnn | irnn | ugrnn | gru | lstm | plus",
    "budget": "maximum number of parameters (int)",
    "depth": "stacked layers (int)",
    "seed": "run seed (int)",
    # trial identity and model
    "trial": "trial index within the run, 0-based, in the order trials were asked",
    "member_seed": "seed of this trial's init and data order (int)",
    "width": "hidden units per layer (int)",
    "params": "trainable parameters (int, spec §2.4)",
    # outcome
    "steps": "training steps this trial ran (int)",
    "train_loss": "final training loss (task loss units; running mean over the last eval period)",
    "valid_loss": "loss on the validation set",
    "eval_loss": "loss on the evaluation set",
    "metric": "name of the selection metric (mi_bits | mse_per_dim | loss | bits_per_char)",
    "higher_is_better": "direction of the metric (bool)",
    "valid_metric": "selection metric on the validation set (what the tuner optimises)",
    "eval_metric": "the same metric on the evaluation set (what figures report)",
    "infeasible": "diverged: NaN/Inf loss, or final training loss above the initial loss (bool)",
    "wall_s": "wall seconds of the ensemble this trial trained in, divided by its size",
    "device": "cpu | cuda:N",
    # task extras (NaN where a task has none)
    "eval_accuracy": "capacity: fraction of labels right; parentheses: streams right; arithmetic: answers right",
    "b": "capacity: dataset size (samples) used by this trial",
    "source_eval_metric": "rerun mode: eval metric of the source run's best trial (Table App.1 'original')",
}

HP_PREFIX = "hp_"
OPT_PREFIX = "opt_"
