"""The cost models per device (rnncap.plan.cost: CPU core-hours, rnncap.plan.gpu_cost:
GPU-hours): how they scale, their fit to the committed logs, the refit, and what the dry run
and config/paper.yaml's header say."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from rnncap.plan import gpu_cost, gpu_data
from rnncap.plan.config import load_config
from rnncap.plan.cost import describe, sequence_macs, step_seconds
from rnncap.plan.gpu_cost import GpuCost, fit_gpu, gpu_step_seconds, parse_log, run_gpu_hours, step_work
from rnncap.plan.jobs import sweep_table
from rnncap.tasks import TaskFacts

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "docs" / "benchmarks"
COEF = GpuCost({"rnn": 150.0, "gru": 700.0}, 1.0, 2.0e13, 0.0, "test")
NO_OVERHEAD = {"batch_overhead_s": 0.0, "eval_fraction": 0.0}


def facts(seq_len: int = 20, n_in: int = 16) -> TaskFacts:
    return TaskFacts("t", {}, n_in, 10, seq_len, (seq_len - 1,), "dense", 0)


def search(**kw) -> dict:
    return {"ensemble": 8, "trials": 8, "batch_size": 128, "steps": [1000, 1000]} | kw


def hours(cell="rnn", width=16, depth=1, f=None, coef=COEF, **kw) -> float:
    members = kw.pop("members", None)
    return run_gpu_hours(cell, width, depth, f or facts(), search(**kw), NO_OVERHEAD, coef, members=members)


# ------------------------------------------------------------------ GPU-hours scale as documented

def test_gpu_hours_scale_with_steps():
    assert hours(steps=[2000, 2000]) == pytest.approx(2 * hours(steps=[1000, 1000]))
    assert hours(width=512, steps=[2000, 2000]) == pytest.approx(2 * hours(width=512))


def test_small_models_are_launch_bound_members_ride_free():
    """Width 16: a step of 64 members costs what one of 8 does, so 64 trials cost 1/8 the hours
    in ensembles of 64 as in ensembles of 8; the step is T*L*launch_us + step_ms."""
    assert hours(ensemble=64, trials=64) == pytest.approx(hours(ensemble=8, trials=64) / 8)
    t = gpu_step_seconds("rnn", 2, 20, step_work("rnn", 16, 2, facts()), 128, 8, COEF)
    assert t == pytest.approx(20 * 2 * 150e-6 + 1e-3)
    assert hours(cell="gru") > 3 * hours(cell="rnn")  # per-cell launch cost


def test_wide_models_are_matmul_bound_scale_with_members_and_work():
    f = facts(n_in=512)
    w = step_work("rnn", 1024, 1, f)
    assert w == sequence_macs("rnn", 1024, 1, 512, 10, 20, 1)
    t8 = gpu_step_seconds("rnn", 1, 20, w, 128, 8, COEF)
    assert t8 == pytest.approx(6 * 8 * 128 * w / 2e13)
    assert gpu_step_seconds("rnn", 1, 20, w, 128, 32, COEF) == pytest.approx(4 * t8)
    # matmul-bound: the ensemble size no longer matters for a run's hours; the width does
    assert hours(width=1024, f=f, ensemble=32, trials=32) == pytest.approx(hours(width=1024, f=f, ensemble=8,
                                                                                 trials=32))
    w2 = step_work("rnn", 2048, 1, f)
    assert hours(width=2048, f=f) / hours(width=1024, f=f) == pytest.approx(w2 / w)


def test_members_per_process_is_the_packing_input():
    """Runs packed P to a process share its steps: launch-bound, each pays 1/P; never below
    its matmuls. The default is the run's own ensemble."""
    assert hours(members=8) == hours()
    assert hours(members=32) == pytest.approx(hours() / 4)
    wide = dict(width=1024, f=facts(n_in=512))
    assert hours(members=64, **wide) == pytest.approx(hours(**wide))


def test_halving_and_start_up_count():
    halving = {"eta": 3, "min_steps": 100}
    # stopped members leave the stacked tensors: that saves matmuls, not kernel launches
    assert hours(halving=halving) == pytest.approx(hours())
    assert hours(width=1024, f=facts(n_in=512), halving=halving) < hours(width=1024, f=facts(n_in=512)) / 2
    started = GpuCost(COEF.launch_us, COEF.step_ms, COEF.flops_per_s, 36.0, "x")
    assert hours(coef=started) == pytest.approx(hours() + 0.01)
    assert hours(coef=started, members=32) == pytest.approx(hours(members=32) + 0.0025)


# ------------------------------------------------------------------ the fit and the refit

def synthetic_log(coef: GpuCost, fmt: str) -> str:
    """A benchmarks/throughput.py log whose every row the model of `coef` makes exactly."""
    lines = ["# torch 9.9, device cuda (NVIDIA X900 96GB), threads 1, T=20, batch 128 per member, compile=False"]
    for cell in coef.launch_us:
        for depth in (1, 4):
            for width in (16, 64, 256, 512):
                for E in (1, 8, 32, 128, 512):
                    t = gpu_step_seconds(cell, depth, 20, step_work(cell, width, depth, facts(n_in=width)), 128, E,
                                         coef)
                    thr = E * 128 / t
                    row = {"cell": cell, "width": width, "depth": depth, "ensemble": E, "device": "cuda",
                           "model_seq_per_s": thr}
                    lines.append(json.dumps(row) if fmt == "json" else
                                 f"{cell:6} {width:5d} {depth:5d} {E:4d} {thr:13.0f} {1:13.0f} {1:13.0f}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_fit_recovers_the_coefficients_of_a_synthetic_log(fmt):
    rows = parse_log(synthetic_log(COEF, fmt))
    assert len(rows) == 2 * 2 * 4 * 5
    got = fit_gpu(rows)
    for cell, v in COEF.launch_us.items():
        assert got.launch_us[cell] == pytest.approx(v, rel=0.01)
    assert got.step_ms == pytest.approx(COEF.step_ms, rel=0.02)
    assert got.flops_per_s == pytest.approx(COEF.flops_per_s, rel=0.01)
    assert np.allclose(gpu_cost.ratios(got, rows), 1.0, atol=0.01)


def test_parse_log_skips_rows_without_throughput_and_refuses_cpu_logs():
    text = ("gru      256     4    8       skipped (estimated 2.9 s/step)\n"
            "gru      256     4    1          355           329           377     1.08    0.94\n"
            '{"cell": "rnn", "width": 16, "depth": 1, "ensemble": 32, "device": "cuda", "model_seq_per_s": null}\n')
    assert parse_log(text) == [{"cell": "gru", "width": 256, "depth": 4, "ensemble": 1, "model_seq_per_s": 355.0}]
    with pytest.raises(ValueError, match="CPU"):
        parse_log('{"cell": "rnn", "width": 16, "depth": 1, "ensemble": 1, "device": "cpu", "model_seq_per_s": 5}')
    with pytest.raises(ValueError, match="CPU"):
        parse_log((BENCH / "throughput-cpu.txt").read_text())
    assert gpu_cost.device_name((BENCH / "throughput-cuda-h100.txt").read_text()) == "H100"


def test_refit_writes_a_data_file_the_plan_fits(tmp_path):
    log = tmp_path / "bench.txt"
    log.write_text(synthetic_log(COEF, "table"))
    data = tmp_path / "gpu_data.py"
    out = gpu_cost.refit(str(log), write=True, only=True, data_path=str(data))
    assert out.startswith("X900 alone: launch_us: gru 700, rnn 150; step_ms 1.000") and "X900-class" in out
    ns: dict = {}
    exec(data.read_text(), ns)
    assert list(ns["LOGS"]) == ["X900"] and ns["START"] == gpu_data.START
    again = gpu_cost.fit_logs(ns["LOGS"], ns["START"])
    assert again.flops_per_s == pytest.approx(COEF.flops_per_s, rel=0.01)
    assert gpu_cost.render_data(ns["LOGS"], ns["START"]) == data.read_text()  # a fixed point


# ------------------------------------------------------------------ the committed measurements

@pytest.mark.parametrize("name", list(gpu_data.LOGS))
def test_gpu_data_is_the_committed_logs(name):
    src, text = gpu_data.LOGS[name]
    assert gpu_cost.parse_rows(text) == parse_log((ROOT / src).read_text())
    assert gpu_cost.format_rows(parse_log((ROOT / src).read_text())) == text.rstrip("\n")


def test_gpu_start_up_is_the_committed_slice():
    src, total, train = gpu_data.START
    log = (ROOT / src).read_text()
    assert f"done in {train}s" in log and f"wall {total:.0f} s" in log


def test_planning_model_fits_the_committed_logs():
    coef = gpu_cost.planning_cost()
    rows = [r for _, t in gpu_data.LOGS.values() for r in gpu_cost.parse_rows(t)]
    lo, hi = np.percentile(gpu_cost.ratios(coef, rows), [10, 90])
    assert 0.8 <= lo and hi <= 1.25, (lo, hi)
    assert 1.5e13 < coef.flops_per_s < 3.5e13  # fp32 without TF32 on an H100/H200: ~1/3 of peak
    assert coef.label == "H100/H200-class"


def test_cpu_matmul_rate_follows_the_committed_cpu_log():
    """E=8 depth-1 rows of docs/benchmarks/throughput-cpu.txt: the all-in GFLOP/s is within
    0.55-1.15x of the rate curve, and the default model plans width-256 steps at 0.9-1.7x their
    measured time (it was 3-4x with one rate for all widths)."""
    from rnncap.plan.cost import cpu_matmul_rate

    defaults = {"overhead_us": 250.0, "elem_ns": 5.0, "gather_ns": 7.5, "flops_per_s": 25e9}
    text = (BENCH / "throughput-cpu.txt").read_text()
    seen = 0
    for m in re.finditer(r"^(\w+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s", text, re.M):
        cell, n, L, E, thr = m[1], int(m[2]), int(m[3]), int(m[4]), float(m[5])
        f = facts(n_in=n)
        macs = sequence_macs(cell, n, L, n, 10, 20, 1)
        measured = E * 128 / thr
        if E == 8 and L == 1:
            assert 0.55 < 6 * macs * E * 128 / measured / cpu_matmul_rate(n, defaults) < 1.15, m[0]
        if n == 256:
            seen += 1
            assert 0.9 < step_seconds(cell, n, L, macs, f, 128, E, defaults) / measured < 1.7, m[0]
    assert seen >= 15


# ------------------------------------------------------------------ what the user sees

def test_describe_prints_both_figures():
    cfg = load_config(ROOT / "config" / "test.yaml", base_dir=ROOT)
    t = sweep_table(cfg)
    assert "GPU" not in describe(t)
    t["est_gpu_hours"] = gpu_cost.sweep_gpu_hours(cfg, t)
    text = describe(t, [True] + [False] * (len(t) - 1), "H100-class")
    assert re.match(rf"{len(t)} training jobs, ~[\d.,]+ core-hours estimated on CPU, ~[\d.,]+ GPU-hours on "
                    r"H100-class GPUs \(1 done; ~[\d.,]+ core-h, ~[\d.,]+ GPU-h left\); capacity: \d+ jobs", text)


def test_dry_run_prints_core_hours_and_gpu_hours(tmp_path):
    from test_workflow import copy_repo, smk

    repo = copy_repo(tmp_path / "repo")
    r = smk(repo, "-n", "--quiet", "rules", "--configfile", "config/test.yaml")
    assert re.search(r"rnncap \[test\]: 26 training jobs, ~[\d.,]+ core-hours estimated on CPU, "
                     r"~[\d.,]+ GPU-hours on H100/H200-class GPUs", r.stderr), r.stderr[-2000:]


def _millions(text: str, what: str) -> float:
    m = re.search(rf"~([\d.]+) million {what}", text)
    assert m, f"config/paper.yaml's header has no '~N million {what}'"
    return float(m[1]) * 1e6


def test_paper_header_quotes_the_estimate():
    """config/paper.yaml's header states what `snakemake -n` prints for it (within 5 %)."""
    header = "".join(line for line in (ROOT / "config" / "paper.yaml").read_text().splitlines(True)
                     if line.startswith("#"))
    cfg = load_config(ROOT / "config" / "paper.yaml", base_dir=ROOT)
    t = sweep_table(cfg)
    core, gpu = t["est_core_hours"].sum(), gpu_cost.sweep_gpu_hours(cfg, t).sum()
    assert _millions(header, "core-hours") == pytest.approx(core, rel=0.05)
    assert _millions(header, "GPU-hours") == pytest.approx(gpu, rel=0.05)
    assert str(len(t)) in header.replace(",", "")
    assert math.isfinite(core) and math.isfinite(gpu)
