"""Initialise an ensemble member from its HPs (docs/method.md §4 init rules, docs/choices.md #11)."""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import torch

from .ensemble import Ensemble


def _normal(shape: Sequence[int], gen: torch.Generator) -> torch.Tensor:
    return torch.randn(*shape, generator=gen)


def _orthogonal(n: int, gen: torch.Generator) -> torch.Tensor:
    q, r = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))
    return (q * torch.sign(torch.diagonal(r))).float()


def init_member_(model: Ensemble, e: int, hp: Mapping[str, Any], gen: torch.Generator) -> None:
    """Initialise member e from its HPs, drawing only from `gen` (docs/method.md §4 init rules)."""
    arch, s = model.arch, model.spec
    n = arch.width
    with torch.no_grad():
        if s.input_projection:
            model.p("proj.W")[e] = _normal((arch.n_in, n), gen) / math.sqrt(arch.n_in) * hp["proj_scale"]
            model.p("proj.b")[e] = 0.0
        for l in range(arch.depth):
            Wx, Wh, b = model.p(f"{l}.Wx")[e], model.p(f"{l}.Wh")[e], model.p(f"{l}.b")[e]
            n_x = Wx.shape[0]
            for k, blk in enumerate(s.blocks):
                cols = slice(k * n, (k + 1) * n)
                Wx[:, cols] = _normal((n_x, n), gen) / math.sqrt(n_x) * hp[f"in_scale_{blk}"]
                if s.identity_init:
                    Wh[:, cols] = torch.eye(n)
                    b[:, cols] = 0.0
                    continue
                kind = hp["square_init"]
                if kind == "identity":
                    Wh[:, cols] = torch.eye(n)
                elif kind == "orthogonal":
                    Wh[:, cols] = _orthogonal(n, gen) * hp[f"rec_scale_{blk}"]
                else:
                    Wh[:, cols] = _normal((n, n), gen) / math.sqrt(n) * hp[f"rec_scale_{blk}"]
                base = torch.ones(1, n) if hp["bias_init"] == "constant" else _normal((1, n), gen)
                b[:, cols] = base * hp[f"bias_scale_{blk}"]
            model.p(f"{l}.h0")[e] = 0.0
            if s.state_vectors == 2:
                model.p(f"{l}.c0")[e] = 0.0
            off = model.gate_offset[l, e]
            off.zero_()
            for blk, key in s.gates:
                k = s.blocks.index(blk)
                off[:, k * n : (k + 1) * n] = float(hp[key])
        model.p("out.W")[e] = _normal((n, arch.n_out), gen) / math.sqrt(n)
        model.p("out.b")[e] = 0.0
        model.relu[e] = s.nonlinearities == ("relu",) or hp.get("nonlinearity") == "relu"
    model.refresh_nonlinearity()
