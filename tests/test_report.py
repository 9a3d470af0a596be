"""The report stage on hand-made numbers: claims and their verdicts, the scorecard files,
the workstation targets as claims, the one Markdown table renderer, the paper tables' formatting."""

import re

import pandas as pd

from rnncap.analysis.common import NOT_RUN
from rnncap.report import claims, markdown, scorecard, tables, targets
from rnncap.report.claims import NOT_REPRODUCED, REPRODUCED, TIE

NAN = float("nan")


def _numbers(**over):
    n = {
        "capacity": {"available": True, "bpp_min": 3.2, "bpp_max": 5.9, "bpp_mean": 4.6,
                     "ordering": ["rnn", "ugrnn", "gru", "plus", "lstm", "irnn"],
                     "bpp_by_cell": {"rnn": 5.5, "irnn": 3.0, "gru": 4.9}, "irnn_max": 3.4},
        "relu": {"available": True, "by_cell": {"rnn": {"all": 5.5, "relu": 3.6}, "ugrnn": {"all": 5.2, "relu": 3.2}}},
        "unroll": {"available": True, "curve": {"1": 2.0, "2": 3.5, "5": 4.2, "8": 4.3}},
        "memory": {"available": True, "n_points_at_or_above": 4, "max_error_at_or_above": 0.04,
                   "n_points_below": 4, "mean_abs_dev_below": 0.03},
        "text8": {"available": True, "spread_ratio": 0.3, "spread_params": 0.01, "spread_units": 0.03},
        "rcf": {"available": False},
        "parentheses": {"available": True, "by_depth": {
            "1": {"losses": {"gru": 0.105, "lstm": 0.10, "rnn": 0.5}, "tuning": {"gru": 0.2, "lstm": 0.3}},
            "8": {"losses": {"gru": 0.3, "plus": 0.5}, "tuning": {"gru": 0.3, "plus": 0.2}}}},
        "random_hp": {"available": True, "irnn_pct_infeasible": 71.0,
                      "by_depth": {"1": {"median": {"gru": 0.1, "rnn": 0.2}}}},
    }
    n.update(over)
    return n


# ---------------------------------------------------------------- claims

def test_claim_verdicts_on_known_numbers():
    c = {c.id: c for c in claims.evaluate(_numbers())}
    v = {k: x.verdict for k, x in c.items()}
    assert v["C1"] == REPRODUCED and v["C2"] == REPRODUCED
    assert v["C3"] == REPRODUCED  # one swap (+RNN/LSTM)
    assert v["C4"] == REPRODUCED and v["C5"] == REPRODUCED
    assert v["C6"] == REPRODUCED  # rises 2.0 -> 4.3, last step 2%
    assert v["C7"] == REPRODUCED and v["C8"] == REPRODUCED
    assert v["C9"] == REPRODUCED and v["C10"] == NOT_RUN  # RCF not run
    assert v["C11"] == TIE  # GRU 5% behind the LSTM's loss, best tuning: a tie, not "reproduced"
    assert c["C11"].measured == "best loss: LSTM (GRU +5%); fastest tuning: GRU"
    assert v["C12"] == NOT_REPRODUCED  # +RNN loses on loss at depth 8
    assert c["C12"].measured == "best loss: GRU (+RNN +67%); fastest tuning: +RNN"
    assert v["C13"] == NOT_RUN and v["C14"] == NOT_RUN  # arithmetic absent
    assert v["C15"] == NOT_REPRODUCED  # 71% is 21 points from 50
    assert v["C16"] == REPRODUCED and c["C16"].measured == "lowest: GRU" and v["C17"] == NOT_RUN


def test_numbers_the_paper_gives_show_the_gap():
    """Where the paper gives a number, Ours shows ours and its signed distance from the paper's."""
    c = {c.id: c for c in claims.evaluate(_numbers())}
    assert c["C2"].measured == "4.60 (gap −0.40)"
    assert c["C4"].measured == "max 3.40 (gap −0.10), lowest"
    assert c["C5"].measured.startswith("RNN 3.60 (gap +0.10; all HPs 5.50)")
    assert c["C15"].measured == "71% (gap +21 points)"
    assert list(claims.ROLES) == [x.id for x in claims.evaluate({})]  # one role per claim, in order


def test_reproduced_never_beside_another_winner():
    """A verdict reads "reproduced" only when the Ours column names the claimed cell as best."""
    for losses in ({"gru": 0.10, "lstm": 0.10}, {"gru": 0.105, "lstm": 0.10}, {"gru": 0.2, "lstm": 0.1}):
        n = _numbers(parentheses={"available": True, "by_depth": {"1": {"losses": losses, "tuning": {"gru": 1.0}}}})
        c = claims.evaluate(n)[10]
        others = re.findall(r"best loss: ([^ ;]+)", c.measured)
        assert (c.verdict == REPRODUCED) == (others == ["GRU"]), (losses, c)


def test_claim_tolerance_edges_and_absent_roles():
    n = _numbers()
    n["capacity"] = {**n["capacity"], "bpp_max": 6.6, "bpp_mean": 3.9,
                     "ordering": ["lstm", "rnn", "ugrnn", "gru", "plus"]}
    v = {c.id: c.verdict for c in claims.evaluate(n)}
    assert v["C1"] == NOT_REPRODUCED  # 6.6 > 6 + 0.5
    assert v["C2"] == NOT_REPRODUCED  # |3.9 - 5| > 1
    assert v["C3"] == NOT_REPRODUCED  # LSTM first: 3 discordant pairs
    empty = {c.id: c.verdict for c in claims.evaluate({})}
    assert set(empty.values()) == {NOT_RUN}
    assert claims.discordant_pairs(["rnn", "gru", "ugrnn"], ("rnn", "ugrnn", "gru")) == 1
    assert claims.wins({"a": 1.0, "b": 1.09}, "b") and not claims.wins({"a": 1.0, "b": 1.11}, "b")
    assert claims.standing({"a": 1.0, "b": 1.0}, "b") == REPRODUCED  # equal best is a win
    assert claims.standing({"a": 1.0, "b": 1.09}, "b") == TIE
    assert claims.standing({"a": 1.0, "b": NAN}, "b") == NOT_REPRODUCED
    assert claims.worst([REPRODUCED, TIE]) == TIE and claims.worst([TIE, NOT_REPRODUCED]) == NOT_REPRODUCED


def test_bound_holds_and_reads():
    b = claims.Bound(">=", 3.0, "why")
    assert b.holds(3.0) and not b.holds(2.99) and not b.holds(NAN) and str(b) == ">= 3"
    assert claims.MEM_ZERO.holds(0.1) and not claims.MEM_ZERO.holds(0.11) and str(claims.MEM_ZERO) == "<= 0.1"
    assert all(x.why for x in (claims.MEM_ZERO, claims.MEM_CURVE, targets.BPP_EACH, targets.BPP_MEAN))


# ---------------------------------------------------------------- scorecard files

def test_scorecard_files(tmp_path):
    cs = scorecard.write(_numbers(), "test", tmp_path / "scorecard.md")
    md = (tmp_path / "scorecard.md").read_text()
    assert "Reduced scale: preset `test`" in md
    assert len(cs) == len(re.findall(r"^\| C\d+ \|", md, flags=re.M))
    assert f"1 {TIE}," in md and "(of 17 claims)." in md
    csv = pd.read_csv(tmp_path / "scorecard.csv")
    assert list(csv["verdict"]) == [c.verdict for c in cs] and set(csv["preset"]) == {"test"}
    assert list(csv.columns) == ["id", "claim", "paper", "measured", "tolerance", "verdict", "value", "preset"]


def test_counts_line_names_ties_only_when_there_are_any():
    cs = claims.evaluate({})
    assert scorecard.counts_line(c.verdict for c in cs) == f"0 reproduced, 0 not reproduced, 17 {NOT_RUN} (of 17 claims)."


# ---------------------------------------------------------------- workstation targets

def test_targets_are_claims_with_bounds():
    cap = pd.DataFrame({"cell": ["rnn", "rnn"], "depth": [1, 1], "budget": [300, 2000], "params": [290, 1950],
                        "bits_per_param": [1.0, 2.9996]})
    mem = pd.DataFrame({"cell": ["gru"] * 2, "depth": [1, 1], "width": [64, 96], "n_in": [64, 64],
                        "eval_error_per_dim": [0.2, 0.05], "reference": [0.0, 0.0]})
    cs = targets.evaluate(cap, mem)
    assert [c.id for c in cs] == ["T1", "T2", "T3"]
    assert cs[0].value == 3.0 and cs[0].verdict == NOT_REPRODUCED  # judged unrounded: 2.9996 < 3
    assert cs[0].tolerance == ">= 3" and cs[1].tolerance == ">= 4"
    assert cs[2].tolerance == "<= 0.1" and cs[2].value == 0.2 and cs[2].verdict == NOT_REPRODUCED
    t = targets.table(cs)
    assert list(t.columns) == ["target", "threshold", "measured", "met"]
    assert list(t["met"]) == [c.verdict == REPRODUCED for c in cs]
    assert targets.met_line(t) == "0 of 3"


# ---------------------------------------------------------------- rendering

def test_markdown_table():
    assert markdown.table(["a", "b"], [["1|2", 3]]) == "| a | b |\n|---|---|\n| 1\\|2 | 3 |"
    assert markdown.table(["a", "b", "c"], [], "lrc").splitlines()[1] == "|:--|--:|:-:|"


def test_table_formatting():
    assert tables.fmt(3.0) == "3.00" and tables.fmt(0.0609) == "0.0609" and tables.fmt(1080.4) == "1080"
    assert tables.fmt(4.2e-4) == "4.20e-04" and tables.fmt(NAN) == tables.DASH
    assert tables.fmt_p(2e-5) == "<0.001" and tables.fmt_pct(48.0) == "48%"
    assert tables.tex_escape("48% a_b <0.001") == r"48\% a\_b $<$0.001"
    t = tables.Table("x", "X", "cap", ["A", "B"], [["RNN", "1|2"]])
    assert "| RNN | 1\\|2 |" in tables.to_markdown(t)
    tex = tables.to_latex(t)
    assert r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex and "RNN & 1|2" in tex
