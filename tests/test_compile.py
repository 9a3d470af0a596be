"""search.compile: true | false | auto; auto decides per (cell, device) from the measured table."""

import math
from pathlib import Path

import pytest
import torch

from rnncap.model.cells import CELLS
from rnncap.plan import compile_policy as cp
from rnncap.plan.config import ConfigError, load_config, validate_config
from rnncap.plan.jobs import sweep_table
from rnncap.tasks import get_task_class
from rnncap.train.run import run

ROOT = Path(__file__).resolve().parents[1]
CAP = {"n_in": 10, "seq_len": 3, "n_samples": 400}
# eager 10 ms, compiled 6 ms, 40 s to compile: pays off after 40 / 0.004 = 10000 steps
TABLE = {("gru", "cpu", 16): cp.Measured(10.0, 6.0, 40.0), ("gru", "cpu", 64): cp.Measured(30.0, 29.0, 50.0),
         ("rnn", "cpu", 16): cp.Measured(5.0, 5.5, 30.0)}


@pytest.fixture
def table(monkeypatch):
    monkeypatch.setattr(cp, "MEASURED", TABLE)


def search(**over):
    cfg = validate_config({"experiments": {"x": {"task": "capacity", "budgets": [300], "depths": [1],
                                                  "search": over}}})
    return cfg["experiments"]["x"]["search"]


def test_break_even_is_compile_time_over_the_per_step_gain():
    assert cp.Measured(10.0, 6.0, 40.0).break_even_steps == pytest.approx(10000)
    assert math.isinf(cp.Measured(5.0, 5.5, 30.0).break_even_steps)
    assert math.isinf(cp.Measured(5.0, 5.0, 30.0).break_even_steps)


def test_auto_compiles_where_the_run_passes_the_break_even(table):
    assert cp.decide("auto", "gru", "cpu", 16, 10000).compile
    assert cp.decide("auto", "gru", "cpu", 16, 20000).compile
    no = cp.decide("auto", "gru", "cpu", 16, 9999)
    assert not no.compile and "10000 steps" in no.reason and ">= 9999" in no.reason
    # the nearest measured width decides: 18 -> 16, 40 -> 64 (break-even 50 s / 1 ms = 50000)
    assert cp.decide("auto", "gru", "cpu", 18, 12000).compile
    assert not cp.decide("auto", "gru", "cpu", 40, 12000).compile
    assert cp.decide("auto", "gru", "cpu", 40, 50000).compile
    assert cp.decide("auto", "gru", "cuda:0", 16, 10**9).compile is False  # no cuda row


def test_auto_stays_eager_without_a_gain_or_a_measurement(table):
    slower = cp.decide("auto", "rnn", "cpu", 16, 10**9)
    assert not slower.compile and "does not speed the step up" in slower.reason
    for cell, device in [("lstm", "cpu"), ("gru", "cuda")]:
        d = cp.decide("auto", cell, device, 16, 10**9)
        assert not d.compile and f"no compile measurement for {cell} on {device}" in d.reason


def test_true_and_false_override_the_table(table):
    assert cp.decide(True, "rnn", "cpu", 16, 1).compile
    assert cp.decide(True, "lstm", "cuda", 16, 1).compile
    off = cp.decide(False, "gru", "cpu", 16, 10**9)
    assert not off.compile and off.reason.startswith("search.compile is false (auto would say compile")


@pytest.mark.parametrize("bad", ["yes", "Auto", 1, 0, None, 1.0])
def test_a_bad_setting_is_a_one_line_error_naming_the_key(bad):
    with pytest.raises(ValueError) as e:
        cp.check(bad)
    assert str(e.value) == f'search.compile: expected true, false or "auto", got {bad!r}'
    with pytest.raises(ConfigError) as e:
        search(compile=bad)
    msg = str(e.value)
    assert msg.startswith("experiments.x.search.compile: ") and repr(bad) in msg and "\n" not in msg


def test_schema_default_is_auto_and_takes_the_three_settings():
    assert search()["compile"] == "auto"
    for v in (True, False, "auto"):
        assert search(compile=v)["compile"] is v or search(compile=v)["compile"] == v


def test_steps_per_graph_is_the_shortest_stretch_a_graph_trains():
    assert cp.steps_per_graph(search(steps=[300, 600])) == 300
    assert cp.steps_per_graph(search(steps=[3000, 3000], halving={"eta": 3, "min_steps": 111})) == 111
    assert cp.steps_per_graph(search(steps=[50, 600], halving={"min_steps": 100})) == 50


def test_committed_table_is_well_formed():
    assert cp.MEASURED, "the table is empty"
    for (cell, device, width), m in cp.MEASURED.items():
        assert cell in CELLS and device in ("cpu", "cuda") and width >= 1
        assert m.eager_ms > 0 and m.compiled_ms > 0 and m.compile_s >= 0


@pytest.mark.parametrize("preset", ["config.yaml", "test.yaml"])
def test_auto_keeps_the_short_presets_eager(preset):
    """The default and test presets' runs are far shorter than any break-even measured, so `auto`
    resolves to false for each of their jobs: their specs read as before `auto` existed and
    Snakemake plans no rerun. (A new measurement that flips one is a decision: change this test.)"""
    cfg = load_config(ROOT / "config" / preset, base_dir=ROOT)
    for r in sweep_table(cfg).itertuples():
        s = cfg["experiments"][r.experiment]["search"]
        assert cp.resolve(s, r.cell, cfg["device"], int(r.width)).compile is False, (preset, r.experiment, r.cell)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    get_task_class("capacity").make_data(0, root / "capacity", **CAP)
    return root


def spec(data, **over):
    s = search(**{"trials": 1, "ensemble": 1, "batch_size": 32, "steps": [12, 12], "eval_every": 6,
                  "checkpoint_every": 6, "initial_points": 1, "fixed": {"optimizer": "adam"}, **over})
    return {"experiment": "capacity", "task": "capacity", "mode": "search", "cell": "gru", "budget": 300,
            "depth": 1, "seed": 0, "options": CAP, "data_dir": str(data / "capacity"), "search": s,
            "source_best": None}


def test_the_run_logs_its_decision_and_compiles_when_told(data, tmp_path, monkeypatch):
    # the only gru row decides at any width: pays off after 0.04 s / 4 ms = 10 steps
    monkeypatch.setattr(cp, "MEASURED", {("gru", "cpu", 16): cp.Measured(10.0, 6.0, 0.04)})
    compiled = []
    monkeypatch.setattr(torch, "compile", lambda m, **kw: compiled.append(kw) or m)
    logs = []
    run(spec(data), tmp_path / "on", log=logs.append)
    line = next(m for m in logs if "torch.compile" in m)
    assert "torch.compile on: auto:" in line and ">= 12 steps" in line and compiled == [{"dynamic": False}]
    logs.clear()
    run(spec(data, steps=[8, 8]), tmp_path / "off", log=logs.append)
    assert any("torch.compile off: auto:" in m for m in logs) and len(compiled) == 1
    logs.clear()
    run(spec(data, compile=False), tmp_path / "false", log=logs.append)
    assert any("torch.compile off: search.compile is false (auto would say compile" in m for m in logs)
    assert len(compiled) == 1


def test_a_bad_spec_setting_stops_the_run_before_its_data_loads(tmp_path):
    s = spec(tmp_path / "nowhere", compile=True)
    s["search"]["compile"] = "sometimes"
    with pytest.raises(ValueError, match=r'^search\.compile: expected true, false or "auto", got \'sometimes\'$'):
        run(s, tmp_path / "run", log=lambda m: None)
