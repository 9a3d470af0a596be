# Config loading/validation, the sweep table and every helper the rules call.
# Functions only (no rules here: snakemake --lint wants them apart); rules never use lambdas.
import glob
import json
import os
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from rnncap.plan.config import ConfigError, load_config
from rnncap.plan import jobs as rnncap_sweep

# --- shell rules call `rnncap`: make the one beside the Python running Snakemake win, so
# `.venv/bin/snakemake` works without activating the venv (a conda env's own bin, put
# first by --sdm conda, still takes precedence inside its jobs)
envvars:
    "PATH",


_BIN = os.path.dirname(sys.executable)
if _BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _BIN + os.pathsep + os.environ.get("PATH", "")

# --- config: the library's checks first (messages name the key), then Snakemake's schema check
try:
    CFG = load_config(config, base_dir=os.getcwd())
except ConfigError as e:
    raise WorkflowError(f"bad config: {e}") from None
validate(config, "../schemas/config.schema.yaml")

# --- the sweep: one row per training job
SWEEP = rnncap_sweep.sweep_table(CFG)
RUNS = {
    (r.experiment, r.cell, int(r.budget), int(r.depth), int(r.seed)): r._asdict()
    for r in SWEEP.itertuples(index=False)
}
RUN_DIRS = [rnncap_sweep.run_dir(r) for r in RUNS.values()]
FIGURES = ["fig1", "fig2", "fig3", "fig4", "fig5", "figA1"]
# committed runs (`rnncap reproduction`) that the report summarises; not produced by this DAG
REPRODUCTIONS = sorted(glob.glob("paper/reproductions/*/run.json") + glob.glob("paper/reproductions/*/*.csv"))

# the fit and table files are declared by the library that writes them
from rnncap.analysis.fit import FIT_FILES, NUMBERS as FIT_NUMBERS
from rnncap.report.tables import BUILDERS as TABLE_BUILDERS

FIT_OUTPUTS = [f"results/fits/{name}.csv" for name in FIT_FILES] + [f"results/fits/{FIT_NUMBERS}"]
TABLE_OUTPUTS = [f"paper/tables/{name}.{ext}" for name in TABLE_BUILDERS for ext in ("tex", "md")]

_done = [os.path.exists(f"{d}/best.json") for d in RUN_DIRS]
print(f"rnncap [{CFG['preset']}]: {rnncap_sweep.describe(SWEEP, _done)}", file=sys.stderr)


wildcard_constraints:
    experiment=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    cell="|".join(["rnn", "irnn", "ugrnn", "gru", "lstm", "plus"]),
    budget=r"\d+",
    depth=r"\d+",
    seed=r"\d+",
    data_seed=r"\d+",


# --- lookups ----------------------------------------------------------------------------


def run_row(wildcards):
    key = (wildcards.experiment, wildcards.cell, int(wildcards.budget), int(wildcards.depth), int(wildcards.seed))
    try:
        return RUNS[key]
    except KeyError:
        raise WorkflowError(
            f"no training job {key} in the sweep of this config (experiment, cell, budget, depth, seed)"
        ) from None


def experiment_cfg(wildcards):
    try:
        return CFG["experiments"][wildcards.experiment]
    except KeyError:
        raise WorkflowError(f"experiment {wildcards.experiment!r} is not in the config") from None


# --- data -------------------------------------------------------------------------------


def data_meta(experiment):
    return f"{rnncap_sweep.data_dir(CFG, experiment)}/meta.json"


def data_input(wildcards):
    """The text8 corpus when the workflow makes it (synthetic) or the user supplies it."""
    exp = experiment_cfg(wildcards)
    t = CFG["text8"]
    if exp["task"] == "text8" and (t["synthetic"] or not t["download"]):
        return {"corpus": t["path"]}
    return {}


def data_options(wildcards):
    exp = experiment_cfg(wildcards)
    from rnncap.plan.config import task_facts

    return json.dumps(task_facts(exp["task"], exp.get("options", {})).options, sort_keys=True, separators=(",", ":"))


def data_task(wildcards):
    return experiment_cfg(wildcards)["task"]


def out_dir(wildcards, output):
    """The directory of a rule's first output (its run/data/fit directory)."""
    return os.path.dirname(output[0])


# --- training ---------------------------------------------------------------------------


def train_input(wildcards):
    row = run_row(wildcards)
    inputs = {"data": data_meta(row["experiment"])}
    if row["source"]:
        src = dict(row, experiment=row["source"])
        inputs["source_best"] = f"{rnncap_sweep.run_dir(src)}/best.json"
    return inputs


def train_spec(wildcards):
    return rnncap_sweep.spec_json(rnncap_sweep.train_spec(CFG, run_row(wildcards)))


def train_runtime(wildcards, attempt):
    """Minutes: twice the modelled core-hours over the job's threads, at least 10, doubled per retry."""
    hours = run_row(wildcards)["est_core_hours"] / max(1, int(CFG["threads"]))
    return int(max(10, 2 * 60 * hours + 5)) * attempt


def train_priority(wildcards):
    """The modelled core-seconds: the scheduler starts the longest runs first (LPT), so that no
    long run is left alone at the end while the other cores idle."""
    return int(run_row(wildcards)["est_core_hours"] * 3600)


def data_priority(wildcards):
    """Above every train job of the experiment: data takes seconds, and a ready short train job
    must not hold back the data that a longer one waits for."""
    rows = SWEEP[SWEEP.experiment == wildcards.experiment]
    return int(rows["est_core_hours"].max() * 3600) + 1 if len(rows) else 0


def train_mem_mb(wildcards):
    """MB: a base for python+torch, plus activations kept for backprop, plus the corpus for text8."""
    row = run_row(wildcards)
    exp = CFG["experiments"][row["experiment"]]
    from rnncap.plan.config import task_facts

    facts = task_facts(exp["task"], exp.get("options", {}))
    s = exp["search"]
    floats = (
        min(s["ensemble"], s["trials"])
        * max(s["batch_size"], 1)
        * facts.seq_len
        * row["depth"]
        * row["width"]
        * 4
        * 3
    )
    mb = 1000 + floats * 4 / 2**20 + (1500 if exp["task"] == "text8" else 0)
    return int(min(mb, 64000))


# --- aggregate, fit, paper --------------------------------------------------------------


def all_trials():
    return [f"{d}/trials.parquet" for d in RUN_DIRS]


def all_best():
    return [f"{d}/best.json" for d in RUN_DIRS]


def write_run_list(path, dirs, log):
    """Rule run_list: one run directory per line (written atomically)."""
    from rnncap import io

    with io.atomic_path(path) as tmp:
        tmp.write_text("".join(f"{d}\n" for d in dirs))
    Path(log).write_text(f"{len(dirs)} run directories\n")


def roles_json(wildcards):
    return json.dumps(CFG["roles"], sort_keys=True, separators=(",", ":"))


def preset_name(wildcards):
    return CFG["preset"]


def fits_dir(wildcards, input):
    return os.path.dirname(input.fits[-1])


def figure_dir(wildcards, output):
    return os.path.dirname(output.pdf)


def figures_input_dir(wildcards, input):
    return os.path.dirname(input.figures[0])


def tables_input_dir(wildcards, input):
    return os.path.dirname(input.tables[0])


def final_outputs():
    """Figures, tables, scorecard, report, and every run's best.json: Snakemake does not
    regenerate a missing intermediate whose consumers are up to date, so a deleted run
    directory would otherwise stay deleted. Requested here, it is retrained, and then
    everything downstream of it (a rerun of it, aggregate, fit, figures) by mtime."""
    return (
        all_best()
        + expand("paper/figures/{fig}.{ext}", fig=FIGURES, ext=["pdf", "png"])
        + TABLE_OUTPUTS
        + ["paper/scorecard.md", "results/paper/rnncap.html"]
    )
