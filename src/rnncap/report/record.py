"""`rnncap reproduction`: freeze one finished run as a comparable record.

A user who reruns a preset wants to compare their numbers with ours, so a run's
aggregated outputs (never checkpoints) are copied to a folder that goes into git
(`paper/reproductions/<preset>/`), beside what made them: the command, the
machine, the wall time, the package versions and the commit. Two flat tables
carry the headline numbers in the form the issue tracker and the README quote:

- `capacity.csv`: one row per (cell, depth, budget): best MI and bits/parameter;
- `memory.csv`: one row per (cell, depth, width): best eval error per dimension;

and `targets.csv` states the workstation targets (`report.targets`) against them, met or
not, with the measured value. Everything here reads the fit's CSVs: the numbers
are the run's, not re-derived. The run's two aggregate tables (`trials.parquet`,
`best.parquet`, the fit's only inputs) go in too, checked on the way and less their
timing column, so that `rnncap record-figures` (report/rebuild.py) redraws everything
from the folder without training.
"""

from __future__ import annotations

import csv
import importlib.metadata as md
import json
import os
import platform
import shutil
import subprocess
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from .. import io
from .. import paper_values as P
from ..analysis.common import cell_sort_key, label, sort_cells
from ..figures import FIGURES
from ..plan.config import read_yaml
from . import markdown
from .claims import NOT_RUN, ROLES
from .scorecard import counts_line
from .targets import largest_budget, mean_over_cells, memory_numbers, met_line, targets

CAPACITY_COLUMNS = ["cell", "depth", "budget", "params", "width", "b", "best_mi_bits", "bits_per_param",
                    "n_trials", "n_feasible"]
MEMORY_COLUMNS = ["cell", "depth", "budget", "params", "width", "n_in", "eval_error_per_dim", "reference",
                  "n_trials", "n_feasible"]
JOB_COLUMNS = ["experiment", "cell", "budget", "depth", "seed", "wall_s", "max_rss_mb"]
TRIAL_TABLES = ("trials.parquet", "best.parquet")  # results/tables/: what `rnncap fit` reads
TIMING_COLUMNS = ("wall_s",)  # per trial: differs between reruns of equal numbers; jobs.csv has the times

PACKAGES = ("torch", "numpy", "pandas", "pyarrow", "scipy", "optuna", "snakemake",
            "snakemake-executor-plugin-slurm", "matplotlib", "seaborn", "papermill", "rnncap")


def capacity_table(best: pd.DataFrame) -> pd.DataFrame:
    """results/fits/capacity_best.csv -> capacity.csv rows."""
    out = best.rename(columns={"mi": "best_mi_bits"})
    return sort_cells(out, ("cell", "depth", "budget"))[CAPACITY_COLUMNS].reset_index(drop=True)


def memory_table(curve: pd.DataFrame) -> pd.DataFrame:
    """results/fits/memory.csv -> memory.csv rows."""
    out = curve.rename(columns={"error": "eval_error_per_dim"})
    return sort_cells(out, ("cell", "depth", "width"))[MEMORY_COLUMNS].reset_index(drop=True)


def job_times(benchmarks_dir: str | Path) -> pd.DataFrame:
    """Per training job wall seconds and peak RSS from Snakemake's benchmark TSVs
    (results/benchmarks/train/{experiment}/{cell}/p{budget}/d{depth}/s{seed}.tsv)."""
    rows = []
    root = Path(benchmarks_dir)
    for p in sorted(root.glob("*/*/p*/d*/s*.tsv")):
        exp, cell, b, d = p.relative_to(root).parts[:4]
        with p.open() as f:
            rec = next(csv.DictReader(f, delimiter="\t"), None)
        if rec is None:
            continue
        rss = pd.to_numeric(rec.get("max_rss", "nan"), errors="coerce")
        rows.append({"experiment": exp, "cell": cell, "budget": int(b[1:]), "depth": int(d[1:]),
                     "seed": int(p.stem[1:]), "wall_s": round(float(rec["s"]), 1),
                     "max_rss_mb": round(float(rss), 1) if np.isfinite(rss) else None})
    df = pd.DataFrame(rows, columns=JOB_COLUMNS)
    return sort_cells(df, ("experiment", "cell", "depth", "budget")).reset_index(drop=True) if len(df) else df


def copy_trial_tables(aggregate_dir: str | Path, out_dir: str | Path) -> dict[str, int]:
    """The run's aggregate tables into the record, read through `io.read_parquet` (a damaged
    one stops here, named) and written by `io.write_parquet` (checksummed) without the timing
    columns, which no fit reads. Returns {file: rows}; a table that is not there is left out
    (and an older copy of it in the folder removed: it would not be this run's)."""
    rows = {}
    for name in TRIAL_TABLES:
        src = Path(aggregate_dir) / name
        if not src.exists():
            (Path(out_dir) / name).unlink(missing_ok=True)
            continue
        df = io.read_parquet(src)
        io.write_parquet(Path(out_dir) / name, df.drop(columns=[c for c in TIMING_COLUMNS if c in df.columns]))
        rows[name] = len(df)
    return rows


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _mem_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def machine() -> dict[str, Any]:
    """What ran it: CPU model, cores this process may use, memory, GPU (if torch sees one)."""
    gpu = None
    try:
        import torch

        if torch.cuda.is_available():
            gpu = torch.cuda.get_device_name(0)
    except Exception:  # noqa: BLE001 - a record, not a requirement
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": _cpu_model(), "cores": cores, "memory_gib": _mem_gib(), "gpu": gpu,
            "os": f"{platform.system()} {platform.release()}", "python": platform.python_version()}


def versions(packages: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    out = {}
    for p in packages:
        try:
            out[p] = md.version(p)
        except md.PackageNotFoundError:
            out[p] = "not installed"
    return out


def git_commit(repo: str | Path = ".") -> str | None:
    try:
        r = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
        return r.stdout.strip() + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def _md_table(df: pd.DataFrame, floats: Mapping[str, int] | None = None) -> str:
    """A frame as a Markdown table: `floats` columns to fixed digits, booleans yes / **no**, cells by label."""
    floats = dict(floats or {})

    def show(col: str, v: Any) -> str:
        if col in floats and v is not None and not (isinstance(v, float) and np.isnan(v)):
            return f"{float(v):.{floats[col]}f}"
        if isinstance(v, (bool, np.bool_)):
            return "yes" if v else "**no**"
        return label(v) if col == "cell" else str(v)

    cols = list(df.columns)
    return markdown.table(cols, ([show(c, v) for c, v in zip(cols, r)] for r in df.itertuples(index=False)))


def claim_scales(config: Mapping[str, Any]) -> dict[str, str]:
    """The scale each claim ran at in a preset: the experiments its role reads, each with its
    `description` (the preset says there why that scale can show the effect) or, lacking one,
    its budgets and depths. A claim whose role the preset leaves out: "not run"."""
    roles, exps = config.get("roles") or {}, config.get("experiments") or {}
    out = {}
    for cid, role in ROLES.items():
        names = roles.get(role) or []
        names = [names] if isinstance(names, str) else list(names)
        parts = []
        for name in names:
            e = exps.get(name) or {}
            what = e.get("description") or f"budgets {e.get('budgets')}, depths {e.get('depths')}"
            parts.append(f"`{name}`: {' '.join(str(what).split())}")
        out[cid] = "; ".join(parts) if parts else "not run"
    return out


def _scorecard(path: str | Path) -> pd.DataFrame:
    """A scorecard.csv as written (every field text, "n/a" kept as text)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def claims_table(scorecard_csv: str | Path, config: Mapping[str, Any]) -> str:
    """The record's claims: counts, then each claim's verdict, our number and the scale it ran at."""
    sc = _scorecard(scorecard_csv)
    scales = claim_scales(config)
    rows = [[r.id, r.claim, r.paper, r.measured, f"**{r.verdict}**", scales.get(r.id, "")]
            for r in sc.itertuples(index=False)]
    table = markdown.table(("#", "Claim", "Paper", "Ours", "Verdict", "Scale here"), rows)
    return "\n".join([counts_line(sc["verdict"]), "", table])


def readme(preset: str, run: Mapping[str, Any], capacity: pd.DataFrame, memory: pd.DataFrame,
           tgt: pd.DataFrame, jobs: pd.DataFrame, trial_rows: Mapping[str, int] | None = None,
           claims_md: str | None = None) -> str:
    """The folder's README: how it was made, then the numbers."""
    wall = run.get("wall_s")
    wall_txt = f"{wall / 60:.1f} min ({wall:.0f} s)" if wall is not None else "not recorded"
    m = run["machine"]
    parts = [
        f"# Reproduction: preset `{preset}`",
        "",
        "One uninterrupted run of the preset from a clean clone; the aggregated tables, figures and "
        "scorecard it produced. Compare your run with these files.",
        "",
        f"- command: `{run['command']}`",
        f"- commit: `{run.get('commit')}`",
        f"- started: {run.get('started') or 'not recorded'}; wall time: **{wall_txt}**",
        f"- machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, GPU: {m['gpu'] or 'none'}, "
        f"{m['os']}, Python {m['python']}",
        "- packages: " + ", ".join(f"{k} {v}" for k, v in run["versions"].items()),
        "",
    ]
    if claims_md:
        parts += ["## The paper's claims at this scale", "", claims_md, "",
                  "Tolerances: `scorecard.md`; the preset's reasons for each scale: `config.yaml`.", ""]
    parts += [
        f"## Targets ({met_line(tgt)} met)",
        "",
        _md_table(tgt),
        "",
        "## Capacity at the largest budget",
        "",
        _md_table(largest_budget(capacity)[["cell", "depth", "params", "width", "b", "best_mi_bits",
                                            "bits_per_param", "n_trials"]],
                  {"best_mi_bits": 0, "b": 0, "bits_per_param": 2}) if len(capacity) else "not run",
        "",
        "Every budget: `capacity.csv`. Memory task: `memory.csv`. The paper's claims: `scorecard.md`.",
    ]
    if trial_rows and "trials.parquet" in trial_rows:
        parts += ["", f"Trial tables: `trials.parquet` ({trial_rows['trials.parquet']} trials), `best.parquet`. "
                  "Every figure, table, the scorecard and the paper document from them, without training: "
                  "`make record-figures RECORD=<this folder>`."]
    if len(jobs):
        per = jobs.groupby("experiment")["wall_s"].agg(["count", "sum", "max"]).reset_index()
        per.columns = ["experiment", "jobs", "core_s", "longest_s"]
        parts += ["", "## Where the time went (training jobs, one core each)", "",
                  _md_table(per, {"core_s": 0, "longest_s": 0}), "",
                  "Per job: `jobs.csv`."]
    return "\n".join(parts) + "\n"


def write(out_dir: str | Path, fits: str | Path, figures: str | Path, tables: str | Path, scorecard: str | Path,
          preset: str, command: str, wall_s: float | None = None, started: str | None = None,
          benchmarks: str | Path | None = None, config: str | Path | None = None,
          aggregate: str | Path | None = None) -> pd.DataFrame:
    """Write the reproduction folder; return the targets table. `aggregate`: the directory of the
    run's trial tables (results/tables); None: the record goes without them."""
    out, fits = Path(out_dir), Path(fits)
    out.mkdir(parents=True, exist_ok=True)
    trial_rows = copy_trial_tables(aggregate, out) if aggregate else {}
    cap = capacity_table(pd.read_csv(fits / "capacity_best.csv"))
    mem = memory_table(pd.read_csv(fits / "memory.csv"))
    tgt = targets(cap, mem)
    jobs = job_times(benchmarks) if benchmarks else pd.DataFrame(columns=JOB_COLUMNS)
    for name, df in (("capacity", cap), ("memory", mem), ("targets", tgt), ("jobs", jobs)):
        with io.atomic_path(out / f"{name}.csv") as tmp:
            df.to_csv(tmp, index=False)
    for name in ("capacity_summary.csv", "capacity_ratio.csv", "capacity_optimal_b.csv", "numbers.json"):
        if (fits / name).exists():
            shutil.copyfile(fits / name, out / name)
    sc = Path(scorecard)
    for p in (sc, sc.with_suffix(".csv")):
        if p.exists():
            shutil.copyfile(p, out / p.name)
    (out / "figures").mkdir(exist_ok=True)
    for f in FIGURES:  # every figure and Markdown table the run drew (a role left out draws "not run")
        if (Path(figures) / f"{f}.png").exists():
            shutil.copyfile(Path(figures) / f"{f}.png", out / "figures" / f"{f}.png")
    for t in sorted(Path(tables).glob("*.md")):
        shutil.copyfile(t, out / t.name)
    if config:
        shutil.copyfile(config, out / "config.yaml")
    run = {"preset": preset, "command": command, "wall_s": wall_s, "started": started,
           "commit": git_commit(), "machine": machine(), "versions": versions()}
    io.write_json(out / "run.json", run)
    claims_md = None
    if (out / "scorecard.csv").exists() and config:
        claims_md = claims_table(out / "scorecard.csv", read_yaml(config) or {})
    with io.atomic_path(out / "README.md") as tmp:
        tmp.write_text(readme(preset, run, cap, mem, tgt, jobs, trial_rows, claims_md))
    return tgt


def summary_markdown(folder: str | Path) -> str:
    """A committed reproduction in a few lines (paper document, README): how it ran, bits/param
    at the largest budget per cell and depth, the memory task, and the targets met."""
    folder = Path(folder)
    run = json.loads((folder / "run.json").read_text())
    cap = pd.read_csv(folder / "capacity.csv")
    mem = pd.read_csv(folder / "memory.csv")
    tgt = pd.read_csv(folder / "targets.csv")
    m = run["machine"]
    wall = run.get("wall_s")
    head = (f"Preset `{run['preset']}`: `{run['command']}`, {wall / 60:.0f} min wall" if wall is not None
            else f"Preset `{run['preset']}`: `{run['command']}`")
    head += f" on {m['cpu']} ({m['cores']} cores, GPU: {m['gpu'] or 'none'}); files in `{folder.as_posix()}/`."
    lines = [head, ""]
    if len(cap):
        top = largest_budget(cap)
        piv = top.pivot_table(index="cell", columns="depth", values="bits_per_param", aggfunc="first")
        piv = piv.loc[sorted(piv.index, key=cell_sort_key)]
        params = top.groupby("cell")["params"].max()
        header = ["cell", *(f"bits/param, depth {d}" for d in piv.columns), "params"]
        rows = [[label(cell), *("—" if pd.isna(v) else f"{v:.2f}" for v in r.values), int(params[cell])]
                for cell, r in piv.iterrows()]
        lines += [markdown.table(header, rows), "",
                  f"Mean over cells (depths averaged): **{mean_over_cells(top):.2f} bits per parameter** "
                  f"(paper: ≈{P.BPP_MEAN:g}).", ""]
    if len(mem):
        s = memory_numbers(mem)
        parts = []
        if s["n_points_at_or_above"]:
            parts.append(f"max eval error {s['max_error_at_or_above']:.3f} per dimension at n_h ≥ n_in "
                         f"({s['n_points_at_or_above']} points)")
        if s["n_points_below"]:
            parts.append(f"mean distance {s['mean_abs_dev_below']:.3f} from 1 − n_h/n_in below it "
                         f"({s['n_points_below']} points)")
        lines += [f"Memory task (n_in = {int(mem['n_in'].iloc[0])}): " + "; ".join(parts) + ".", ""]
    if len(tgt):
        lines.append(f"Workstation targets met: {met_line(tgt)} (`targets.csv`).")
    if (folder / "scorecard.csv").exists():
        sc = _scorecard(folder / "scorecard.csv")
        ran = sc[sc["verdict"] != NOT_RUN]
        rows = ([r.id, r.claim, r.measured, f"**{r.verdict}**"] for r in ran.itertuples(index=False))
        lines += ["", "The paper's claims in this record: " + counts_line(sc["verdict"]), "",
                  markdown.table(("#", "Claim", "Ours", "Verdict"), rows)]
        if len(ran) < len(sc):
            lines += ["", "Not run at this scale: " + ", ".join(sc.loc[sc["verdict"] == NOT_RUN, "id"]) + "."]
    return "\n".join(lines) + "\n"
