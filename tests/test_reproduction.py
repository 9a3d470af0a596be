"""`rnncap reproduction`: the frozen record of a finished run (issue 6 deliverables)."""

import json
import re
from pathlib import Path

import pandas as pd

from rnncap.report import record as R
from rnncap.report import scorecard
from rnncap.report import targets as T
from rnncap.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _fits(tmp_path, bpp_rnn=3.5, mem_at=0.01):
    fits = tmp_path / "fits"
    fits.mkdir(parents=True)
    rows = []
    for cell, depths in (("rnn", (1, 2)), ("gru", (1,)), ("plus", (2,))):
        for d in depths:
            for budget, params in ((300, 290), (2000, 1950)):
                bpp = bpp_rnn if cell == "rnn" else 4.5
                bpp = bpp if budget == 2000 else 1.0
                rows.append({"cell": cell, "depth": d, "budget": budget, "params": params, "width": 10, "mi": bpp * params,
                             "valid_mi": bpp * params, "b": 4 * params, "bits_per_param": bpp, "nonlinearity": "tanh",
                             "n_trials": 5, "n_feasible": 5})
    pd.DataFrame(rows).to_csv(fits / "capacity_best.csv", index=False)
    mem = [{"cell": c, "depth": 1, "budget": 1000 * w, "params": 1000 * w, "width": w, "n_in": 64,
            "error": err, "reference": max(0.0, 1 - w / 64), "n_trials": 4, "n_feasible": 4}
           for c in ("gru", "rnn") for w, err in ((32, 0.52), (64, mem_at), (96, mem_at / 2))]
    pd.DataFrame(mem).to_csv(fits / "memory.csv", index=False)
    (fits / "numbers.json").write_text("{}")
    bench = tmp_path / "bench" / "capacity" / "rnn" / "p2000" / "d1"
    bench.mkdir(parents=True)
    (bench / "s0.tsv").write_text("s\th:m:s\tmax_rss\n12.5\t0:00:12\t300.25\n")
    return fits


def test_tables_have_the_issue_columns_and_order():
    best = pd.DataFrame({"cell": ["gru", "rnn"], "depth": [1, 1], "budget": [300, 300], "params": [290, 280],
                         "width": [5, 9], "b": [1000, 1100], "mi": [600.0, 700.0], "bits_per_param": [2.07, 2.5],
                         "n_trials": [3, 3], "n_feasible": [3, 3]})
    cap = R.capacity_table(best)
    assert {"cell", "depth", "params", "best_mi_bits", "bits_per_param"} <= set(cap)
    assert list(cap["cell"]) == ["rnn", "gru"]  # paper order
    assert list(cap["best_mi_bits"]) == [700.0, 600.0]


def test_targets_pass_and_miss_on_the_measured_values(tmp_path):
    fits = _fits(tmp_path)
    cap = R.capacity_table(pd.read_csv(fits / "capacity_best.csv"))
    mem = R.memory_table(pd.read_csv(fits / "memory.csv"))
    t = T.targets(cap, mem)
    each = t[t.target.str.startswith("bits/param at the largest budget")]
    assert len(each) == 4 and each["met"].all()  # rnn d1, rnn d2, gru d1, plus d2: all >= 3 at 2000
    mean = t[t.target.str.startswith("mean over cells")].iloc[0]
    assert abs(mean["measured"] - (3.5 + 4.5 + 4.5) / 3) < 1e-3 and mean["met"]  # cells, depths averaged
    assert t[t.target.str.contains("n_h >= n_in")]["met"].all()
    low = T.targets(R.capacity_table(pd.read_csv(_fits(tmp_path / "b", bpp_rnn=2.5, mem_at=0.3)
                                                 / "capacity_best.csv")),
                    R.memory_table(pd.read_csv(_fits(tmp_path / "c", mem_at=0.3) / "memory.csv")))
    assert not low[low.target.str.contains("RNN depth 1")]["met"].any()
    assert not low[low.target.str.contains("n_h >= n_in")]["met"].any()
    assert low[low.target.str.contains("RNN depth 1")]["measured"].iloc[0] == 2.5


def test_cli_writes_the_folder(tmp_path, monkeypatch):
    fits = _fits(tmp_path)
    figs, tabs = tmp_path / "figs", tmp_path / "tabs"
    figs.mkdir()
    tabs.mkdir()
    for f in ("fig1", "fig5"):
        (figs / f"{f}.png").write_bytes(b"\x89PNG")
    for t in ("capacity_summary.md", "table1_random_hp.md"):
        (tabs / t).write_text("| a |\n")
    sc = tmp_path / "scorecard.md"
    scorecard.write({}, "repro", sc)  # every claim "not run"; scorecard.csv beside it
    cfg = tmp_path / "repro.yaml"
    cfg.write_text("preset: repro\nexperiments:\n  cap: {task: capacity, description: 'small, trained\n    to saturation'}\n"
                   "  mem: {task: memory, budgets: [300], depths: [1]}\nroles: {capacity: cap, memory: [mem]}\n")
    out = tmp_path / "out"
    rc = main(["reproduction", "--fits", str(fits), "--figures", str(figs), "--tables", str(tabs),
               "--scorecard", str(sc), "--benchmarks", str(tmp_path / "bench"), "--config", str(cfg),
               "--preset", "repro", "--command", "snakemake --cores all --configfile config/repro.yaml",
               "--wall-s", "5400", "--started", "2026-11-27T00:00:00Z", "--out", str(out)])
    assert rc == 0
    cap = pd.read_csv(out / "capacity.csv")
    assert {"cell", "depth", "params", "best_mi_bits", "bits_per_param"} <= set(cap) and len(cap) == 8
    mem = pd.read_csv(out / "memory.csv")
    assert {"cell", "depth", "width", "eval_error_per_dim"} <= set(mem) and len(mem) == 6
    jobs = pd.read_csv(out / "jobs.csv")
    assert jobs.iloc[0].to_dict() == {"experiment": "capacity", "cell": "rnn", "budget": 2000, "depth": 1,
                                      "seed": 0, "wall_s": 12.5, "max_rss_mb": 300.2}
    run = json.loads((out / "run.json").read_text())
    assert run["wall_s"] == 5400 and run["command"].startswith("snakemake")
    assert run["machine"]["cores"] >= 1 and run["versions"]["torch"] != "not installed"
    text = (out / "README.md").read_text()
    assert "90.0 min" in text and "snakemake --cores all" in text and "torch" in text
    assert "| RNN | 1 | 1950 |" in text
    # each claim with the scale it ran at: the experiment's description, else its budgets and depths
    assert "17 not run at this scale (of 17 claims)." in text
    assert re.search(r"\| C1 \|.*\| `cap`: small, trained to saturation \|", text)
    assert re.search(r"\| C7 \|.*\| `mem`: budgets \[300\], depths \[1\] \|", text)
    assert re.search(r"\| C10 \|.*\| not run \|", text)
    for f in ("figures/fig1.png", "figures/fig5.png", "capacity_summary.md", "table1_random_hp.md", "scorecard.md", "config.yaml", "targets.csv",
              "numbers.json"):
        assert (out / f).exists(), f


def test_summary_reads_the_committed_record():
    """The committed record reads back: capacity per cell and depth, the targets and every claim's verdict."""
    folder = ROOT / "paper" / "reproductions" / "repro"
    text = R.summary_markdown(folder)
    assert "| RNN | 1.61 | 0.96 | 1938 |" in text and "(paper: ≈5)" in text
    assert "Workstation targets met: 2 of 14 (`targets.csv`)." in text
    sc = pd.read_csv(folder / "scorecard.csv")
    assert "The paper's claims in this record: 6 reproduced, 2 tie within 10%" in text and len(sc) == 17
    for r in sc[sc.verdict != "not run at this scale"].itertuples():
        assert re.search(rf"\| {r.id} \| [^\n]* \| \*\*{re.escape(r.verdict)}\*\* \|", text), r.id
    assert "Not run at this scale: C9." in text and "| C9 |" not in text
