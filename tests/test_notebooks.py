"""The figures: one module and one thin notebook per figure, one workflow rule for all of them,
and a papermill run of each notebook on synthetic fits.

The papermill runs are marked `notebooks` (select with `-m notebooks`, skip with `-m "not notebooks"`).
"""

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import nbformat  # noqa: E402
import papermill as pm  # noqa: E402
import pytest  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "analysis"))
import synthetic  # noqa: E402

from rnncap.analysis.common import CELL_ORDER, NOT_RUN, label  # noqa: E402
from rnncap.cli import main  # noqa: E402
from rnncap.figures import FIGURES, make, style  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "workflow" / "notebooks"
# the figure rule's papermill call (workflow/rules/paper.smk), less its notebook paths and parameters
PAPERMILL = [str(Path(sys.executable).parent / "papermill"), "--engine", "rnncap", "-k", "python3", "--no-progress-bar"]
# a dry run; --configfile goes last because it takes every word after it
SNAKEMAKE = [str(Path(sys.executable).parent / "snakemake"), "-n", "-p"]
TEST_CONFIG = ["--configfile", "config/test.yaml"]
WORKFLOW_PARAMS = {"fits_dir", "fig_dir", "preset"}  # what workflow/rules pass with -p


@pytest.fixture(scope="module")
def fits(tmp_path_factory):
    d = tmp_path_factory.mktemp("nbfits")
    tp, bp, roles = synthetic.write_tables(d)
    assert main(["fit", "--trials", str(tp), "--best", str(bp), "--roles", roles, "--out", str(d / "fits")]) == 0
    empty = d / "empty"
    assert main(["fit", "--trials", str(tp), "--roles", "{}", "--out", str(empty)]) == 0
    return d / "fits", empty


def _draw(name, fits_dir, preset):
    return importlib.import_module(f"rnncap.figures.{name}").draw(style.load(fits_dir), preset)


def test_one_notebook_per_figure():
    assert sorted(p.stem for p in NB_DIR.glob("*.ipynb")) == sorted(FIGURES)


@pytest.mark.parametrize("name", FIGURES)
def test_parameters_cell_declares_exactly_the_workflow_parameters(name):
    path = NB_DIR / f"{name}.ipynb"
    params = pm.inspect_notebook(str(path))
    assert set(params) == WORKFLOW_PARAMS
    for p in params.values():  # every parameter has a default: nothing else is required
        assert p["default"] not in (None, "None", "")
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("name", FIGURES)
def test_notebook_is_thin(name):
    nb = nbformat.read(NB_DIR / f"{name}.ipynb", as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for forbidden in ("plt.", "ax.", "matplotlib", "savefig", "read_csv"):
        assert forbidden not in code, f"{name}: plotting code belongs in rnncap.figures ({forbidden!r})"
    assert f"{name}.draw(fits, preset)" in code and f'style.save(fig, fig_dir, "{name}")' in code


def _texts(fig):
    return [t.get_text() for t in fig.findobj(matplotlib.text.Text)]


@pytest.mark.parametrize("name", FIGURES)
def test_figures_on_empty_fits_say_not_run(fits, name, tmp_path):
    fig = _draw(name, fits[1], "test")
    texts = _texts(fig)
    assert NOT_RUN in texts
    assert "reduced scale: preset test" in texts
    pdf, png = style.save(fig, tmp_path, name)
    assert pdf.stat().st_size > 0 and png.stat().st_size > 0


def test_paper_preset_is_not_stamped(fits):
    fig = _draw("fig1", fits[0], "paper")
    assert not any("reduced scale" in t for t in _texts(fig))
    assert NOT_RUN in _texts(fig)  # depth 4 is not in the synthetic capacity grid


def test_one_colour_per_cell():
    assert list(style.CELL_COLORS) == list(CELL_ORDER)
    assert len(set(style.CELL_COLORS.values())) == len(CELL_ORDER)


def test_legend_names_the_cells_drawn_in_the_papers_order(fits):
    fig = _draw("fig1", fits[0], "test")
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    cells = style.cells_in(style.load(fits[0])["capacity_best"])
    assert "plus" in cells and legend[: len(cells)] == [label(c) for c in cells]


@pytest.mark.parametrize("name", FIGURES)
def test_make_draws_and_saves_each_figure(fits, name, tmp_path):
    pdf, png = make(name, fits[0], tmp_path, "test")
    assert (pdf, png) == (tmp_path / f"{name}.pdf", tmp_path / f"{name}.png")
    assert pdf.stat().st_size > 10_000 and png.stat().st_size > 10_000


@pytest.mark.parametrize("name", ["fig9", "style", "engine"])
def test_make_refuses_what_is_not_a_figure(fits, name, tmp_path):
    with pytest.raises(ValueError) as e:
        make(name, fits[0], tmp_path, "test")
    assert name in str(e.value) and "\n" not in str(e.value)
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def executed(fits, tmp_path_factory):
    """All notebooks run at once, each with the workflow's own papermill command line (docs/contracts.md)."""
    out = tmp_path_factory.mktemp("executed")
    fig_dir = out / "figures"
    procs = {}
    for name in FIGURES:
        cmd = [*PAPERMILL, str(NB_DIR / f"{name}.ipynb"), str(out / f"{name}.ipynb"),
               "-p", "fits_dir", str(fits[0]), "-p", "fig_dir", str(fig_dir), "-p", "preset", "test"]
        procs[name] = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    logs = {name: (p.communicate(timeout=300)[0], p.returncode) for name, p in procs.items()}
    return out, fig_dir, logs


@pytest.mark.notebooks
@pytest.mark.parametrize("name", FIGURES)
def test_notebook_runs_under_papermill(executed, name):
    out, fig_dir, logs = executed
    log, rc = logs[name]
    assert rc == 0, log[:3000]  # the head holds the kernel's own traceback, if it died
    for ext in ("pdf", "png"):
        p = fig_dir / f"{name}.{ext}"
        assert p.exists() and p.stat().st_size > 10_000, p
    nb = json.loads((out / f"{name}.ipynb").read_text())
    assert not any(o.get("output_type") == "error" for c in nb["cells"] for o in c.get("outputs", []))
    injected = [c for c in nb["cells"] if "injected-parameters" in c.get("metadata", {}).get("tags", [])]
    assert injected and "preset = \"test\"" in "".join(injected[0]["source"])


def test_the_figure_rule_plans_every_figure_with_the_papermill_command_line():
    """One rule, one job per figure, each running what the fixture above runs: papermill on the
    IPC engine (rnncap.figures.engine)."""
    proc = subprocess.run([*SNAKEMAKE, "--forceall", *TEST_CONFIG], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    jobs = [block for block in out.split("\nrule ")[1:] if block.startswith("figure:")]
    assert len(jobs) == len(FIGURES)
    for name in FIGURES:
        cmd = (f"papermill workflow/notebooks/{name}.ipynb results/notebooks/{name}.ipynb --engine rnncap -k python3"
               f" -p fits_dir results/fits -p fig_dir paper/figures -p preset test > logs/figures/{name}.log 2>&1")
        assert sum(cmd in block for block in jobs) == 1, name


def test_the_figure_rule_takes_no_other_name():
    """Its wildcard is constrained to FIGURES: another module of rnncap.figures is not a figure."""
    proc = subprocess.run([*SNAKEMAKE, "paper/figures/style.png", *TEST_CONFIG], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode != 0 and "MissingRuleException" in proc.stdout + proc.stderr


@pytest.mark.notebooks
def test_engine_runs_the_kernel_over_unix_sockets_and_removes_them(tmp_path):
    """Unix sockets cannot race for a TCP port when figure rules start kernels together."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(
        "from ipykernel.kernelapp import IPKernelApp\napp = IPKernelApp.instance()\nprint(app.transport, app.ip)")]
    src, dst, tmp = tmp_path / "in.ipynb", tmp_path / "out.ipynb", tmp_path / "tmp"
    nbformat.write(nb, src)
    tmp.mkdir()
    proc = subprocess.run([*PAPERMILL, str(src), str(dst)], env={**os.environ, "TMPDIR": str(tmp)},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[:3000]
    transport, ip = nbformat.read(dst, as_version=4).cells[0].outputs[0]["text"].split()
    assert transport == "ipc" and ip.startswith(str(tmp / "rnncap-kernel-"))
    assert list(tmp.iterdir()) == []  # the sockets are removed at shutdown
