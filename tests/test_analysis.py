"""Analysis functions on small hand-made tables with known answers."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from rnncap.analysis import capacity, losscurves, memory, randomhp, stats, trainability
from rnncap.analysis.common import best_rows, parse_roles, select_role

NAN = float("nan")


def trials(rows, **defaults):
    """Trial rows with the schema's columns that the analysis reads; `defaults` fill every row."""
    base = {"experiment": "e", "task": "t", "mode": "search", "cell": "rnn", "budget": 100, "depth": 1,
            "seed": 0, "trial": 0, "width": 10, "params": 100, "infeasible": False, "higher_is_better": False,
            "metric": "loss", "valid_metric": NAN, "eval_metric": NAN}
    out = []
    for i, r in enumerate(rows):
        row = {**base, **defaults, **r}
        row.setdefault("trial", i)
        out.append(row)
    return pd.DataFrame(out)


# ---------------------------------------------------------------- selection

def test_best_ignores_infeasible_and_nan_lower_is_better():
    t = trials([
        {"trial": 0, "valid_metric": 0.5, "eval_metric": 0.6},
        {"trial": 1, "valid_metric": 0.1, "eval_metric": 0.1, "infeasible": True},  # best but flagged
        {"trial": 2, "valid_metric": NAN, "eval_metric": NAN},
        {"trial": 3, "valid_metric": 0.3, "eval_metric": 0.9},  # best feasible valid; eval is reported
    ])
    b = best_rows(t, ["cell", "depth", "budget"])
    assert len(b) == 1
    assert b["trial"].iloc[0] == 3 and b["eval_metric"].iloc[0] == 0.9
    assert b["n_trials"].iloc[0] == 4 and b["n_feasible"].iloc[0] == 2


def test_best_higher_is_better_and_all_infeasible_group_dropped():
    t = trials([
        {"budget": 100, "valid_metric": 10.0, "eval_metric": 10.0},
        {"budget": 100, "valid_metric": 30.0, "eval_metric": 30.0},
        {"budget": 100, "valid_metric": 99.0, "eval_metric": 99.0, "infeasible": True},
        {"budget": 200, "valid_metric": 50.0, "eval_metric": 50.0, "infeasible": True},
    ], higher_is_better=True, metric="mi_bits")
    b = best_rows(t, ["cell", "depth", "budget"])
    assert list(b["budget"]) == [100]
    assert b["valid_metric"].iloc[0] == 30.0


def test_best_across_seeds_of_one_point():
    t = trials([{"seed": 0, "valid_metric": 0.4, "eval_metric": 0.4},
                {"seed": 1, "valid_metric": 0.2, "eval_metric": 0.25}])
    b = best_rows(t, ["cell", "depth", "budget"])
    assert b["seed"].iloc[0] == 1


def test_parse_roles_forms(tmp_path):
    assert parse_roles('{"capacity": "cap", "unroll": ["a", "b"]}') == {"capacity": ["cap"], "unroll": ["a", "b"]}
    f = tmp_path / "roles.json"
    f.write_text(json.dumps({"memory": "mem"}))
    assert parse_roles(f"@{f}") == {"memory": ["mem"]}
    assert parse_roles(str(f)) == {"memory": ["mem"]}
    with pytest.raises(KeyError, match="roles.nonsense"):
        parse_roles('{"nonsense": "x"}')
    t = trials([{"experiment": "a"}, {"experiment": "b"}, {"experiment": "c"}])
    assert list(select_role(t, {"unroll": ["a", "b"]}, "unroll")["experiment"]) == ["a", "b"]
    assert select_role(t, {}, "capacity").empty


# ---------------------------------------------------------------- capacity

def cap_trials():
    rows = []
    # rnn depth 1: budgets 100/200/400 with best MI giving bpp 1, 4, 6
    for budget, params, mi in ((100, 100, 100.0), (200, 200, 800.0), (400, 400, 2400.0)):
        rows.append({"cell": "rnn", "budget": budget, "params": params, "valid_metric": mi, "eval_metric": mi,
                     "b": mi * 1.1, "hp_nonlinearity": "tanh"})
        rows.append({"cell": "rnn", "budget": budget, "params": params, "valid_metric": mi / 2,
                     "eval_metric": mi / 2, "b": mi, "hp_nonlinearity": "relu"})
        rows.append({"cell": "rnn", "budget": budget, "params": params, "valid_metric": mi * 3,
                     "eval_metric": mi * 3, "b": mi, "infeasible": True, "hp_nonlinearity": "tanh"})
    return trials(rows, higher_is_better=True, metric="mi_bits", depth=1)


def test_bits_per_param_arithmetic_and_summary():
    best = capacity.best_capacity(cap_trials())
    assert list(best["bits_per_param"]) == [1.0, 4.0, 6.0]
    assert list(best["mi"]) == [100.0, 800.0, 2400.0]
    s = capacity.summarize(best)
    assert s["bits_per_param"].iloc[0] == 5.0  # median of the 2 largest budgets: (4 + 6) / 2
    assert s["bits_per_param_max"].iloc[0] == 6.0
    assert s["budgets"].iloc[0] == "200;400"
    assert capacity.grand_mean(s) == 5.0


def test_grand_mean_over_cells_and_depths():
    s = pd.DataFrame({"cell": ["rnn", "rnn", "gru"], "depth": [1, 2, 1], "bits_per_param": [6.0, 4.0, 2.0]})
    assert capacity.grand_mean(s) == 4.0
    assert capacity.ordering(s) == ["rnn", "gru"]  # rnn mean 5 > gru 2


def test_ratio_table_geometric_mean_over_shared_depths():
    s = pd.DataFrame({"cell": ["rnn", "rnn", "lstm", "lstm", "plus"], "depth": [1, 2, 1, 2, 2],
                      "bits_per_param": [6.0, 4.0, 4.0, 4.0, 2.0]})
    r = capacity.ratio_table(s).set_index(["cell_a", "cell_b"])["ratio"]
    assert r[("rnn", "lstm")] == pytest.approx(math.sqrt(6 / 4 * 4 / 4))
    assert r[("lstm", "rnn")] == pytest.approx(1 / math.sqrt(1.5))
    assert r[("rnn", "rnn")] == pytest.approx(1.0)
    assert r[("rnn", "plus")] == pytest.approx(2.0)  # only depth 2 is shared: 4 / 2
    assert r[("plus", "lstm")] == pytest.approx(0.5)


def test_optimal_b_and_relu_only():
    best = capacity.best_capacity(cap_trials())
    ob = capacity.optimal_b(best)
    assert np.allclose(ob["b_over_mi"], 1.1)
    relu = capacity.relu_only(cap_trials())
    assert list(relu["bits_per_param_all"]) == [1.0, 4.0, 6.0]
    assert list(relu["bits_per_param_relu"]) == [0.5, 2.0, 3.0]
    assert list(relu["n_relu"]) == [1, 1, 1]


def test_unroll_groups_by_seq_len_with_default():
    t = cap_trials()
    t2 = t.assign(opt_seq_len=1, valid_metric=t["valid_metric"] / 2, eval_metric=t["eval_metric"] / 2)
    both = pd.concat([t, t2], ignore_index=True)  # t has no opt_seq_len -> DEFAULT_SEQ_LEN
    u = capacity.unroll(both)
    assert set(u["seq_len"]) == {1, capacity.DEFAULT_SEQ_LEN}
    us = capacity.unroll_summary(u).set_index("seq_len")["bits_per_param"]
    assert us[capacity.DEFAULT_SEQ_LEN] == 5.0 and us[1] == 2.5


def test_unroll_curve_compares_only_models_run_at_every_length():
    """The capacity role's own length (T = 5) may hold more cells and sizes than the other
    lengths; the curve reads only the (cell, depth, budget) runs trained at every length."""
    t = cap_trials()
    t2 = t.assign(opt_seq_len=1, valid_metric=t["valid_metric"] / 2, eval_metric=t["eval_metric"] / 2)
    t2 = t2[t2["budget"] == t2["budget"].min()]  # T = 1 ran the smallest budget only
    u = capacity.unroll(pd.concat([t, t2], ignore_index=True))
    us = capacity.unroll_summary(u)
    assert set(us["seq_len"]) == {1, capacity.DEFAULT_SEQ_LEN}
    small = u[(u["budget"] == t["budget"].min()) & (u["seq_len"] == capacity.DEFAULT_SEQ_LEN)]
    assert us.set_index("seq_len").loc[capacity.DEFAULT_SEQ_LEN, "bits_per_param"] == \
        pytest.approx(small["bits_per_param"].median())


# ---------------------------------------------------------------- memory

def test_memory_reference_curve():
    assert np.allclose(memory.reference_error([0, 16, 32, 64, 100], 64), [1.0, 0.75, 0.5, 0.0, 0.0])
    t = trials([
        {"width": 32, "budget": 1, "valid_metric": 0.6, "eval_metric": 0.61},
        {"width": 32, "budget": 1, "valid_metric": 0.5, "eval_metric": 0.52},
        {"width": 80, "budget": 2, "valid_metric": 0.01, "eval_metric": 0.02},
    ], metric="mse_per_dim")
    m = memory.memory_curve(t)
    assert list(m["error"]) == [0.52, 0.02]
    assert list(m["reference"]) == [0.5, 0.0]
    assert list(m["n_in"]) == [64, 64]
    s = memory.summary(m)
    assert s["max_error_at_or_above"] == 0.02
    assert s["mean_abs_dev_below"] == pytest.approx(0.02)
    m32 = memory.memory_curve(t.assign(opt_n_in=40))
    assert list(m32["reference"]) == [pytest.approx(0.2), 0.0]


# ---------------------------------------------------------------- trainability

def test_best_so_far_is_monotone_and_reports_eval_of_best_valid():
    rng = np.random.default_rng(1)
    v = rng.uniform(0, 1, 30)
    rows = [{"trial": i, "valid_metric": x, "eval_metric": x + 0.5 * rng.uniform(), "infeasible": bool(i % 7 == 0),
             "budget": 1000} for i, x in enumerate(v)]
    rows += [{"trial": 0, "valid_metric": 0.0, "eval_metric": 0.0, "budget": 10}]  # smaller budget: ignored
    t = trials(rows)
    b = trainability.best_so_far(t)
    assert set(b["budget"]) == {1000}
    assert len(b) == 30 and list(b["evaluations"]) == list(range(1, 31))
    assert math.isnan(b["best_valid"].iloc[0])  # trial 0 infeasible: nothing yet
    bv = b["best_valid"].iloc[1:].to_numpy()
    assert (np.diff(bv) <= 0).all()
    feasible = t[(t["budget"] == 1000) & ~t["infeasible"]]
    best = feasible.loc[feasible["valid_metric"].idxmin()]
    assert b["best_eval"].iloc[-1] == best["eval_metric"]
    assert b["best_trial"].iloc[-1] == best["trial"]


def test_best_so_far_higher_is_better_monotone():
    t = trials([{"trial": i, "valid_metric": x, "eval_metric": x} for i, x in enumerate([1, 3, 2, 5, 4])],
               higher_is_better=True)
    assert list(trainability.best_so_far(t)["best_valid"]) == [1, 3, 3, 5, 5]


def test_tuning_area_and_winners():
    rows = []
    for cell, losses in (("gru", [0.5, 0.2, 0.2]), ("rnn", [NAN, 0.9, 0.1])):
        for i, x in enumerate(losses):
            rows.append({"cell": cell, "trial": i, "valid_metric": x, "eval_metric": x, "infeasible": math.isnan(x)})
    t = trials(rows)
    tu = trainability.tuning(trainability.best_so_far(t)).set_index("cell")
    assert tu.loc["gru", "tuning"] == pytest.approx((0.5 + 0.2 + 0.2) / 3)
    assert tu.loc["rnn", "tuning"] == pytest.approx((0.9 + 0.9 + 0.1) / 3)  # "none yet" = worst seen (0.9)
    assert tu.loc["rnn", "final_best"] == 0.1
    curve = losscurves.loss_vs_params(t)
    s = trainability.summary(curve, tu.reset_index())
    assert s["by_depth"]["1"]["best_cell_loss"] == "rnn"
    assert s["by_depth"]["1"]["best_cell_tuning"] == "gru"


# ---------------------------------------------------------------- loss curves

def test_spread_zero_when_loss_is_set_by_params():
    rows = []
    for cell, width_per_budget in (("rnn", {1000: 30, 2000: 44, 4000: 62}), ("lstm", {1000: 15, 2000: 25, 4000: 40})):
        for budget, w in width_per_budget.items():
            loss = 3.0 - math.log10(budget)
            rows.append({"cell": cell, "budget": budget, "params": budget, "width": w, "valid_metric": loss,
                         "eval_metric": loss})
    c = losscurves.loss_vs_params(trials(rows))
    sp = losscurves.spread(c)
    assert sp["spread_params"].iloc[0] == pytest.approx(0.0)
    assert sp["spread_units"].iloc[0] > 0.1
    s = losscurves.summary(c, sp)
    assert s["spread_ratio"] == pytest.approx(0.0)


def test_spread_nan_without_overlap():
    rows = [{"cell": c, "budget": b, "params": b, "width": w, "valid_metric": 1.0, "eval_metric": 1.0}
            for c, ws in (("rnn", (100, 200)), ("lstm", (10, 20))) for b, w in zip((1000, 2000), ws)]
    sp = losscurves.spread(losscurves.loss_vs_params(trials(rows)))
    assert math.isnan(sp["spread_units"].iloc[0]) and sp["pairs_units"].iloc[0] == 0


# ---------------------------------------------------------------- statistics

def test_welch_against_hand_computation():
    a = [1.0, 2.0, 3.0, 4.0]
    b = [2.0, 4.0, 6.0, 8.0, 10.0]
    na, nb = len(a), len(b)
    ma, mb = sum(a) / na, sum(b) / nb
    va = sum((x - ma) ** 2 for x in a) / (na - 1)
    vb = sum((x - mb) ** 2 for x in b) / (nb - 1)
    t_hand = (ma - mb) / math.sqrt(va / na + vb / nb)
    df_hand = (va / na + vb / nb) ** 2 / ((va / na) ** 2 / (na - 1) + (vb / nb) ** 2 / (nb - 1))
    r = stats.welch(a, b)
    assert r["t"] == pytest.approx(t_hand, rel=1e-12)
    assert r["df"] == pytest.approx(df_hand, rel=1e-12)
    assert t_hand == pytest.approx(-2.2514, abs=1e-4) and df_hand == pytest.approx(5.5208, abs=1e-4)
    assert 0.05 < r["p"] < 0.1  # two-sided, t ≈ -2.25 with ≈5.5 df
    assert stats.welch_df(va, na, vb, nb) == pytest.approx(df_hand)
    assert math.isnan(stats.welch([1.0], b)["t"])


def test_welch_table_pairs_signs_and_feasible_only():
    rows = []
    for cell, vals in (("gru", [0.1, 0.2, 0.15, 0.12]), ("plus", [0.01, 0.02, 0.015]), ("rnn", [1.0, 1.2, 0.9])):
        for i, x in enumerate(vals):
            rows.append({"cell": cell, "depth": 8, "trial": i, "eval_metric": x, "valid_metric": x})
    rows.append({"cell": "plus", "depth": 8, "trial": 9, "eval_metric": 100.0, "valid_metric": 100.0,
                 "infeasible": True})
    w = randomhp.welch_table(trials(rows, mode="random"))
    assert [(r.cell_a, r.cell_b) for r in w.itertuples()] == [("plus", "gru"), ("plus", "rnn"), ("gru", "rnn")]
    pg = w.iloc[0]
    assert pg["n_a"] == 3 and pg["t"] < 0  # +RNN's mean is lower: negative t, as in Table App.2
    assert pg["t"] == pytest.approx(stats.welch([0.01, 0.02, 0.015], [0.1, 0.2, 0.15, 0.12])["t"])


def test_random_summary_and_rerun_stats():
    rows = [{"cell": "irnn", "trial": i, "eval_metric": x, "valid_metric": x, "infeasible": bad}
            for i, (x, bad) in enumerate([(0.1, False), (0.3, False), (0.2, False), (NAN, True), (5.0, True)])]
    rows += [{"cell": "irnn", "trial": 5, "eval_metric": float("inf"), "valid_metric": 0.1}]  # non-finite eval
    t = trials(rows, mode="random")
    s = randomhp.random_summary(t).iloc[0]
    assert s["n"] == 6 and s["n_infeasible"] == 3 and s["pct_infeasible"] == 50.0
    assert s["min"] == 0.1 and s["median"] == 0.2
    r = randomhp.rerun_summary(t.assign(source_eval_metric=0.05)).iloc[0]
    assert r["original"] == 0.05
    assert r["mean"] == pytest.approx(0.2) and r["max"] == 0.3
    sd = math.sqrt(((0.1 - 0.2) ** 2 + (0.3 - 0.2) ** 2 + 0) / 2)
    assert r["sd"] == pytest.approx(sd) and r["sd_over_mean"] == pytest.approx(sd / 0.2)
    n = randomhp.random_numbers(randomhp.random_summary(t))
    assert n["irnn_pct_infeasible"] == 50.0
