"""Figures from a record (issue 20): a record carries its trial tables, and `rnncap record-figures`
rebuilds the fits, figures, tables, scorecard and paper document from it without training.

The slow test records a real run of config/test.yaml and rebuilds it in a fresh copy of the
repository; the others use the synthetic trial table of tests/fixtures/analysis.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "analysis"))
import synthetic  # noqa: E402
from test_workflow import BIN, ENV, copy_repo, smk  # noqa: E402

from rnncap import io  # noqa: E402
from rnncap.cli import main  # noqa: E402
from rnncap.figures import FIGURES  # noqa: E402
from rnncap.report import record as R  # noqa: E402
from rnncap.report.tables import BUILDERS  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "paper" / "rnncap.md"
REPRO = ROOT / "paper" / "reproductions" / "repro"


def outputs_exist(out: Path) -> None:
    for f in FIGURES:
        for ext in ("pdf", "png"):
            assert (out / "figures" / f"{f}.{ext}").stat().st_size > 0, f
    for t in BUILDERS:
        assert (out / "tables" / f"{t}.md").is_file() and (out / "tables" / f"{t}.tex").is_file(), t
    for f in ("scorecard.md", "scorecard.csv", "rnncap.html", "fits/numbers.json", "fits/capacity_best.csv"):
        assert (out / f).stat().st_size > 0, f


def one_line_error(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


@pytest.fixture(scope="module")
def synthetic_record(tmp_path_factory):
    """A record as far as the rebuild reads it: the two trial tables and the config's roles and preset."""
    rec = tmp_path_factory.mktemp("synthetic") / "rec"
    synthetic.write_tables(rec)
    (rec / "config.yaml").write_text(f"preset: synth\nroles: {synthetic.json.dumps(synthetic.ROLES)}\n")
    return rec


def test_record_carries_its_trial_tables_without_timing(tmp_path):
    tables, out = tmp_path / "tables", tmp_path / "rec"
    synthetic.write_tables(tables)
    assert R.copy_trial_tables(tables, out) == {n: len(io.read_parquet(tables / n)) for n in R.TRIAL_TABLES}
    for name in R.TRIAL_TABLES:
        ours, theirs = io.read_parquet(out / name), io.read_parquet(tables / name)  # checksummed, read back
        assert "wall_s" in theirs and "wall_s" not in ours
        pd.testing.assert_frame_equal(ours, theirs.drop(columns=["wall_s"]))
    (tables / "best.parquet").unlink()  # a rerun without a table leaves no stale copy of the last one
    assert set(R.copy_trial_tables(tables, out)) == {"trials.parquet"} and not (out / "best.parquet").exists()


def test_rebuild_from_a_synthetic_record(synthetic_record, tmp_path, capsys):
    out = tmp_path / "records" / "synth"
    assert main(["record-figures", "--record", str(synthetic_record), "--out", str(out),
                 "--template", str(TEMPLATE)]) == 0
    outputs_exist(out)
    assert "synth" in (out / "scorecard.csv").read_text()  # the record's preset, not the checkout's
    assert "no training" in capsys.readouterr().out


def test_a_record_without_trial_tables_is_named_in_one_line(synthetic_record, tmp_path, capsys):
    rec = tmp_path / "rec"
    rec.mkdir()
    shutil.copy(synthetic_record / "config.yaml", rec)
    err = one_line_error(capsys, ["record-figures", "--record", str(rec), "--out", str(tmp_path / "out")])
    assert f"{rec / 'trials.parquet'}: not found" in err and "no trial tables" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["trials.parquet", "best.parquet"])
def test_a_damaged_trial_table_is_named_in_one_line(synthetic_record, tmp_path, capsys, name):
    rec = tmp_path / "rec"
    shutil.copytree(synthetic_record, rec)
    good = (rec / name).read_bytes()
    (rec / name).write_bytes(good[: len(good) // 2])
    err = one_line_error(capsys, ["record-figures", "--record", str(rec), "--out", str(tmp_path / "out")])
    assert f"{rec / name}: damaged file" in err and "restore it" in err, err
    assert not (tmp_path / "out").exists()


def test_the_committed_record(tmp_path, capsys):
    """paper/reproductions/repro/: rebuilt when it carries its trial tables; until its next rerun,
    the command names the missing table in one line."""
    argv = ["record-figures", "--record", str(REPRO), "--out", str(tmp_path / "out"), "--template", str(TEMPLATE)]
    if not (REPRO / "trials.parquet").exists():
        err = one_line_error(capsys, argv)
        assert f"{REPRO / 'trials.parquet'}: not found" in err and "make repro" in err
        return
    assert main(argv) == 0
    outputs_exist(tmp_path / "out")


@pytest.mark.slow
def test_figures_from_the_record_of_a_real_run(tmp_path):
    """Run config/test.yaml, record it, and rebuild from the record alone in a fresh checkout:
    no training, every output, and the run's fits, tables and scorecard exactly."""
    run = copy_repo(tmp_path / "run")
    smk(run, "--cores", "2", "--configfile", "config/test.yaml")
    rec = tmp_path / "record" / "test"
    r = subprocess.run([str(BIN / "rnncap"), "reproduction", "--preset", "test", "--config", "config/test.yaml",
                        "--command", "snakemake --cores 2 --configfile config/test.yaml", "--out", str(rec)],
                       cwd=run, env=ENV, capture_output=True, text=True)
    assert r.returncode == 0 and "warning" not in r.stdout, r.stdout + r.stderr
    trials = io.read_parquet(rec / "trials.parquet")
    pd.testing.assert_frame_equal(trials, io.read_parquet(run / "results/tables/trials.parquet").drop(columns="wall_s"))
    assert (rec / "trials.parquet").stat().st_size + (rec / "best.parquet").stat().st_size < 256 * 1024
    assert "Trial tables: `trials.parquet`" in (rec / "README.md").read_text()

    fresh = copy_repo(tmp_path / "fresh")  # nothing computed: no runs, data, tables or logs
    r = subprocess.run([str(BIN / "rnncap"), "record-figures", "--record", str(rec)], cwd=fresh, env=ENV,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    print(r.stdout)
    out = fresh / "results" / "records" / "test"
    outputs_exist(out)
    computed = {p.relative_to(fresh).parts[:2] for p in fresh.rglob("*") if p.parts[len(fresh.parts)] in
                ("results", "logs", ".snakemake")}
    assert computed == {("results",), ("results", "records")}, computed  # no training, no data, no workflow
    assert "scorecard: the same as the record's" in r.stdout
    assert (out / "scorecard.md").read_text() == (rec / "scorecard.md").read_text() == \
        (run / "paper" / "scorecard.md").read_text()
    for p in (run / "results" / "fits").iterdir():
        assert (out / "fits" / p.name).read_bytes() == p.read_bytes(), p.name
    for p in (run / "paper" / "tables").iterdir():
        assert (out / "tables" / p.name).read_bytes() == p.read_bytes(), p.name
