# The config, the job table and the lookups the rules call; the models behind them
# (cost, memory, runtime, paths, task facts) live in rnncap.plan.
# Functions only (no rules here: snakemake --lint wants them apart); rules never use lambdas.
import glob
import json
import os
import sys

from snakemake.exceptions import WorkflowError

from rnncap.analysis.fit import FIT_FILES, NUMBERS as FIT_NUMBERS
from rnncap.figures import FIGURES
from rnncap.model.cells import CELLS
from rnncap.plan import cost, gpu_cost, jobs, paths
from rnncap.plan.config import ConfigError, load_config, read_yaml
from rnncap.plan.experiment import experiment_facts
from rnncap.report.tables import BUILDERS as TABLE_BUILDERS

# --- shell rules call `rnncap`: make the one beside the Python running Snakemake win, so
# `.venv/bin/snakemake` works without activating the venv (a conda env's own bin, put
# first by --sdm conda, still takes precedence inside its jobs)
envvars:
    "PATH",


_BIN = os.path.dirname(sys.executable)
if _BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _BIN + os.pathsep + os.environ.get("PATH", "")

# --- config: the schema (with its defaults) and the semantic checks, once; rules read CFG
try:
    for _file in workflow.configfiles:  # Snakemake's YAML reader keeps the last of a repeated key
        read_yaml(_file)
    CFG = load_config(config, base_dir=os.getcwd())
except ConfigError as e:
    raise WorkflowError(f"bad config: {e}") from None

# --- the jobs: one row per training job, with its modelled core-hours and GPU-hours
SWEEP = jobs.sweep_table(CFG)
SWEEP["est_gpu_hours"] = gpu_cost.sweep_gpu_hours(CFG, SWEEP)
RUNS = {
    (r.experiment, r.cell, int(r.budget), int(r.depth), int(r.seed)): r._asdict()
    for r in SWEEP.itertuples(index=False)
}
RUN_DIRS = [paths.run_dir(r) for r in RUNS.values()]
RUN_GRID = jobs.spec_json(jobs.run_grid(CFG))
# committed runs (`rnncap reproduction`) that the report summarises; not produced by this DAG
REPRODUCTIONS = sorted(glob.glob("paper/reproductions/*/run.json") + glob.glob("paper/reproductions/*/*.csv"))
FIT_OUTPUTS = [f"results/fits/{name}.csv" for name in FIT_FILES] + [f"results/fits/{FIT_NUMBERS}"]
TABLE_OUTPUTS = [f"paper/tables/{name}.{ext}" for name in TABLE_BUILDERS for ext in ("tex", "md")]
TEST_CORPUS = CFG["text8"]["path"] if CFG["text8"]["synthetic"] else "results/test/text8_synthetic.txt"

_done = [os.path.exists(f"{d}/best.json") for d in RUN_DIRS]
print(f"rnncap [{CFG['preset']}]: {cost.describe(SWEEP, _done, gpu_cost.planning_cost().label)}", file=sys.stderr)


wildcard_constraints:
    experiment=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    cell="|".join(CELLS),
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


def out_dir(wildcards, output):
    """The directory of a rule's first output (its run/data/fit directory)."""
    return os.path.dirname(output[0])


# --- data -------------------------------------------------------------------------------


def data_input(wildcards):
    """The text8 corpus when the workflow makes it (synthetic) or the user supplies it."""
    t = CFG["text8"]
    if experiment_cfg(wildcards)["task"] == "text8" and (t["synthetic"] or not t["download"]):
        return {"corpus": t["path"]}
    return {}


def data_task(wildcards):
    return experiment_cfg(wildcards)["task"]


def data_options(wildcards):
    experiment_cfg(wildcards)  # a WorkflowError for an experiment not in the config
    return jobs.spec_json(experiment_facts(CFG, wildcards.experiment).options)


def data_priority(wildcards):
    """Above every train job of the experiment: data takes seconds, and a ready short train job
    must not hold back the data that a longer one waits for."""
    rows = SWEEP[SWEEP.experiment == wildcards.experiment]
    return int(rows["est_core_hours"].max() * 3600) + 1 if len(rows) else 0


# --- training ---------------------------------------------------------------------------


def train_input(wildcards):
    row = run_row(wildcards)
    # ancient: a rebuilt or touched data file reruns no training. The spec (params) names the
    # data exactly, and a run checks the data's checksum and reuses only trials made from it.
    inputs = {"data": ancient(f"{paths.data_dir(CFG, row['experiment'])}/meta.json")}
    if row["source"]:
        inputs["source_best"] = f"{paths.run_dir(dict(row, experiment=row['source']))}/best.json"
    # a warm start reads its smaller neighbours' finished trials: Snakemake trains them first
    warm = jobs.train_spec(CFG, row).get("warm_start")
    if warm:
        inputs["warm_start"] = warm
    return inputs


def train_spec(wildcards):
    return jobs.spec_json(jobs.train_spec(CFG, run_row(wildcards)))


def train_priority(wildcards):
    """The modelled core-seconds: the scheduler starts the longest runs first (LPT), so that no
    long run is left alone at the end while the other cores idle."""
    return int(run_row(wildcards)["est_core_hours"] * 3600)


def train_runtime(wildcards, attempt):
    """From the run's modelled GPU-hours when it trains on a GPU, else its core-hours."""
    row = run_row(wildcards)
    if CFG["device"].startswith("cuda"):
        return cost.runtime_minutes(row["est_gpu_hours"], 1, attempt)
    return cost.runtime_minutes(row["est_core_hours"], CFG["threads"], attempt)


def train_mem_mb(wildcards):
    row = run_row(wildcards)
    search = CFG["experiments"][row["experiment"]]["search"]
    return cost.train_mem_mb(experiment_facts(CFG, row["experiment"]), search, row["width"], row["depth"])


# --- aggregate, fit, paper --------------------------------------------------------------


def all_trials():
    return [f"{d}/trials.parquet" for d in RUN_DIRS]


def all_best():
    return [f"{d}/best.json" for d in RUN_DIRS]


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
    """Figures, tables, scorecard, report, every run's outputs and the aggregate tables:
    Snakemake does not regenerate a missing intermediate whose consumers are up to date, so a
    deleted run directory or run table (the fix for a damaged one) would otherwise stay
    deleted. Requested here, it is rebuilt (a run reuses its finished trials), and then
    everything downstream of it (a rerun of it, aggregate, fit, figures) by mtime."""
    return (
        all_best()
        + all_trials()
        + ["results/tables/trials.parquet", "results/tables/best.parquet"]
        + expand("paper/figures/{fig}.{ext}", fig=FIGURES, ext=["pdf", "png"])
        + TABLE_OUTPUTS
        + ["paper/scorecard.md", "results/paper/rnncap.html"]
    )
