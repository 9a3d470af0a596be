"""GPU checks: skipped where no CUDA device exists (CI has none)."""

import pytest
import torch

from rnncap.model.cells import CELLS
from rnncap.model.ensemble import Arch

from helpers import build, random_hps

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")]


@pytest.fixture(autouse=True)
def no_tf32():
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False


@pytest.mark.parametrize("cell", CELLS)
def test_cuda_forward_backward_matches_cpu(cell):
    arch = Arch(cell, 8, 2, 5, 3)
    hps = random_hps(cell, 4, seed=1)
    cpu = build(arch, hps, [1, 2, 3, 4])
    gpu = build(arch, hps, [1, 2, 3, 4]).cuda()
    x = torch.randn(4, 6, 3, 5)
    out_c = cpu(x, [5])
    out_g = gpu(x.cuda(), [5])
    torch.testing.assert_close(out_g.cpu(), out_c, rtol=1e-4, atol=1e-5)
    out_c.square().sum().backward()
    out_g.square().sum().backward()
    torch.testing.assert_close(gpu.flat.grad.cpu(), cpu.flat.grad, rtol=1e-3, atol=1e-5)


def test_cuda_training_run(tmp_path):
    from rnncap.train.run import run
    from rnncap.tasks import get_task_class
    from test_train import search_block  # the config schema's defaults, as the workflow fills them

    opts = {"n_in": 12, "seq_len": 5, "n_samples": 2000}
    get_task_class("capacity").make_data(0, tmp_path / "d", **opts)
    spec = {"experiment": "capacity", "task": "capacity", "mode": "random", "cell": "lstm", "budget": 400,
            "depth": 1, "seed": 0, "options": opts, "data_dir": str(tmp_path / "d"),
            "search": search_block(trials=4, ensemble=4, batch_size=256, steps=[200, 200], eval_every=100,
                                   fixed={"optimizer": "adam", "lr": 0.02})}
    df = run(spec, tmp_path / "run", device="cuda", log=lambda m: None)
    assert (df["device"].str.startswith("cuda")).all()
    assert df["valid_metric"].max() > 0
