"""SLURM profiles and real cluster submission.

* `test_profiles_*` run everywhere: the profiles parse, the generic ones carry no
  site values, only rule `train` asks for a GPU, training goes out in job groups
  (GPU profiles: one GPU per group), and the `config:` device override reaches
  the workflow (dry run of the toy workflow).
* `@pytest.mark.slurm` tests need the local cluster (`bash .ci/slurm/start.sh`,
  with `FAKE_GPUS=1` for the GPU test) and `RNNCAP_SLURM=1`; they run the toy
  workflow in tests/fixtures/slurm_toy, a lab-shaped slice of the pipeline and
  the test preset through workflow/profiles/ci-slurm*, and show why training
  is grouped rather than submitted as SLURM job arrays.

`run_through_profile` is the reusable runner: another test can run the real
pipeline (e.g. extra_args=["--configfile", "config/test.yaml"]) through the
same profiles.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PROFILES = ROOT / "workflow" / "profiles"
TOY = Path(__file__).resolve().parent / "fixtures" / "slurm_toy"
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
GENERIC = ["slurm", "slurm-gpu"]
CI = ["ci-slurm", "ci-slurm-gpu"]
GPU_PROFILES = ["slurm-gpu", "ci-slurm-gpu"]


# --------------------------------------------------------------------- helpers
def _sh(*cmd: str, timeout: int = 15) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def _cluster_up() -> bool:
    if shutil.which("sinfo") is None:
        return False
    try:
        return _sh("sinfo", "-h").returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _fake_gpus() -> int:
    """GPUs the local node advertises (0 when the cluster runs without FAKE_GPUS)."""
    out = _sh("sinfo", "-h", "-N", "-o", "%G").stdout
    m = re.search(r"gpu:(?:[^:,\s]+:)?(\d+)", out)
    return int(m.group(1)) if m else 0


slurm_cluster = pytest.mark.skipif(
    os.environ.get("RNNCAP_SLURM") != "1" or not _cluster_up(),
    reason="needs RNNCAP_SLURM=1 and a running SLURM cluster (bash .ci/slurm/start.sh)",
)


def run_through_profile(
    workdir: str | os.PathLike,
    profile: str,
    targets: list[str] | tuple[str, ...] = (),
    extra_args: list[str] | tuple[str, ...] = (),
    timeout: int = 600,
) -> subprocess.CompletedProcess:
    """Run `snakemake --profile workflow/profiles/<profile>` in `workdir`.

    `profile` is a profile directory name under workflow/profiles (or a path).
    Wrapped in `timeout -s INT`: the SLURM plugin ignores SIGTERM while jobs run
    and hangs if its status command fails, SIGINT stops it. Returns the
    CompletedProcess (stdout+stderr merged in `.stdout`); the caller asserts.
    """
    prof = Path(profile)
    if not prof.is_absolute() and not prof.exists():
        prof = PROFILES / profile
    cmd = [
        "timeout", "-s", "INT", str(timeout),
        str(SNAKEMAKE), "--profile", str(prof.resolve()),
        *targets, *extra_args,  # targets first: `--configfile a.yaml` would swallow them
    ]
    env = dict(os.environ)
    # Jobs run `python -m snakemake` from the submitting environment (sbatch --export=ALL).
    env["PATH"] = f"{SNAKEMAKE.parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        cmd, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _toy_copy(tmp_path: Path) -> Path:
    work = tmp_path / "toy"
    shutil.copytree(TOY, work)
    return work


def _read_kv(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        k, _, v = line.partition("=")
        out[k] = v
    return out


def _sacct(job_ids: list[str], fields: str, wait_s: float = 20) -> dict[str, dict[str, str]]:
    """sacct rows (allocation only) of the last 15 min for the given job ids.

    Records reach slurmdbd 1-2 s after a job ends; poll until all ids are there.
    """
    names = fields.split(",")
    deadline = time.monotonic() + wait_s
    while True:
        res = _sh("sacct", "-X", "-n", "-P", "-S", "now-15minutes", "-o", fields)
        rows = {}
        for line in res.stdout.splitlines():
            vals = line.split("|")
            if len(vals) == len(names):
                rows[vals[0]] = dict(zip(names, vals))
        if all(j in rows for j in job_ids) or time.monotonic() > deadline:
            return rows
        time.sleep(1)


def _check_train_outputs(work: Path, samples, expect_device: str) -> list[str]:
    """The distinct SLURM job ids the train jobs ran in."""
    ids = []
    for sample in samples:
        kv = _read_kv(work / "results" / "train" / f"{sample}.txt")
        assert kv["slurm_job_id"].isdigit(), kv
        assert kv["partition"] == "main", kv
        assert kv["device"] == expect_device, kv
        assert kv["threads"] == "1", kv
        ids.append(kv["slurm_job_id"])
    summary = (work / "results" / "summary.txt").read_text()
    assert re.match(r"summarize slurm_job_id=\d+\n", summary), summary
    return sorted(set(ids))


def _train_jobs(since: str) -> dict[str, dict]:
    """Training's SLURM jobs since `since`: {job id: {"state", "steps" (srun steps, one per run)}}.

    The plugin's comment is rule_train... for single jobs and groups alike; a group's runs
    are the numbered steps of its allocation (<id>.0, <id>.1, ...)."""
    time.sleep(3)  # records reach slurmdbd 1-2 s after a job ends
    res = _sh("sacct", "-n", "-P", "-S", since, "-o", "JobID,Comment,State")
    jobs: dict[str, dict] = {}
    for line in res.stdout.splitlines():
        jid, comment, state = (line.split("|") + ["", ""])[:3]
        if comment.startswith("rule_train"):
            jobs[jid] = {"state": state, "steps": 0}
        elif re.fullmatch(r"\d+\.\d+", jid) and jid.split(".")[0] in jobs:
            jobs[jid.split(".")[0]]["steps"] += 1
    return jobs


# ----------------------------------------------------------------- unit tests
def _profile(name: str) -> dict:
    path = PROFILES / name / "profile.yaml"
    assert path.is_file(), path
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict) and data, path
    return data


def _all_resource_keys(prof: dict) -> dict[str, dict]:
    """{'*default*': default-resources, rule: set-resources[rule], ...}"""
    out = {"*default*": prof.get("default-resources") or {}}
    out.update(prof.get("set-resources") or {})
    return out


@pytest.mark.parametrize("name", GENERIC + CI)
def test_profiles_parse(name):
    prof = _profile(name)
    assert prof["executor"] == "slurm"
    assert prof["set-threads"]["train"] == 1
    # training in Snakemake job groups (not SLURM arrays: see test_arrays_*), several runs each
    assert prof["groups"] == {"train": "train"} and prof["group-components"]["train"] > 1
    assert "slurm-array-jobs" not in prof
    if name in GPU_PROFILES:  # one GPU per group job, its runs one after another
        assert prof["resources"] == {"gpu": 1} and prof["set-resource-scopes"] == {"gpu": "local"}
    else:  # a group job's CPUs
        assert prof["cores"] >= prof["set-threads"]["train"]
    res = _all_resource_keys(prof)
    assert {"runtime", "mem_mb"} <= set(res["*default*"])
    if name in CI:
        assert prof["slurm-init-seconds-before-status-checks"] == 1
        assert prof["slurm-keep-successful-logs"] is True
        assert res["*default*"]["slurm_partition"] == "main"


@pytest.mark.parametrize("name", GENERIC)
def test_profiles_generic_have_no_site_values(name):
    prof = _profile(name)
    assert prof["retries"] == 1  # rule train's runtime grows with `attempt`
    # train's runtime/mem_mb are per-run estimates of the rule itself: not overridden
    assert set((prof.get("set-resources") or {}).get("train", {})) <= {"gpu"}
    for rule, res in _all_resource_keys(prof).items():
        for key in ("slurm_partition", "slurm_account"):
            assert key not in res, f"{name}: {rule} sets {key}"
    for key in ("slurm-partition", "slurm-account", "slurm-no-account"):
        assert key not in prof


@pytest.mark.parametrize("name", GENERIC + CI)
def test_profiles_gpu_only_for_train(name):
    prof = _profile(name)
    gpu_keys = {"gpu", "gres", "gpu_model", "cpus_per_gpu", "tasks_per_gpu"}
    for rule, res in _all_resource_keys(prof).items():
        asked = gpu_keys & set(res)
        if name in GPU_PROFILES and rule == "train":
            assert res.get("gpu") == 1, res
        else:
            assert not asked, f"{name}: {rule} asks for {asked}"
    if name not in GPU_PROFILES:
        assert "config" not in prof


@pytest.mark.parametrize("name,device", [("slurm", "cpu"), ("slurm-gpu", "cuda"), ("ci-slurm-gpu", "cpu")])
def test_profiles_device_reaches_workflow(tmp_path, name, device):
    """The profile's `config:` entry overrides the configfile (dry run, no cluster needed)."""
    work = _toy_copy(tmp_path)
    res = run_through_profile(work, name, extra_args=["--dry-run"], timeout=120)
    assert res.returncode == 0, res.stdout
    train_cmds = [l for l in res.stdout.splitlines() if l.startswith("Shell command: printf")]
    assert len(train_cmds) == 2, res.stdout
    assert all(l.endswith(f" {device} 1 > results/train/{s}.txt") for l, s in zip(sorted(train_cmds), "ab")), train_cmds
    gpu = [l for l in res.stdout.splitlines() if "resources:" in l and "gpu=1" in l]
    assert len(gpu) == (2 if name in GPU_PROFILES else 0), res.stdout
    assert res.stdout.count("Group job train") == 1, res.stdout  # both train jobs in one group


# --------------------------------------------------------------- cluster tests
@pytest.mark.slurm
@slurm_cluster
def test_toy_workflow_through_ci_slurm(tmp_path):
    work = _toy_copy(tmp_path)
    since = time.strftime("%Y-%m-%dT%H:%M:%S")
    res = run_through_profile(work, "ci-slurm")
    assert res.returncode == 0, res.stdout
    ids = _check_train_outputs(work, ["a", "b"], expect_device="cpu")
    assert len(ids) == 1, ids  # the two train jobs went out as one group job
    rows = _sacct(ids, "JobID,Comment,State,AllocCPUS")
    for j in ids:
        assert j in rows, (j, rows)
        assert rows[j]["Comment"].startswith("rule_train"), rows[j]
        assert rows[j]["State"] == "COMPLETED", rows[j]
        assert rows[j]["AllocCPUS"] == "2", rows[j]  # the profile's `cores`: both runs at once
    assert _train_jobs(since)[ids[0]]["steps"] == 2
    # the plugin kept the logs of the successful jobs (slurm-keep-successful-logs):
    # .snakemake/slurm_logs/group_train.../<jobid>.log
    logs = (work / ".snakemake/slurm_logs").glob("group_train*/**/*.log")
    assert sorted(p.stem for p in logs) == sorted(ids)


@pytest.mark.slurm
@slurm_cluster
def test_toy_workflow_through_ci_slurm_gpu(tmp_path):
    if _fake_gpus() < 1:
        pytest.skip("cluster has no GPUs (restart with FAKE_GPUS=1 bash .ci/slurm/start.sh)")
    work = _toy_copy(tmp_path)
    # A --configfile as the real pipeline will use; it does not touch the profile's
    # `config: {device: cpu}`.
    (work / "three.yaml").write_text("samples: [a, b, c]\n")
    res = run_through_profile(work, "ci-slurm-gpu", extra_args=["--configfile", "three.yaml"])
    assert res.returncode == 0, res.stdout
    ids = _check_train_outputs(work, ["a", "b", "c"], expect_device="cpu")
    assert len(ids) == 1, ids  # one group job, one GPU, the three runs one after another
    for s in "abc":
        kv = _read_kv(work / "results" / "train" / f"{s}.txt")
        assert re.fullmatch(r"\d+", kv["cuda_visible_devices"]), kv
    rows = _sacct(ids, "JobID,Comment,State,ReqTRES,AllocTRES,AllocCPUS")
    assert rows[ids[0]]["AllocCPUS"] == "1", rows  # layered one per layer by the gpu=1 pool
    for j in ids:
        assert j in rows, (j, rows)
        assert rows[j]["Comment"].startswith("rule_train"), rows[j]
        assert rows[j]["State"] == "COMPLETED", rows[j]
        assert "gres/gpu" in rows[j]["ReqTRES"] and "gres/gpu=1" in rows[j]["AllocTRES"], rows[j]
    # the downstream rule did not ask for a GPU
    summary_id = re.match(r"summarize slurm_job_id=(\d+)", (work / "results/summary.txt").read_text()).group(1)
    row = _sacct([summary_id], "JobID,Comment,State,ReqTRES,AllocTRES")[summary_id]
    assert row["State"] == "COMPLETED" and "gres/gpu" not in row["AllocTRES"], row


@pytest.mark.slurm
@slurm_cluster
def test_real_pipeline_test_preset_through_ci_slurm(tmp_path):
    """config/test.yaml end to end with every non-local job submitted through sbatch."""
    from test_workflow import copy_repo

    repo = copy_repo(tmp_path / "repo")
    since = time.strftime("%Y-%m-%dT%H:%M:%S")
    t0 = time.monotonic()
    res = run_through_profile(repo, "ci-slurm", extra_args=["--configfile", "config/test.yaml"], timeout=1200)
    assert res.returncode == 0, res.stdout[-6000:]
    print(f"test preset through SLURM: {time.monotonic() - t0:.0f} s")
    for fig in ("fig1", "fig2", "fig3", "fig4", "fig5", "figA1"):
        assert (repo / "paper" / "figures" / f"{fig}.png").stat().st_size > 0
    n_runs = len(list((repo / "results" / "runs").glob("*/*/p*/d*/s*/best.json")))
    # every training job ran in a SLURM group job of up to 4 DAG components (ci-slurm's
    # group-components; a rerun and its source run are one), one srun step per run, and every
    # group job completed
    jobs = _train_jobs(since)
    assert n_runs > 0 and sum(j["steps"] for j in jobs.values()) == n_runs, (n_runs, jobs)
    assert len(jobs) <= math.ceil(n_runs / 4), (n_runs, jobs)
    assert all(j["state"] == "COMPLETED" for j in jobs.values()), jobs


LAB_SLICE = """\
# A lab run's shape at toy size (config/lab.yaml's layout): a searched experiment over cells x
# budgets x depths x seeds, each run's trials packed into one ensemble, stopped by halving and
# warm-started from its smaller neighbours (so runs depend on runs), and a random-HP experiment.
preset: lab-slice
device: cpu
threads: 1
seeds: [0, 1]
cells: [rnn, gru]
experiments:
  capacity:
    task: capacity
    options: {n_in: 12, seq_len: 3, n_samples: 1024}
    budgets: [200, 400]
    depths: [1, 2]
    search: {trials: 4, ensemble: 4, batch_size: 64, eval_batch_size: 512, steps: [20, 20],
             eval_every: 10, checkpoint_every: 10, initial_points: 2, halving: {eta: 2, min_steps: 5},
             warm_start: true}
  parentheses-random:
    task: parentheses
    mode: random
    options: {seq_len: 8, n_eval: 64}
    budgets: [3000]
    depths: [1, 2]
    seeds: [0]
    search: {trials: 4, ensemble: 4, batch_size: 64, steps: [20, 20], eval_every: 10, checkpoint_every: 10}
"""


@pytest.mark.slurm
@slurm_cluster
def test_lab_slice_goes_out_in_groups(tmp_path):
    """20 training runs of a lab-shaped config through ci-slurm: far fewer group jobs than runs
    (warm starts chain each cell's and seed's runs into one connected component of the group),
    every run an srun step, all completed, every run's results there, halving recorded."""
    from test_workflow import copy_repo

    repo = copy_repo(tmp_path / "repo")
    (repo / "lab.yaml").write_text(LAB_SLICE)
    since = time.strftime("%Y-%m-%dT%H:%M:%S")
    res = run_through_profile(repo, "ci-slurm", targets=["results/tables/best.parquet"],
                              extra_args=["--configfile", "lab.yaml"], timeout=900)
    assert res.returncode == 0, res.stdout[-6000:]
    assert re.search(r"20 training jobs, ~[\d.,]+ core-hours estimated on CPU, ~[\d.,]+ GPU-hours", res.stdout)
    assert len(list((repo / "results" / "runs").glob("*/*/p*/d*/s*/best.json"))) == 20
    jobs = _train_jobs(since)
    assert sum(j["steps"] for j in jobs.values()) == 20 and len(jobs) <= 10, jobs
    assert all(j["state"] == "COMPLETED" for j in jobs.values()), jobs
    trials = pd.read_parquet(repo / "results" / "tables" / "trials.parquet")
    cap = trials[trials["experiment"] == "capacity"]
    assert len(cap) == 16 * 4 and cap["stopped"].any() and (cap["rung"] >= 1).any()
    cpus = _sacct(list(jobs), "JobID,AllocCPUS")
    assert all(cpus[j]["AllocCPUS"] == "2" for j in jobs), cpus


@pytest.mark.slurm
@slurm_cluster
def test_arrays_give_every_task_the_first_jobs_limits(tmp_path):
    """Why training is grouped, not submitted as a SLURM job array: with the pinned plugin
    (2.8.0) `--slurm-array-jobs train` sends six runs whose runtimes differ (10-35 min) as one
    array, and every task gets one time limit. (The other defect, plugin issue #473: when
    fewer jobs are selected than are ready, here `--jobs 4` with 12 ready, the selected ones
    are dropped and the run hangs; not run here, it only ends at the timeout.) A plugin that
    passes this test no more needs a look before arrays replace groups."""
    work = _toy_copy(tmp_path)
    snakefile = work / "Snakefile"
    text = snakefile.read_text()
    snakefile.write_text(text.replace("    threads: 1\n    params:", "    threads: 1\n    resources:\n"
                                      "        runtime=lambda wc: 10 + 5 * SAMPLES.index(wc.sample),\n    params:"))
    (work / "six.yaml").write_text("samples: [a, b, c, d, e, f]\n")
    since = time.strftime("%Y-%m-%dT%H:%M:%S")
    res = run_through_profile(work, "ci-slurm", timeout=300, extra_args=[
        "--configfile", "six.yaml", "--slurm-array-jobs", "train", "--jobs", "10",
        "--groups", "summarize=summarize"])  # replaces the profile's `groups` whole: train ungrouped
    assert res.returncode == 0, res.stdout
    time.sleep(3)
    out = _sh("sacct", "-X", "-n", "-P", "-S", since, "-o", "JobID,Timelimit").stdout
    limits = {jid: lim for jid, lim in (l.split("|") for l in out.splitlines()) if "_" in jid}
    assert len(limits) == 6, out  # one array of six tasks
    assert len(set(limits.values())) == 1, limits  # the runs' own 10-35 min are lost
