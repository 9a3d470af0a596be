import subprocess
import sys

import pytest

from rnncap.model.cells import CELLS, CellError
from rnncap.model.ensemble import Arch, Ensemble
from rnncap.model.params import BudgetError, count_params, solve_width


def depths_for(cell):
    return [d for d in (1, 2, 4, 8) if not (cell == "plus" and d == 1)]


@pytest.mark.parametrize("cell", CELLS)
def test_count_equals_trainable_scalars(cell):
    for depth in depths_for(cell):
        for width in (1, 3, 17):
            model = Ensemble(Arch(cell, width, depth, 7, 5), members=1)
            n_trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
            assert n_trainable == count_params(cell, width, depth, 7, 5)


def test_released_text8_lstm_count():
    assert count_params("lstm", 210, 4, 27, 27) == 1_268_217
    assert count_params("lstm", 211, 4, 27, 27) == 1_280_164
    assert solve_width("lstm", 1_280_000, 4, 27, 27) == 210


@pytest.mark.parametrize("cell", CELLS)
def test_solver_is_maximal(cell):
    for depth in depths_for(cell)[:2]:
        for budget in (2_000, 10_000, 123_457):
            w = solve_width(cell, budget, depth, 16, 2)
            assert count_params(cell, w, depth, 16, 2) <= budget
            assert count_params(cell, w + 1, depth, 16, 2) > budget


def test_bad_inputs_are_clear_errors():
    with pytest.raises(CellError, match="unknown cell 'lstmm'"):
        count_params("lstmm", 4, 1, 3, 3)
    with pytest.raises(CellError, match="depth >= 2"):
        count_params("plus", 4, 1, 3, 3)
    with pytest.raises(BudgetError, match="below the smallest gru"):
        solve_width("gru", 10, 1, 16, 2)


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "rnncap.cli", *args], capture_output=True, text=True)


def test_cli_prints_the_two_numbers():
    r = run_cli("params", "--cell", "lstm", "--width", "210", "--depth", "4", "--n-in", "27", "--n-out", "27")
    assert (r.returncode, r.stdout) == (0, "1268217\n")
    r = run_cli("width", "--cell", "lstm", "--budget", "1280000", "--depth", "4", "--n-in", "27", "--n-out", "27")
    assert (r.returncode, r.stdout) == (0, "210\n")


def test_cli_impossible_request_is_one_line_nonzero():
    r = run_cli("width", "--cell", "plus", "--budget", "100000", "--depth", "1", "--n-in", "27", "--n-out", "27")
    assert r.returncode != 0 and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and "depth" in r.stderr
    r = run_cli("width", "--cell", "gru", "--budget", "50", "--depth", "1", "--n-in", "27", "--n-out", "27")
    assert r.returncode != 0 and "below the smallest" in r.stderr
