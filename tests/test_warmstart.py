"""Warm-started searches (`search.warm_start`): a run's GP tuner is first told the finished
trials of its smaller neighbours (next smaller budget, next smaller depth)."""

import copy

import optuna
import pandas as pd
import pytest

from rnncap import io
from rnncap.hpspace import HPDim
from rnncap.plan.config import load_config
from rnncap.plan.jobs import sweep_table, train_spec
from rnncap.plan.paths import run_dir
from rnncap.train.proposers import GPSearch, RunContext, published_point, told_trials
from rnncap.train.run import run

from test_config import BASE, SEARCH
from test_train import TIMING, capacity_spec, counting, data  # noqa: F401  (data: the module fixture)


def warm_cfg():
    cfg = copy.deepcopy(BASE)
    cfg["experiments"]["cap"]["search"] = {**SEARCH, "warm_start": True}
    return load_config(cfg)


def spec_of(cfg, cell, budget, depth):
    t = sweep_table(cfg)
    row = t[(t.experiment == "cap") & (t.cell == cell) & (t.budget == budget) & (t.depth == depth)].iloc[0]
    return train_spec(cfg, row.to_dict())


def test_spec_lists_exactly_the_smaller_neighbours_in_the_job_table():
    cfg = warm_cfg()  # cap: budgets [300, 600], depths [1, 2]; plus runs at depth 2 only
    trials = lambda cell, b, d: f"{run_dir(dict(experiment='cap', cell=cell, budget=b, depth=d, seed=0))}/trials.parquet"
    assert spec_of(cfg, "gru", 300, 1)["warm_start"] == []
    assert spec_of(cfg, "gru", 600, 1)["warm_start"] == [trials("gru", 300, 1)]
    assert spec_of(cfg, "gru", 600, 2)["warm_start"] == [trials("gru", 300, 2), trials("gru", 600, 1)]
    assert spec_of(cfg, "plus", 600, 2)["warm_start"] == [trials("plus", 300, 2)]  # no depth-1 +RNN
    # every neighbour is a job of the table with a smaller budget or depth: the DAG orders it first
    t = sweep_table(cfg)
    jobs = {f"{run_dir(r)}/trials.parquet": (r["budget"], r["depth"]) for r in t.to_dict("records")}
    for r in t[t.experiment == "cap"].to_dict("records"):
        for p in train_spec(cfg, r)["warm_start"]:
            b, d = jobs[p]
            assert (b < r["budget"] and d == r["depth"]) or (d < r["depth"] and b == r["budget"])
    assert "warm_start" not in train_spec(cfg, t[t.experiment == "par"].iloc[0].to_dict())


def test_neighbour_values_are_clipped_or_left_out():
    dims = [HPDim("lr", "float", 0.01, 0.1, log=True), HPDim("steps", "int", 20, 40),
            HPDim("optimizer", "cat", choices=("adam", "sgd"))]
    df = pd.DataFrame({"hp_lr": [1.0, 0.05, 0.05], "hp_steps": [80, 10, 30],
                       "hp_optimizer": ["adam", "rmsprop", "sgd"], "valid_metric": [0.5, 0.4, float("nan")]})
    told = told_trials(dims, df)
    assert [t["params"] for t in told] == [{"lr": 0.1, "steps": 40, "optimizer": "adam"},
                                           {"lr": 0.05, "steps": 30, "optimizer": "sgd"}]
    assert [t["value"] for t in told] == [0.5, None]  # a non-finite metric is told as FAIL


@pytest.fixture(scope="module")
def neighbour(data, tmp_path_factory):  # noqa: F811
    """A finished run of 4 trials: the smaller neighbour."""
    out = tmp_path_factory.mktemp("nb") / "run"
    run(capacity_spec(data, trials=4), out, log=lambda m: None)
    return out / "trials.parquet"


def gp_calls(monkeypatch):
    """Record each time the GP (not the random start) proposes."""
    real, calls = optuna.samplers.GPSampler._sample_relative_impl, []
    monkeypatch.setattr(optuna.samplers.GPSampler, "_sample_relative_impl",
                        lambda self, *a: calls.append(1) or real(self, *a))
    return calls


def first_batch(spec, warm=None):
    from rnncap.tasks import load_task
    from rnncap.train.run import search_space

    task = load_task(spec["task"], spec["data_dir"], **spec["options"])
    dims = search_space(spec["cell"], task.hp_space(), spec["search"], "x")
    ctx = RunContext(dims, spec["seed"], True, spec["search"], None, None if warm is None else tuple(warm))
    return GPSearch.for_run(ctx).propose(pd.DataFrame(), 0, 2)


def test_first_batch_of_a_warm_started_run_is_asked_by_the_gp(data, neighbour, monkeypatch):  # noqa: F811
    spec = capacity_spec(data, initial_points=2)
    calls = gp_calls(monkeypatch)
    cold = first_batch(spec)
    assert calls == []  # cold: the random start
    warm = first_batch(spec, [str(neighbour)])
    assert len(calls) == 2 and warm != cold  # 4 complete neighbour trials >= initial_points
    assert first_batch(spec, [str(neighbour)]) == warm  # same inputs, same asks


def test_warm_started_run_and_reuse(data, neighbour, tmp_path, monkeypatch):  # noqa: F811
    nb = tmp_path / "nb.parquet"  # a copy, changed below in place: only its content differs
    io.write_parquet(nb, io.read_parquet(neighbour))
    spec = capacity_spec(data, trials=2) | {"budget": 400, "warm_start": [str(nb)]}
    out = tmp_path / "r"
    ref = run(spec, out, log=lambda m: None).drop(columns=TIMING)
    assert "warm_start" in io.read_json(out / "ckpt" / "inputs.json", checksum=True)["proposer"]
    for name in ("trials.parquet", "best.json"):
        (out / name).unlink()
    calls = counting(monkeypatch)
    pd.testing.assert_frame_equal(run(spec, out, log=lambda m: None).drop(columns=TIMING), ref)
    assert calls == []  # same neighbour: every trial reused
    io.write_parquet(nb, io.read_parquet(neighbour).assign(valid_metric=lambda d: -d["valid_metric"]))
    logs = []
    run(spec, out, log=logs.append)
    assert calls == [2] and any("other inputs" in m for m in logs)


def test_damaged_or_missing_neighbour_is_a_one_line_error(data, neighbour, tmp_path):  # noqa: F811
    bad = tmp_path / "trials.parquet"
    bad.write_bytes(neighbour.read_bytes()[:300])
    spec = capacity_spec(data, trials=2)
    with pytest.raises(io.DamagedFileError) as e:
        run(spec | {"warm_start": [str(bad)]}, tmp_path / "r", log=lambda m: None)
    assert str(bad) in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(FileNotFoundError, match=r"^warm_start: .*nothere\.parquet: not found"):
        run(spec | {"warm_start": [str(tmp_path / "nothere.parquet")]}, tmp_path / "r2", log=lambda m: None)
    with pytest.raises(ValueError, match=r"^warm_start: .* mode search, not random"):
        run(spec | {"mode": "random", "warm_start": [str(neighbour)]}, tmp_path / "r3", log=lambda m: None)


def test_published_point_is_clipped_into_the_space():
    dims = [HPDim("optimizer", "cat", choices=("adam",)), HPDim("lr", "float", 0.005, 0.03, log=True),
            HPDim("clip", "float", 10.0, 100.0, log=True), HPDim("square_init", "cat", choices=("normal", "identity")),
            HPDim("b_fg_y", "float", 0.0, 6.0), HPDim("b_fg_h", "float", 0.0, 6.0), HPDim("rec_scale_y", "float", 0.01, 2.0)]
    # fixed optimizer: not searched; orthogonal not allowed: left out; scales: not in the set
    assert published_point(dims) == {"lr": 0.005, "clip": 27.66, "b_fg_y": 4.887, "b_fg_h": 4.887}


def test_warm_start_without_neighbours_starts_from_the_published_hp_set(data, tmp_path):  # noqa: F811
    spec = capacity_spec(data, trials=2)
    first = first_batch(spec, [])
    point = {"lr": 0.003985, "lr_decay": 0.1089, "momentum_logit": 5.897, "clip": 27.66, "l2": 1.79e-7, "b_fg": 4.887,
             "square_init": "orthogonal", "bias_init": "constant"}
    assert {k: first[0][k] for k in point} == point  # trial 0: the paper's values where the space allows
    assert first_batch(spec, []) == first  # deterministic
    cold = first_batch(spec)
    assert any(cold[0][k] != v for k, v in point.items())  # a cold run does not start there
    # the run records the point it started from as an input, so a changed prior retrains
    trials = run(spec | {"warm_start": []}, tmp_path / "r", log=lambda m: None)
    assert io.read_json(tmp_path / "r" / "ckpt" / "inputs.json", checksum=True)["proposer"]["first_point"]["lr"] == 0.003985
    assert trials.loc[0, "hp_lr"] == 0.003985
