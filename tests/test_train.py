"""Behaviour of the ensemble trainer and the search (not speed)."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import torch

from rnncap import io
from rnncap.train import run as search_mod
from rnncap.model.ensemble import Arch
from rnncap.model.params import solve_width
from rnncap.plan.config import validate_config
from rnncap.train.run import run
from rnncap.tasks import get_task_class, load_task
from rnncap.train.loop import TrainSettings, train_ensemble

from helpers import random_hps

CAP = {"n_in": 12, "seq_len": 5, "n_samples": 2000}
MEM = {"n_in": 8, "seq_len": 4, "n_eval": 256}
TIMING = ["wall_s", "rnncap_version", "torch_version"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    get_task_class("capacity").make_data(0, root / "capacity", **CAP)
    get_task_class("memory").make_data(0, root / "memory", **MEM)
    return root


def search_block(**over):
    """A complete search block: the config schema's defaults (filled by the config validator,
    as for every spec the workflow builds), then `over`."""
    cfg = validate_config({"experiments": {"x": {"task": "capacity", "budgets": [300], "depths": [1]}}})
    return {**cfg["experiments"]["x"]["search"], **over}


def capacity_spec(data, **search):
    s = search_block(trials=4, ensemble=2, batch_size=64, steps=[40, 40], eval_every=20,
                     checkpoint_every=10, initial_points=2, fixed={"optimizer": "adam"})
    s.update(search)
    return {"experiment": "capacity", "task": "capacity", "mode": "search", "cell": "gru", "budget": 300,
            "depth": 1, "seed": 3, "options": CAP, "data_dir": str(data / "capacity"), "search": s,
            "source_best": None}


def settings_(batch_size, eval_every):
    """Loop settings for direct train_ensemble calls; these tests never checkpoint or compile."""
    return TrainSettings(batch_size=batch_size, eval_every=eval_every, checkpoint_every=eval_every,
                         eval_batch_size=1024, compile=False)


def trial_hps(task, cell, n, **over):
    return [{**h, "b_ratio": 1.0, "presentation": "every", **over} for h in random_hps(cell, n, steps=40, **over)]


def test_member_alone_equals_member_in_ensemble(data):
    task = load_task("capacity", data / "capacity", **CAP)
    arch = Arch("ugrnn", solve_width("ugrnn", 300, 1, 12, 2), 1, 12, 2)
    hps = trial_hps(task, "ugrnn", 3, optimizer="adam", lr=0.01)
    settings = settings_(batch_size=32, eval_every=20)
    together = train_ensemble(task, arch, hps, [1, 2, 3], settings, log=lambda m: None)
    alone = train_ensemble(task, arch, hps[1:2], [2], settings, log=lambda m: None)
    for k in ("train_loss", "valid_metric", "eval_loss", "steps", "infeasible"):
        assert together[1][k] == pytest.approx(alone[0][k], rel=1e-5), k


def test_diverging_member_is_infeasible_and_others_unaffected(data):
    task = load_task("memory", data / "memory", **MEM)
    arch = Arch("rnn", 8, 1, 8, 8)
    hps = random_hps("rnn", 2, steps=30, optimizer="sgd", lr=0.01, nonlinearity="relu")
    hps[0] = {**hps[0], "in_scale_h": 1e30, "rec_scale_h": 2.0}  # blows up to inf at once
    s = settings_(batch_size=16, eval_every=10)
    both = train_ensemble(task, arch, hps, [5, 6], s, log=lambda m: None)
    alone = train_ensemble(task, arch, hps[1:], [6], s, log=lambda m: None)
    assert both[0]["infeasible"] and not both[1]["infeasible"]
    assert both[1]["eval_loss"] == pytest.approx(alone[0]["eval_loss"], rel=1e-5)


def test_tiny_memory_run_lowers_its_loss(data):
    task = load_task("memory", data / "memory", **MEM)
    arch = Arch("gru", 16, 1, 8, 8)
    hps = random_hps("gru", 1, steps=300, optimizer="adam", lr=0.01, lr_decay=1.0, clip=10.0, l2=1e-8,
                     square_init="orthogonal", nonlinearity="tanh", b_fg=1.0)
    for k in ("in_scale_", "rec_scale_"):
        for b in ("r", "u", "c"):
            hps[0][k + b] = 1.0
    logs = []
    r = train_ensemble(task, arch, hps, [0], settings_(batch_size=64, eval_every=100), log=logs.append)[0]
    assert len(logs) == 3 and "steps/s" in logs[0]
    assert r["eval_loss"] < 0.8  # starts near 1 (unit-variance targets)
    assert not r["infeasible"]


def test_tiny_capacity_run_reaches_positive_mi(data, tmp_path):
    df = run(capacity_spec(data, steps=[150, 150], fixed={"optimizer": "adam", "lr": 0.02}), tmp_path / "run",
             log=lambda m: None)
    assert df["valid_metric"].max() > 0
    best = json.loads((tmp_path / "run" / "best.json").read_text())
    assert best["found"] and best["metrics"]["eval_metric"] == pytest.approx(df["valid_metric"].max())
    assert sorted(p.name for p in (tmp_path / "run" / "ckpt").iterdir()) == ["inputs.json", "trials.parquet"]


def test_same_seed_same_table(data, tmp_path):
    a = run(capacity_spec(data), tmp_path / "a", log=lambda m: None).drop(columns=TIMING)
    b = run(capacity_spec(data), tmp_path / "b", log=lambda m: None).drop(columns=TIMING)
    pd.testing.assert_frame_equal(a, b)
    assert a["hp_lr"].nunique() == 4  # the tuner asked four different trials


def test_random_and_rerun_modes(data, tmp_path):
    spec = capacity_spec(data) | {"mode": "random"}
    df = run(spec, tmp_path / "rand", log=lambda m: None)
    assert len(df) == 4 and df["hp_lr"].nunique() == 4
    spec = capacity_spec(data) | {"mode": "rerun", "source_best": str(tmp_path / "rand" / "best.json")}
    re = run(spec, tmp_path / "rerun", log=lambda m: None)
    assert re["hp_lr"].nunique() == 1 and re["member_seed"].nunique() == 4


def test_search_resumes_without_repeating_finished_trials(data, tmp_path, monkeypatch):
    real, calls = search_mod.train_ensemble, []

    def crash_after_first(*a, **k):
        calls.append(len(a[2]))
        if len(calls) == 2:
            raise KeyboardInterrupt  # the job is killed during its second batch
        return real(*a, **k)

    monkeypatch.setattr(search_mod, "train_ensemble", crash_after_first)
    with pytest.raises(KeyboardInterrupt):
        run(capacity_spec(data), tmp_path / "r", log=lambda m: None)
    calls.clear()
    monkeypatch.setattr(search_mod, "train_ensemble", lambda *a, **k: calls.append(len(a[2])) or real(*a, **k))
    logs = []
    df = run(capacity_spec(data), tmp_path / "r", log=logs.append)
    assert calls == [2] and "2 trials already done" in logs[0]
    ref = run(capacity_spec(data), tmp_path / "ref", log=lambda m: None)
    pd.testing.assert_frame_equal(df.drop(columns=TIMING), ref.drop(columns=TIMING))


def test_resume_after_sigkill_equals_uninterrupted(data, tmp_path):
    spec = capacity_spec(data, steps=[60, 60], checkpoint_every=5, trials=4)
    cmd = [sys.executable, "-m", "rnncap.cli", "train", "--spec", json.dumps(spec), "--out"]
    ref = subprocess.run(cmd + [str(tmp_path / "ref")], capture_output=True, text=True)
    assert ref.returncode == 0, ref.stderr
    out = tmp_path / "killed"
    proc = subprocess.Popen(cmd + [str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while not (out / "ckpt" / "batch.pt").exists() and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(random.uniform(0.0, 0.5))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "trials.parquet").exists() or proc.returncode == 0
    again = subprocess.run(cmd + [str(out)], capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    a = io.read_parquet(tmp_path / "ref" / "trials.parquet").drop(columns=TIMING)
    b = io.read_parquet(out / "trials.parquet").drop(columns=TIMING)
    pd.testing.assert_frame_equal(a, b)


def counting(monkeypatch):
    """Patch the driver's ensemble trainer to record each batch's size."""
    real, calls = search_mod.train_ensemble, []
    monkeypatch.setattr(search_mod, "train_ensemble", lambda *a, **k: calls.append(len(a[2])) or real(*a, **k))
    return calls


def finished(data, tmp_path, **search):
    out = tmp_path / "r"
    ref = run(capacity_spec(data, **search), out, log=lambda m: None).drop(columns=TIMING)
    for name in ("trials.parquet", "best.json"):  # what Snakemake deletes before it reruns a job
        (out / name).unlink()
    return out, ref


def test_finished_trials_are_reused_after_outputs_are_deleted(data, tmp_path, monkeypatch):
    out, ref = finished(data, tmp_path)
    calls, logs = counting(monkeypatch), []
    df = run(capacity_spec(data), out, log=logs.append)
    assert calls == [] and "4 trials already done" in logs[0]
    pd.testing.assert_frame_equal(df.drop(columns=TIMING), ref)
    assert json.loads((out / "best.json").read_text())["found"]


def test_more_trials_extend_a_finished_run(data, tmp_path, monkeypatch):
    out, _ = finished(data, tmp_path)
    calls = counting(monkeypatch)
    df = run(capacity_spec(data, trials=6), out, log=lambda m: None)
    assert calls == [2]
    fresh = run(capacity_spec(data, trials=6), tmp_path / "fresh", log=lambda m: None)
    pd.testing.assert_frame_equal(df.drop(columns=TIMING), fresh.drop(columns=TIMING))


def test_trials_of_other_inputs_are_not_reused(data, tmp_path, monkeypatch):
    out, _ = finished(data, tmp_path)
    calls, logs = counting(monkeypatch), []
    run(capacity_spec(data, ranges={"lr": [0.001, 0.01]}), out, log=logs.append)
    assert calls == [2, 2] and any("not reusing" in m and "other inputs" in m for m in logs)


def test_damaged_finished_trials_are_named_and_retrained(data, tmp_path, monkeypatch):
    out, ref = finished(data, tmp_path)
    table = out / "ckpt" / "trials.parquet"
    table.write_bytes(table.read_bytes()[:300])
    calls, logs = counting(monkeypatch), []
    df = run(capacity_spec(data), out, log=logs.append)
    assert calls == [2, 2] and any(str(table) in m and "damaged" in m for m in logs)
    pd.testing.assert_frame_equal(df.drop(columns=TIMING), ref)


def test_damaged_checkpoint_restarts_its_batch(data, tmp_path):
    task = load_task("capacity", data / "capacity", **CAP)
    arch = Arch("gru", solve_width("gru", 300, 1, 12, 2), 1, 12, 2)
    hps = trial_hps(task, "gru", 2, optimizer="adam", lr=0.01)
    settings = TrainSettings(batch_size=32, eval_every=20, checkpoint_every=10, eval_batch_size=1024, compile=False)
    ref = train_ensemble(task, arch, hps, [1, 2], settings, log=lambda m: None)

    def stop_at_20(m):
        if "step 20/" in m:
            raise KeyboardInterrupt
    ckpt = tmp_path / "batch.pt"
    with pytest.raises(KeyboardInterrupt):
        train_ensemble(task, arch, hps, [1, 2], settings, ckpt, log=stop_at_20)
    b = bytearray(ckpt.read_bytes())
    b[len(b) // 2] ^= 0xFF
    ckpt.write_bytes(bytes(b))
    logs = []
    again = train_ensemble(task, arch, hps, [1, 2], settings, ckpt, log=logs.append)
    assert any("damaged checkpoint" in m and str(ckpt) in m for m in logs)
    assert not any("resumed" in m for m in logs)
    for r, a in zip(ref, again):
        assert {k: v for k, v in r.items() if k != "wall_s"} == {k: v for k, v in a.items() if k != "wall_s"}


@pytest.mark.parametrize("key", ["trials", "initial_points", "keep_checkpoints"])
def test_spec_missing_a_search_key_is_a_one_line_error(data, tmp_path, capsys, key):
    """The driver has no defaults of its own: a spec without a search key names it and stops."""
    from rnncap import cli

    spec = capacity_spec(data)
    del spec["search"][key]
    out = tmp_path / "run"
    assert cli.main(["train", "--spec", json.dumps(spec), "--out", str(out), "--keep-denormals"]) == 2
    err = capsys.readouterr().err
    assert err == f"rnncap train: error: search.{key}: missing from the run spec\n"
    assert not out.exists()


@pytest.mark.parametrize("argv, flush", [([], True), (["--keep-denormals"], False)])
def test_train_command_flushes_denormals_unless_told(monkeypatch, tmp_path, argv, flush):
    """The train process sets flush-to-zero before it trains (denormals slow x86 arithmetic many times)."""
    from rnncap import cli

    calls = []
    monkeypatch.setattr(torch, "set_flush_denormal", lambda on: calls.append(("flush", on)) or True)
    monkeypatch.setattr(search_mod, "run", lambda *a, **k: calls.append(("run", k["device"])))
    assert cli.main(["train", "--spec", '{"task": "capacity"}', "--out", str(tmp_path), *argv]) == 0
    assert calls == [("flush", flush), ("run", "cpu")]


def test_flushed_denormals_read_as_zero():
    """What the train command relies on: with the flag set, a denormal operand and result are 0."""
    tiny = torch.tensor([1e-39, 1e-30])
    try:
        assert torch.set_flush_denormal(True)
        assert (tiny * 1.0).tolist() == [0.0, pytest.approx(1e-30)]
    finally:
        torch.set_flush_denormal(False)
    assert (tiny * 1.0)[0].item() > 0
