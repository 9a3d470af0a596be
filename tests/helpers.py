"""Small builders shared by the tests."""

import numpy as np
import torch

from rnncap.hpspace import cell_space, optim_space
from rnncap.model.init import init_member_
from rnncap.model.ensemble import Arch, Ensemble
from rnncap.hpspace import sample_all


def random_hps(cell, n, seed=0, steps=50, **over):
    rng = np.random.default_rng(seed)
    dims = optim_space((steps, steps)) + cell_space(cell)
    out = []
    for _ in range(n):
        hp = sample_all(dims, rng)
        hp.update(over)
        out.append(hp)
    return out


def build(arch, hps, seeds):
    model = Ensemble(arch, len(hps))
    for e, (hp, s) in enumerate(zip(hps, seeds)):
        init_member_(model, e, hp, torch.Generator().manual_seed(s))
    return model
