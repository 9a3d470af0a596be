"""`rnncap paper`: the report template filled from the fits and rendered to self-contained HTML."""

import re
import shutil
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "analysis"))
import synthetic  # noqa: E402

from rnncap import figures  # noqa: E402
from rnncap.figures import FIGURES  # noqa: E402
from rnncap.report.document import unfilled  # noqa: E402
from rnncap.cli import main  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "paper" / "rnncap.md"
TABLE_TITLES = ("Table 1.", "Table App.1.", "Table App.2.", "Fig. 1i.", "Capacity summary.")


def _stage(d: Path, roles: str, figures_from: Path | None = None) -> dict:
    tp, bp, _ = synthetic.write_tables(d) if not (d / "trials.parquet").exists() else (
        d / "trials.parquet", d / "best.parquet", None)
    fits, tables, sc, figs = d / "fits", d / "tables", d / "scorecard.md", d / "figures"
    assert main(["fit", "--trials", str(tp), "--best", str(bp), "--roles", roles, "--out", str(fits)]) == 0
    assert main(["tables", "--fits", str(fits), "--out", str(tables)]) == 0
    assert main(["scorecard", "--fits", str(fits), "--preset", "test", "--out", str(sc)]) == 0
    if figures_from is None:
        for name in FIGURES:
            figures.make(name, fits, figs, "test")
    else:
        shutil.copytree(figures_from, figs)
    return {"fits": fits, "tables": tables, "scorecard": sc, "figures": figs}


def _paper(s: dict, out: Path, template: Path = TEMPLATE) -> int:
    return main(["paper", "--fits", str(s["fits"]), "--figures", str(s["figures"]), "--tables", str(s["tables"]),
                 "--scorecard", str(s["scorecard"]), "--template", str(template), "--out", str(out)])


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    return _stage(tmp_path_factory.mktemp("paper"), synthetic.json.dumps(synthetic.ROLES))


def test_report_has_every_figure_table_and_no_placeholder(staged, tmp_path):
    out = tmp_path / "results" / "paper" / "rnncap.html"
    assert _paper(staged, out) == 0
    html = out.read_text()
    for name in FIGURES:
        assert re.search(rf'<figure id="{name}"><img alt="{name}" src="data:image/png;base64,[A-Za-z0-9+/=]{{1000,}}"',
                         html), name
    assert html.count("<img") == len(FIGURES)
    assert not re.search(r'src="(?!data:)', html)  # self-contained: nothing loaded from elsewhere
    for title in TABLE_TITLES:
        assert title in html, title
    assert 'id="scorecard"' in html and "C17" in html
    assert unfilled(html) == []
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html)
    assert "n/a" not in text  # every role is in the synthetic table, so every number is filled
    assert "Reduced scale: preset <code>test</code>" in html


def test_report_builds_when_nothing_was_run(staged, tmp_path):
    d = tmp_path / "empty"
    d.mkdir()
    for f in ("trials.parquet", "best.parquet"):
        shutil.copy(staged["fits"].parent / f, d / f)
    s = _stage(d, "{}", figures_from=staged["figures"])
    out = tmp_path / "empty.html"
    assert _paper(s, out) == 0
    html = out.read_text()
    assert unfilled(html) == [] and "not run at this scale" in html
    assert html.count("<img") == len(FIGURES)


def test_report_summarises_committed_reproductions(staged, tmp_path):
    repro = tmp_path / "reproductions"
    assert main(["reproduction", "--fits", str(staged["fits"]), "--figures", str(staged["figures"]),
                 "--tables", str(staged["tables"]), "--scorecard", str(staged["scorecard"]),
                 "--benchmarks", str(tmp_path / "none"), "--preset", "repro", "--wall-s", "4321",
                 "--command", "snakemake --cores all --configfile config/repro.yaml",
                 "--out", str(repro / "repro")]) == 0
    out = tmp_path / "r.html"
    assert main(["paper", "--fits", str(staged["fits"]), "--figures", str(staged["figures"]), "--tables",
                 str(staged["tables"]), "--scorecard", str(staged["scorecard"]), "--template", str(TEMPLATE),
                 "--reproductions", str(repro), "--out", str(out)]) == 0
    html = out.read_text()
    assert "Preset <code>repro</code>" in html and "72 min wall" in html and "bits/param, depth 1" in html
    assert "Workstation targets met" in html and unfilled(html) == []
    out2 = tmp_path / "none.html"
    assert main(["paper", "--fits", str(staged["fits"]), "--figures", str(staged["figures"]), "--tables",
                 str(staged["tables"]), "--scorecard", str(staged["scorecard"]), "--template", str(TEMPLATE),
                 "--reproductions", str(tmp_path / "nothing"), "--out", str(out2)]) == 0
    assert "No committed reproduction" in out2.read_text()


def test_missing_figure_or_bad_placeholder_fails(staged, tmp_path, capsys):
    figs = tmp_path / "figs"
    shutil.copytree(staged["figures"], figs)
    (figs / "fig3.png").unlink()
    assert _paper({**staged, "figures": figs}, tmp_path / "x.html") == 2
    assert "fig3.png" in capsys.readouterr().err
    bad = tmp_path / "bad.md"
    bad.write_text("# t\n\n{{ no_such_name }}\n")
    assert _paper(staged, tmp_path / "y.html", bad) == 2
    assert "no_such_name" in capsys.readouterr().err
    assert not (tmp_path / "x.html").exists() and not (tmp_path / "y.html").exists()


def test_template_types_no_number():
    """Numbers in the report come from placeholders; the prose itself holds only labels like 'Fig. 1'."""
    text = TEMPLATE.read_text()
    prose = re.sub(r"\{#.*?#\}|\{\{.*?\}\}|\{%.*?%\}", " ", text, flags=re.S)
    allowed = [r"Fig\. App\.\d", r"Tables? App\.\d(–App\.\d)?", r"Fig\. \d", r"Table \d", r"§\d+",
               r"ICLR \d{4}", r"max\(0, 1 − n_h/n_in\)", r"text8"]
    for pat in allowed:
        prose = re.sub(pat, " ", prose)
    assert not re.findall(r".{0,30}\d.{0,30}", prose), "typed numbers in paper/rnncap.md"
    for name in FIGURES:
        assert f'figure("{name}"' in text
    for name in ("table1_random_hp", "tableA1_rerun", "tableA2_welch", "fig1i_ratio", "capacity_summary"):
        assert f'table("{name}")' in text
    assert "scorecard()" in text
