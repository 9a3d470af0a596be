"""The Snakemake workflow: dry runs of every preset, lint, the default profile, bad configs,
and (slow) a real end-to-end run of config/test.yaml with interruptions and partial reruns.

Every test runs in a temporary copy of the repository (tracked and untracked, non-ignored
files; no results/), so nothing here touches the checkout's results.
"""

import base64
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from rnncap import io
from rnncap.figures import FIGURES
from rnncap.plan.config import load_config
from rnncap.plan.jobs import sweep_table

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
DOWNSTREAM = {"run_list", "aggregate", "fit", "figure", "tables", "scorecard", "paper", "all"}
PER_RULE = {"figure": len(FIGURES)}  # one job per figure; every other downstream rule runs once


def copy_repo(dest: Path) -> Path:
    """Tracked + untracked non-ignored files of the checkout (symlinks kept), nothing computed."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         cwd=ROOT, capture_output=True, check=True).stdout.decode()
    for rel in filter(None, sorted(set(out.split("\0")))):
        src = ROOT / rel
        if not (src.exists() or src.is_symlink()) or rel.startswith(("results/", "logs/")):
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target, follow_symlinks=False)
    return dest


def smk(cwd: Path, *args: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=cwd, env=ENV, capture_output=True,
                       text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} exited {r.returncode}\n{r.stdout[-6000:]}\n{r.stderr[-6000:]}")
    return r


def job_stats(text: str) -> dict[str, int]:
    """The 'Job stats' table of a (dry) run as {rule: count} (empty if nothing to be done)."""
    i = text.find("Job stats:")
    if i < 0:
        return {}
    stats = {}
    for line in text[i:].splitlines()[3:]:
        m = re.match(r"^(\S+)\s+(\d+)\s*$", line)
        if not m:
            break
        if m.group(1) != "total":
            stats[m.group(1)] = int(m.group(2))
    return stats


def sweep_size(preset: str) -> int:
    return len(sweep_table(load_config(ROOT / "config" / preset, base_dir=ROOT)))


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return copy_repo(tmp_path_factory.mktemp("repo"))


# ----------------------------------------------------------------------------- dry runs

@pytest.mark.parametrize("preset", ["test.yaml", "config.yaml"])
def test_dry_run(repo, preset):
    r = smk(repo, "-n", "--quiet", "rules", "--configfile", f"config/{preset}")
    stats = job_stats(r.stdout + r.stderr)
    assert stats.get("train") == sweep_size(preset)
    assert stats.get("data") == len(load_config(ROOT / "config" / preset, base_dir=ROOT)["experiments"])
    for rule in DOWNSTREAM:
        assert stats.get(rule) == PER_RULE.get(rule, 1), rule
    assert re.search(r"rnncap \[\w+\]: \d+ training jobs, ~[\d.,]+ core-hours estimated", r.stderr)


def test_default_configfile_is_config_yaml_and_presets_do_not_merge(repo):
    """Without --configfile the Snakefile's config/config.yaml is used; with one, only that one
    (Snakemake would otherwise merge it into config.yaml's experiments)."""
    default = job_stats(smk(repo, "-n", "--quiet", "rules").stdout)
    assert default.get("train") == sweep_size("config.yaml")
    r = smk(repo, "-n", "--quiet", "rules", "--configfile", "config/test.yaml")
    assert job_stats(r.stdout).get("train") == sweep_size("test.yaml")
    assert "rnncap [test]" in r.stderr


def test_paper_dag_builds_fast(repo):
    t0 = time.perf_counter()
    r = smk(repo, "-n", "--quiet", "rules", "--configfile", "config/paper.yaml")
    dt = time.perf_counter() - t0
    stats = job_stats(r.stdout)
    n = sweep_size("paper.yaml")
    print(f"\npaper DAG: {sum(stats.values())} jobs ({stats.get('train')} train) built with -n in {dt:.1f} s")
    assert n >= 10_000 and stats.get("train") == n
    assert sum(stats.values()) > n
    assert dt < 120, f"paper dry run took {dt:.0f} s"


def test_lint(repo):
    r = smk(repo, "--lint", check=False)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]


def test_default_profile_is_found(repo):
    r = smk(repo, "-n", "--quiet", "rules")
    assert "Using workflow specific profile profiles/default" in r.stderr
    assert (repo / "profiles" / "default" / "profile.yaml").resolve() == \
        (repo / "workflow" / "profiles" / "default" / "profile.yaml").resolve()
    r = smk(repo, "-n", "--quiet", "rules", "--workflow-profile", "none")
    assert "Using workflow specific profile" not in r.stderr


def test_train_job_declares_threads_resources_and_spec(repo):
    r = smk(repo, "results/runs/capacity/gru/p400/d2/s0/best.json", "-n", "-p", "--cores", "4",
            "--configfile", "config/test.yaml")
    out = r.stdout
    assert "rnncap train --spec '{" in out and "--threads 1 --device cpu" in out
    assert '"budget":400' in out and '"depth":2' in out and '"data_dir":"results/data/capacity/seed0"' in out
    res = [line for line in re.findall(r"resources: (.*)", out) if "runtime" in line][0]
    assert re.search(r"\bruntime=\d+", res) and re.search(r"\bmem_mb=\d+", res) and "device=cpu" in res, res
    r = smk(repo, "results/runs/capacity/gru/p400/d2/s0/best.json", "-n", "-p", "--configfile", "config/test.yaml",
            "--cores", "4", "--config", "device=cuda", "threads=3")
    assert "--threads 3 --device cuda" in r.stdout


def test_train_jobs_start_longest_first(repo):
    """Each train job's priority is its modelled cost, so a long run never starts last on an idle machine;
    data jobs rank above the train jobs they unblock."""
    r = smk(repo, "-n", "--cores", "2", "--configfile", "config/repro.yaml")
    jobs = re.findall(r"rule train:.*?wildcards: experiment=(\S+), cell=(\S+), budget=(\d+), depth=(\d+), seed=(\d+)"
                      r"\s+priority: (\d+)", r.stdout, flags=re.S)
    cfg = load_config(ROOT / "config" / "repro.yaml", base_dir=ROOT)
    table = sweep_table(cfg)
    assert len(jobs) == len(table) > 10
    prio = {(e, c, int(b), int(d)): int(p) for e, c, b, d, _, p in jobs}
    cost = {(r.experiment, r.cell, int(r.budget), int(r.depth)): r.est_core_hours for r in table.itertuples()}
    order = sorted(cost, key=cost.get)
    assert [prio[k] for k in order] == sorted(prio[k] for k in order)
    assert prio[order[-1]] > prio[order[0]] > 0
    # an experiment's data (seconds) goes before any of its train jobs and before shorter ones elsewhere
    data = dict(re.findall(r"rule data:.*?wildcards: experiment=(\S+), data_seed=\d+\s+priority: (\d+)", r.stdout,
                           flags=re.S))
    assert set(data) == set(table.experiment)
    for exp, p in data.items():
        assert int(p) > max(v for k, v in prio.items() if k[0] == exp)


def test_rerun_depends_on_the_source_best(repo):
    r = smk(repo, "results/runs/parentheses-rerun/gru/p3000/d1/s0/best.json", "-n", "--quiet", "rules",
            "--configfile", "config/test.yaml")
    stats = job_stats(r.stdout)
    assert stats.get("train") == 2 and stats.get("data") == 2  # the source run and its data come first


@pytest.mark.parametrize("override,key", [
    (["threads=0"], "threads"),
    (["seeds=[]"], "seeds"),
    (["cells=[rnn,lsmt]"], "cells[1]"),
    (["device=tpu"], "device"),
    (["data_seed=-1"], "data_seed"),
    (["bogus_key=1"], "bogus_key"),
])
def test_bad_config_stops_before_any_job(tmp_path, override, key):
    repo = copy_repo(tmp_path)
    for args in (["-n"], ["--cores", "1"]):
        r = smk(repo, *args, "--config", *override, check=False)
        assert r.returncode != 0
        out = r.stdout + r.stderr
        assert f"bad config: {key}" in out, out[-3000:]
        assert "Building DAG" not in out
    assert not (repo / "results").exists() and not (repo / "logs").exists()


def test_bad_preset_budget_names_the_key(tmp_path):
    repo = copy_repo(tmp_path)
    cfg = (repo / "config" / "test.yaml").read_text()
    (repo / "config" / "test.yaml").write_text(cfg.replace("budgets: [200, 400]", "budgets: [200, 10]", 1))
    r = smk(repo, "-n", "--configfile", "config/test.yaml", check=False)
    assert r.returncode != 0
    assert "bad config: experiments.capacity.budgets[1]: budget 10 is below the smallest" in r.stdout + r.stderr


# ----------------------------------------------------------------------------- end to end

def cli_commands() -> set[str]:
    r = subprocess.run([str(BIN / "rnncap"), "--help"], capture_output=True, text=True, env=ENV)
    return set(re.findall(r"\b(data|train|aggregate|fit|tables|scorecard|paper)\b", r.stdout))


def runs_done(repo: Path) -> dict[str, int]:
    """Run directories Snakemake considers finished -> best.json mtime. A best.json alone is not
    enough: a job killed after writing it but before exiting is incomplete and is redone."""
    out = {}
    for p in (repo / "results" / "runs").glob("**/best.json"):
        key = base64.urlsafe_b64encode(str(p.relative_to(repo)).encode()).decode()  # Snakemake's record name
        if (repo / ".snakemake" / "metadata" / key).exists() and not (repo / ".snakemake" / "incomplete" / key).exists():
            out[str(p.parent.relative_to(repo))] = p.stat().st_mtime_ns
    return out


def run_until(repo: Path, n_done: int, sig: int, timeout: float = 600) -> dict[str, int]:
    """Start the test preset, wait until n_done run directories are finished, send `sig` to the
    whole process group (snakemake and its jobs), and return the finished runs' mtimes."""
    logf = open(repo / f"interrupted-{sig}.log", "w")
    # a pytest started in the background by a shell inherits SIGINT ignored, and so would
    # Snakemake (Python keeps an inherited SIG_IGN): restore the default before exec
    p = subprocess.Popen([sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", "config/test.yaml"],
                         cwd=repo, env=ENV, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    t0 = time.time()
    try:
        while len(runs_done(repo)) < n_done:
            assert p.poll() is None, f"workflow ended early: {(repo / f'interrupted-{sig}.log').read_text()[-3000:]}"
            assert time.time() - t0 < timeout, "no progress"
            time.sleep(0.2)
        done = runs_done(repo)
        for _ in range(12):  # Snakemake can miss a SIGINT that lands while it starts a job: resend
            os.killpg(p.pid, sig)
            try:
                p.wait(timeout=15)
                break
            except subprocess.TimeoutExpired:
                pass
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        logf.close()
    return done


@pytest.mark.slow
def test_end_to_end_test_preset(tmp_path):
    missing = {"data", "train", "aggregate", "fit", "tables", "scorecard", "paper"} - cli_commands()
    if missing:
        pytest.skip(f"rnncap CLI lacks {sorted(missing)} (written by other stages)")
    repo = copy_repo(tmp_path)
    n_jobs = sweep_size("test.yaml")

    # 1. interrupt with SIGINT after the first finished run, then with SIGKILL a bit later
    first = run_until(repo, 1, signal.SIGINT)
    second = run_until(repo, len(first) + 3, signal.SIGKILL)
    assert all(second[k] == v for k, v in first.items()), "a finished run was redone after SIGINT"
    assert len(second) < n_jobs, f"the workflow finished before it could be killed ({len(first)} after SIGINT)"
    smk(repo, "--unlock", "--configfile", "config/test.yaml")  # SIGKILL leaves the lock behind

    # 2. rerun to the end: finished runs are not redone (rerun-incomplete from the default profile)
    r = smk(repo, "--cores", "2", "--configfile", "config/test.yaml")
    done = runs_done(repo)
    assert len(done) == n_jobs
    redone = [k for k, v in second.items() if done[k] != v]
    assert not redone, f"finished runs were retrained: {redone}"
    for f in FIGURES:
        for ext in ("pdf", "png"):
            assert (repo / "paper" / "figures" / f"{f}.{ext}").stat().st_size > 0
        assert (repo / "results" / "notebooks" / f"{f}.ipynb").is_file()
    assert any((repo / "paper" / "tables").iterdir())
    assert (repo / "paper" / "scorecard.md").stat().st_size > 0
    assert (repo / "results" / "paper" / "rnncap.html").stat().st_size > 0
    assert (repo / "results" / "fits" / "numbers.json").is_file()
    assert (repo / "results" / "tables" / "trials.parquet").is_file()

    # 3. nothing left to do
    r = smk(repo, "-n", "--configfile", "config/test.yaml")
    assert "Nothing to be done" in r.stdout + r.stderr

    # 4. delete one run directory (with a rerun depending on it): only it, its dependent
    #    rerun and the downstream aggregate/fit/figures run again
    shutil.rmtree(repo / "results" / "runs" / "parentheses" / "rnn")
    stats = job_stats(smk(repo, "-n", "--quiet", "rules", "--configfile", "config/test.yaml").stdout)
    assert stats.get("train") == 2 and "data" not in stats and "make_test_corpus" not in stats
    assert set(stats) == {"train"} | DOWNSTREAM
    before = runs_done(repo)
    smk(repo, "--cores", "2", "--configfile", "config/test.yaml")
    after = runs_done(repo)
    changed = sorted(k for k in after if before.get(k) != after[k])
    assert changed == ["results/runs/parentheses-rerun/rnn/p3000/d1/s0", "results/runs/parentheses/rnn/p3000/d1/s0"]

    # 5. the Snakemake report (figures with their captions, scorecard, reproduction report)
    smk(repo, "--report", "report.html", "--configfile", "config/test.yaml")
    html = (repo / "report.html").read_text(errors="replace")
    assert "fig1.png" in html and "scorecard.md" in html and "rnncap.html" in html

    # 6. runtime choices retrain nothing; a config change touching one experiment reruns only its runs
    stats = job_stats(smk(repo, "-n", "--quiet", "rules", "--configfile", "config/test.yaml",
                          "--config", "device=cuda", "threads=2").stdout)
    assert stats == {}, "the device and threads are runtime choices and must not retrain anything"
    cfg = repo / "config" / "test.yaml"
    text = cfg.read_text()
    assert text.count("{trials: 3, ensemble: 3,") == 1
    cfg.write_text(text.replace("{trials: 3, ensemble: 3,", "{trials: 4, ensemble: 3,"))
    r = smk(repo, "-n", "--configfile", "config/test.yaml")
    assert job_stats(r.stdout).get("train") == 2 and "params have changed" in r.stdout
    assert re.findall(r"wildcards: experiment=([\w.-]+)", r.stdout) == ["parentheses-rerun"] * 2
    cfg.write_text(text)

    # 7. faults in a finished run: nothing finished is lost, nothing damaged is used silently
    tables = repo / "results" / "tables" / "trials.parquet"
    reference, before = io.read_parquet(tables), runs_done(repo)
    data = repo / "results" / "data" / "capacity" / "seed0"
    (data / "meta.json").write_text((data / "meta.json").read_text()[:40])  # truncated and touched
    stats = job_stats(smk(repo, "-n", "--quiet", "rules", "--configfile", "config/test.yaml").stdout)
    assert "train" not in stats, f"a touched data file must not rerun training: {stats}"

    # a damaged run table stops the aggregate, named; deleted, its run reruns and needs the data,
    # whose damaged meta.json is named; deleted with data.pt, the data is rebuilt and the runs
    # on it rerun reusing their finished trials: nothing is retrained, the tables come out as before
    run = repo / "results" / "runs" / "capacity" / "gru" / "p400" / "d2" / "s0"
    rel = run.relative_to(repo)
    (run / "trials.parquet").write_bytes((run / "trials.parquet").read_bytes()[:500])
    r = smk(repo, "--cores", "2", "--configfile", "config/test.yaml", check=False)
    log = (repo / "logs" / "aggregate.log").read_text()
    assert r.returncode != 0 and f"{rel}/trials.parquet: damaged file" in log and "Traceback" not in log, log
    (run / "trials.parquet").unlink()
    r = smk(repo, "--cores", "2", "--configfile", "config/test.yaml", check=False)
    train_log = repo / "logs" / "train" / "capacity" / "gru" / "p400" / "d2" / "s0.log"
    assert r.returncode != 0 and "meta.json: damaged file" in train_log.read_text(), train_log.read_text()[-2000:]
    (data / "meta.json").unlink()
    (data / "data.pt").unlink()
    stats = job_stats(smk(repo, "-n", "--quiet", "rules", "--configfile", "config/test.yaml").stdout)
    assert stats.get("data") == 1, stats  # Snakemake reruns what depends on a rebuilt file...
    smk(repo, "--cores", "2", "--configfile", "config/test.yaml")
    logs = sorted((repo / "logs" / "train" / "capacity").rglob("*.log"))
    assert len(logs) == stats["train"] >= 1
    for log in logs:  # ...and every such run reuses its finished trials: nothing is retrained
        text = log.read_text()
        assert "trials already done" in text and " done in " not in text and "not reusing" not in text, text
    after = runs_done(repo)
    assert {k for k in after if after[k] != before.get(k)} <= {str(p.parent.relative_to(repo)).replace(
        "logs/train", "results/runs") + "/" + p.stem for p in logs}
    pd.testing.assert_frame_equal(io.read_parquet(tables).drop(columns=["wall_s"]), reference.drop(columns=["wall_s"]))

    # a damaged aggregate table stops the fit, named
    good = tables.read_bytes()
    for i in range(len(good) // 3, len(good)):  # the first flip that changes content (most do)
        tables.write_bytes(good[:i] + bytes([good[i] ^ 0x10]) + good[i + 1:])
        try:
            io.read_parquet(tables)
        except io.DamagedFileError:
            break
    r = smk(repo, "--cores", "2", "--configfile", "config/test.yaml", "--forcerun", "fit", check=False)
    log = (repo / "logs" / "fit.log").read_text()
    assert r.returncode != 0 and "results/tables/trials.parquet: damaged file" in log and "Traceback" not in log, log

    # 8. every output has the permissions the umask gives (a lab's shared filesystem: 0022 -> 0644)
    umask = os.umask(0o022)
    os.umask(umask)
    modes = {p.stat().st_mode & 0o777 for p in (repo / "results").rglob("*") if p.is_file()}
    assert modes <= {0o666 & ~umask}, sorted(oct(m) for m in modes)
    assert not list((repo / "results").rglob(".*.tmp"))

