"""Successive halving over ensemble members (`search.halving`, train/halving.py)."""

import json
import math
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from rnncap import io
from rnncap.model.ensemble import Arch
from rnncap.model.params import solve_width
from rnncap.plan.cost import alive_segments, run_core_hours, sequence_macs, step_seconds
from rnncap.tasks import load_task
from rnncap.train.halving import history, keep, reached, rung_column, rungs
from rnncap.train.loop import Halving, TrainSettings, train_ensemble
from rnncap.train.run import run

from test_train import CAP, TIMING, capacity_spec, data, trial_hps  # noqa: F401  (data: the fixture)

NAN = float("nan")


# --------------------------------------------------------------------------- the decision

def test_rungs_are_min_steps_times_powers_of_eta_below_the_longest():
    assert rungs(100, 3, 1000) == (100, 300, 900)
    assert rungs(100, 3, 900) == (100, 300)
    assert rungs(100, 3, 100) == ()
    assert rungs(10, 2, 41) == (10, 20, 40)


@pytest.mark.parametrize("members, values, hist, eta, higher, want", [
    # plain successive halving inside the batch: the best ceil(9/3) = 3, lower is better
    (list(range(9)), [5, 3, 8, 1, 9, 2, 7, 4, 6], [], 3, False, [0, 1, 0, 1, 0, 1, 0, 0, 0]),
    # higher is better (MI): the largest values
    (list(range(4)), [0.5, 2.0, 1.0, 3.0], [], 2, True, [0, 1, 0, 1]),
    # NaN and Inf rank last, whatever the direction
    ([0, 1, 2, 3], [NAN, 1.0, math.inf, 2.0], [], 2, True, [0, 1, 0, 1]),
    ([0, 1, 2, 3], [NAN, 1.0, -math.inf, 2.0], [], 2, False, [0, 1, 0, 1]),
    # ceil: one member is always kept, even a NaN one
    ([4], [NAN], [], 3, False, [1]),
    # ties go to the lower trial index
    ([7, 3, 5], [1.0, 1.0, 1.0], [], 3, False, [0, 1, 0]),
    ([7, 3, 5], [1.0, 1.0, 0.5], [], 2, False, [0, 1, 1]),
    # history: earlier trials at the rung take part in the ranking (asynchronous halving)
    ([10, 11, 12], [0.3, 0.2, 0.9], [(0, 0.1), (1, 0.5), (2, 0.4)], 3, False, [0, 1, 0]),
    ([10, 11, 12], [0.3, 0.2, 0.9], [(0, 0.1), (1, 0.15), (2, 0.4)], 3, False, [0, 0, 0]),
    # a tie with an earlier trial goes to the earlier trial
    ([10, 11], [0.1, 0.9], [(3, 0.1), (4, NAN)], 2, False, [1, 0]),
    ([10, 11], [0.1, 0.9], [(3, 0.1)], 3, False, [0, 0]),
])
def test_keep_ranks_the_population_at_the_rung(members, values, hist, eta, higher, want):
    assert keep(members, values, hist, eta, higher) == [bool(w) for w in want]


def test_history_is_the_trials_judged_at_the_rung():
    done = pd.DataFrame({
        "trial": [0, 1, 2, 3, 4],
        "rung": [0, 1, 2, 0, 2],
        "stopped": [True, True, False, False, False],  # 3: finished before rung 0
        rung_column(0): [0.9, 0.5, 0.4, NAN, 0.3],
        rung_column(1): [NAN, 0.45, 0.35, NAN, NAN],  # 4: diverged by rung 1 (NaN, still judged)
    })
    assert history(done, 0) == [(0, 0.9), (1, 0.5), (2, 0.4), (4, 0.3)]
    h1 = history(done, 1)
    assert [t for t, _ in h1] == [1, 2, 4] and h1[:2] == [(1, 0.45), (2, 0.35)] and math.isnan(h1[2][1])
    assert history(done, 2) == [] and reached(done.drop(columns=[rung_column(1)]), 1).empty


def test_the_tuner_is_told_each_trial_at_the_fidelity_it_reached(monkeypatch):
    import optuna

    from rnncap.hpspace import HPDim
    from rnncap.train.proposers import ask_batch

    told, real = [], optuna.trial.create_trial
    monkeypatch.setattr(optuna.trial, "create_trial", lambda **k: told.append(k) or real(**k))
    done = pd.DataFrame({"trial": [0, 1, 2], "hp_lr": [0.01, 0.02, 0.03], "valid_metric": [0.5, 0.8, NAN],
                         "rung": [0, 1, 0], "stopped": [True, False, True],
                         rung_column(0): [0.5, 0.6, NAN], rung_column(1): [NAN, 0.7, NAN]})
    ask_batch([HPDim("lr", "float", 1e-3, 1e-1, log=True)], done, 1, 0, 3, True, 1)
    assert [k["intermediate_values"] for k in told] == [{0: 0.5}, {0: 0.6, 1: 0.7}, None]  # by rung
    assert [k["value"] for k in told] == [0.5, 0.8, None]  # a stopped trial: its value where it stopped


# --------------------------------------------------------------------------- runs

def halving_spec(data, eta=3, min_steps=10, full=False, **search):
    """One batch of 9 GP-search trials; with no finished trials the tuner's first asks are its
    seeded start-up draws, so the halving and full-schedule runs train the same 9 HP sets."""
    s = dict(trials=9, ensemble=9, steps=[90, 90], eval_every=10, checkpoint_every=10)
    if not full:
        s["halving"] = {"eta": eta, "min_steps": min_steps}
    s.update(search)
    return capacity_spec(data, **s)


@pytest.fixture(scope="module")
def one_batch(data, tmp_path_factory):
    """One batch of 9 at 90 steps, rungs 10 and 30: halving and the full schedule."""
    root = tmp_path_factory.mktemp("one_batch")
    half = run(halving_spec(data), root / "half", log=lambda m: None)
    full = run(halving_spec(data, full=True), root / "full", log=lambda m: None)
    return half, full


def test_a_halving_batch_stops_the_members_the_schedule_says(one_batch):
    half, _ = one_batch
    by = half.groupby("rung")
    assert by.size().to_dict() == {0: 6, 1: 2, 2: 1}  # 9 -> 3 -> 1
    assert (by["steps"].unique().map(list).to_dict()) == {0: [10], 1: [30], 2: [90]}
    assert half["stopped"].tolist() == (half["rung"] < 2).tolist()
    assert half[rung_column(0)].notna().all() and half[rung_column(1)].notna().sum() == 3
    assert rung_column(2) not in half.columns
    # the kept ones are the best at each rung (MI: higher is better)
    r0 = half.sort_values([rung_column(0), "trial"], ascending=[False, True])
    assert set(r0["trial"][:3]) == set(half.loc[half["rung"] >= 1, "trial"])
    r1 = half[half["rung"] >= 1].sort_values(rung_column(1), ascending=False)
    assert int(r1["trial"].iloc[0]) == int(half.loc[half["rung"] == 2, "trial"].iloc[0])
    # a stopped row's metrics are the rung's
    stopped = half[half["stopped"]]
    last = [stopped.loc[i, rung_column(int(r))] for i, r in stopped["rung"].items()]
    assert stopped["valid_metric"].tolist() == last


def test_halving_spends_a_fraction_of_the_member_steps(one_batch):
    half, full = one_batch
    assert full["steps"].sum() == 9 * 90
    assert half["steps"].sum() == 6 * 10 + 2 * 30 + 90  # 210: 26 % of the full schedule's
    assert (full["rung"] == 0).all() and not full["stopped"].any()
    # the same trials were drawn (random mode: per-trial draws), only trained for less
    assert half["hp_lr"].tolist() == full["hp_lr"].tolist()


def test_decisions_across_batches_are_those_of_keep_over_the_table(data, tmp_path):
    """Asynchronous halving: each batch's members are ranked with every earlier trial at the rung."""
    df = run(halving_spec(data, ensemble=3, steps=[20, 90]), tmp_path / "r", log=lambda m: None)
    assert len(df) == 9
    for first in (0, 3, 6):
        batch, before = df[df["trial"].between(first, first + 2)], df[df["trial"] < first]
        for i in range(2):
            judged = reached(batch, i)
            if judged.empty:
                continue
            want = keep(judged["trial"].tolist(), judged[rung_column(i)].tolist(), history(before, i), 3, True)
            assert (judged["rung"] > i).tolist() == want, (first, i)
    stopped, ran = df[df["stopped"]], df[~df["stopped"]]
    assert (stopped["steps"] == 10 * 3 ** stopped["rung"]).all()
    assert (ran["steps"] == ran["hp_steps"]).all()  # finished (survivors and short ones) train to their steps
    assert df["stopped"].any()


def test_kept_member_trains_as_in_a_full_schedule(data):
    task = load_task("capacity", data / "capacity", **CAP)
    arch = Arch("ugrnn", solve_width("ugrnn", 300, 1, 12, 2), 1, 12, 2)
    hps = trial_hps(task, "ugrnn", 3, optimizer="adam", lr=0.01)
    settings = TrainSettings(batch_size=32, eval_every=10, checkpoint_every=10, eval_batch_size=1024, compile=False)
    full = train_ensemble(task, arch, hps, [1, 2, 3], settings, log=lambda m: None)
    half = train_ensemble(task, arch, hps, [1, 2, 3], settings, log=lambda m: None,
                          halving=Halving((10, 20), lambda i, pos, vals: [p == 1 for p in pos]))
    for k in ("train_loss", "valid_metric", "eval_loss", "eval_metric", "steps", "infeasible"):
        assert half[1][k] == pytest.approx(full[1][k], rel=1e-5), k
    assert (half[1]["rung"], half[1]["stopped"]) == (2, False)
    assert [(r["steps"], r["rung"], r["stopped"]) for r in (half[0], half[2])] == [(10, 0, True)] * 2


def test_dropped_members_are_final_and_not_retrained_on_resume(data, tmp_path):
    task = load_task("capacity", data / "capacity", **CAP)
    arch = Arch("gru", solve_width("gru", 300, 1, 12, 2), 1, 12, 2)
    hps = trial_hps(task, "gru", 4, optimizer="adam", lr=0.01)
    settings = TrainSettings(batch_size=32, eval_every=10, checkpoint_every=5, eval_batch_size=1024, compile=False)
    halving = Halving((10, 20), lambda i, pos, vals: keep(pos, vals, [], 2, True))
    ref = train_ensemble(task, arch, hps, [1, 2, 3, 4], settings, log=lambda m: None, halving=halving)

    def stop_at_30(m):
        if "step 30/" in m:
            raise KeyboardInterrupt  # killed after rung 20, resumed from the checkpoint at 25
    ckpt = tmp_path / "batch.pt"
    with pytest.raises(KeyboardInterrupt):
        train_ensemble(task, arch, hps, [1, 2, 3, 4], settings, ckpt, log=stop_at_30, halving=halving)
    sizes, real = [], task.train_batch
    task.train_batch = lambda gens, *a: sizes.append(len(gens)) or real(gens, *a)
    logs = []
    again = train_ensemble(task, arch, hps, [1, 2, 3, 4], settings, ckpt, log=logs.append, halving=halving)
    assert "resumed from step 25" in logs[0] and sizes and set(sizes) == {1}  # only the survivor trains
    assert [r["rung"] for r in again] == [r["rung"] for r in ref] and sorted(r["rung"] for r in ref) == [0, 0, 1, 2]
    for r, a in zip(ref, again):
        assert {k: v for k, v in r.items() if k != "wall_s"} == {k: v for k, v in a.items() if k != "wall_s"}


def test_sigkill_between_rungs_resumes_to_identical_trials(data, tmp_path):
    spec = halving_spec(data, trials=4, ensemble=2, steps=[200, 200], eta=2, min_steps=20, checkpoint_every=5,
                        initial_points=2) | {"mode": "search"}  # the second batch asks the GP
    cmd = [sys.executable, "-m", "rnncap.cli", "train", "--spec", json.dumps(spec), "--out"]
    ref = subprocess.run(cmd + [str(tmp_path / "ref")], capture_output=True, text=True)
    assert ref.returncode == 0, ref.stderr
    out = tmp_path / "killed"
    ckpt = out / "ckpt" / "batch.pt"
    proc = subprocess.Popen(cmd + [str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline, between = time.time() + 60, False
    while proc.poll() is None and time.time() < deadline and not between:
        try:  # kill once a checkpoint holds fewer members than the batch: after a rung, before the next
            st = io.torch_load(ckpt, weights_only=False)["state"] if ckpt.exists() else None
            between = st is not None and len(st["members"]) < 2 and st["t"] < 160
        except (io.DamagedFileError, OSError, EOFError, RuntimeError):
            pass
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert between, "no checkpoint between rungs was seen"
    assert not (out / "trials.parquet").exists()
    again = subprocess.run(cmd + [str(out)], capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    a = io.read_parquet(tmp_path / "ref" / "trials.parquet").drop(columns=TIMING)
    b = io.read_parquet(out / "trials.parquet").drop(columns=TIMING)
    pd.testing.assert_frame_equal(a, b)
    assert 1 <= a["stopped"].sum() < 4 and rung_column(2) in a.columns


def test_full_schedule_table_has_no_rung_columns_and_equals_halving_without_rungs(data, tmp_path):
    full = run(capacity_spec(data), tmp_path / "full", log=lambda m: None).drop(columns=TIMING)
    none = run(capacity_spec(data, halving={"eta": 3, "min_steps": 40}), tmp_path / "none", log=lambda m: None)
    pd.testing.assert_frame_equal(full, none.drop(columns=TIMING))
    assert (full["rung"] == 0).all() and not full["stopped"].any()
    assert not [c for c in full.columns if c.startswith("valid_metric_")]
    cols = list(full.columns)
    assert cols[cols.index("b") + 1: cols.index("b") + 3] == ["rung", "stopped"]


def test_halving_plans_the_members_alive_between_rungs(data):
    """Stopped members cost nothing in the plan; the full schedule's cost is the one formula as before."""
    from rnncap.plan.config import validate_config
    from rnncap.tasks import get_task_class

    facts = get_task_class("capacity").facts(CAP)
    cost = validate_config({"experiments": {"x": {"task": "capacity", "budgets": [1000], "depths": [1]}}})["cost"]
    full = capacity_spec(data, trials=9, ensemble=9, steps=[90, 90])["search"]
    half = {**full, "halving": {"eta": 3, "min_steps": 10}}
    assert alive_segments(full, 9) == [(90, 9)]
    assert alive_segments(half, 9) == [(10, 9), (20, 3), (60, 1)]
    w = solve_width("gru", 300, 1, 12, 2)
    macs = sequence_macs("gru", w, 1, 12, 2, CAP["seq_len"], len(facts.readout_steps))
    t = {e: step_seconds("gru", w, 1, macs, facts, 64, e, cost) for e in (1, 3, 9)}
    per = lambda s: cost["batch_overhead_s"] + s * (1 + cost["eval_fraction"])  # noqa: E731
    assert run_core_hours("gru", w, 1, facts, full, cost) == (cost["job_overhead_s"] + per(90 * t[9])) / 3600
    h_half = run_core_hours("gru", w, 1, facts, half, cost)
    assert h_half == pytest.approx((cost["job_overhead_s"] + per(10 * t[9] + 20 * t[3] + 60 * t[1])) / 3600)
    assert h_half < run_core_hours("gru", w, 1, facts, full, cost)
