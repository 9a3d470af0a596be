"""A synthetic trial table (every role) -> `rnncap fit` -> CSVs, numbers.json, tables, scorecard."""

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "analysis"))
import synthetic  # noqa: E402

from rnncap.analysis.fit import FIT_FILES, NUMBERS  # noqa: E402
from rnncap.analysis.common import NOT_RUN  # noqa: E402
from rnncap.report.claims import REPRODUCED  # noqa: E402
from rnncap.report.tables import BUILDERS  # noqa: E402
from rnncap.cli import main  # noqa: E402
from rnncap.trials import COLUMNS  # noqa: E402


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    d = tmp_path_factory.mktemp("synth")
    tp, bp, roles = synthetic.write_tables(d)
    assert main(["fit", "--trials", str(tp), "--best", str(bp), "--roles", roles, "--out", str(d / "fits")]) == 0
    return d, tp, bp, roles


def test_synthetic_table_follows_schema(synth):
    d, tp, _, _ = synth
    t = pd.read_parquet(tp)
    assert set(COLUMNS) <= set(t.columns)
    assert set(t["experiment"]) >= {e for v in synthetic.ROLES.values() for e in ([v] if isinstance(v, str) else v)}
    assert {"search", "random", "rerun"} <= set(t["mode"])


def test_fit_writes_every_csv_with_documented_columns(synth):
    d = synth[0] / "fits"
    for name, (_, cols, _) in FIT_FILES.items():
        df = pd.read_csv(d / f"{name}.csv")
        assert list(df.columns) == cols, name
        assert len(df) > 0, f"{name} empty on a table covering every role"
    numbers = json.loads((d / NUMBERS).read_text())
    for key in ("capacity", "relu", "unroll", "memory", "text8", "rcf", "parentheses", "arithmetic",
                "random_hp", "rerun_best"):
        assert numbers[key]["available"] is True, key
    assert numbers["checks"]["best_table_mismatches"] == 0
    assert numbers["checks"]["best_table_runs"] == len(pd.read_parquet(synth[2]))


def test_fit_numbers_on_synthetic_shape(synth):
    n = json.loads((synth[0] / "fits" / NUMBERS).read_text())
    c = n["capacity"]
    assert 3.0 < c["bpp_mean"] < 6.0
    assert c["ordering"][0] == "rnn" and c["ordering"][-1] == "irnn"
    assert n["random_hp"]["by_depth"]["8"]["best_median"] == "plus"
    assert n["parentheses"]["by_depth"]["1"]["best_cell_loss"] == "gru"
    assert n["unroll"]["seq_lens"] == [1, 2, 5]
    assert n["text8"]["spread_ratio"] < 1.0


def test_fit_with_no_roles_writes_empty_csvs_with_headers(tmp_path, synth):
    _, tp, bp, _ = synth
    out = tmp_path / "fits"
    roles = json.dumps({"capacity": "no-such-experiment"})
    assert main(["fit", "--trials", str(tp), "--best", str(bp), "--roles", roles, "--out", str(out)]) == 0
    for name, (_, cols, _) in FIT_FILES.items():
        df = pd.read_csv(out / f"{name}.csv")
        assert list(df.columns) == cols and df.empty, name
    n = json.loads((out / NUMBERS).read_text())
    assert n["capacity"]["available"] is False
    # downstream still works and says "not run"
    assert main(["tables", "--fits", str(out), "--out", str(tmp_path / "tables")]) == 0
    assert "not run at this scale" in (tmp_path / "tables" / "table1_random_hp.md").read_text()
    assert main(["scorecard", "--fits", str(out), "--preset", "test", "--out", str(tmp_path / "sc.md")]) == 0
    assert set(pd.read_csv(tmp_path / "sc.csv")["verdict"]) == {NOT_RUN}


def test_fit_errors_are_one_line(tmp_path, capsys):
    rc = main(["fit", "--trials", str(tmp_path / "missing.parquet"), "--roles", "{}", "--out", str(tmp_path)])
    assert rc == 2 and "missing.parquet" in capsys.readouterr().err
    rc = main(["fit", "--trials", str(tmp_path / "x.parquet"), "--roles", '{"bogus": "x"}', "--out", str(tmp_path)])
    assert rc == 2


def test_tables_and_scorecard_from_synthetic_fits(synth, tmp_path):
    fits = synth[0] / "fits"
    assert main(["tables", "--fits", str(fits), "--out", str(tmp_path / "tables")]) == 0
    for name in BUILDERS:
        tex = (tmp_path / "tables" / f"{name}.tex").read_text()
        md = (tmp_path / "tables" / f"{name}.md").read_text()
        assert r"\toprule" in tex and r"\bottomrule" in tex and "not run" not in md
    a2 = (tmp_path / "tables" / "tableA2_welch.md").read_text()
    assert "+RNN/GRU" in a2 and "-23.6 / 1080 / <0.001" in a2  # ours beside the paper's
    assert main(["scorecard", "--fits", str(fits), "--preset", "paper", "--out", str(tmp_path / "sc.md")]) == 0
    sc = pd.read_csv(tmp_path / "sc.csv")
    assert len(sc) >= 15 and set(sc["preset"]) == {"paper"}
    # the synthetic data were made to follow the paper: most claims hold, none "not run"
    assert (sc["verdict"] == REPRODUCED).sum() >= 12 and NOT_RUN not in set(sc["verdict"])
