"""The paper's HP space (spec §4, App. A) and how each HP acts on a model.

Where the paper is silent the choices of spec §9 apply: scales per block (#10),
constant bias = 1 x multiplier (#11), momentum logit -> sigma(logit) (#12),
clipping by global norm (#13). Every HP is one flat dict entry, so a trial is a
plain dict and a row of the trial table.
"""

from __future__ import annotations

import fnmatch
import math
from typing import Any, Mapping, Sequence

import torch

from .cells import spec
from .model import Ensemble
from .space import HPDim

OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam")


def cell_space(cell: str) -> list[HPDim]:
    """Architecture/initialisation dimensions of one cell."""
    s = spec(cell)
    dims: list[HPDim] = []
    if cell not in ("irnn", "plus"):  # IRNN: ReLU fixed; +RNN: ReLU/tanh fixed by the paper
        dims.append(HPDim("nonlinearity", "cat", choices=("tanh", "relu")))
    if cell == "rnn":  # identity init is what makes an IRNN; the RNN may not use it
        dims.append(HPDim("square_init", "cat", choices=("orthogonal", "normal")))
    elif cell != "irnn":
        dims.append(HPDim("square_init", "cat", choices=("identity", "orthogonal", "normal")))
    if cell != "irnn":  # IRNN biases start at zero
        dims.append(HPDim("bias_init", "cat", choices=("constant", "normal")))
    if cell == "plus":
        dims += [HPDim("b_fg_y", "float", 0.0, 6.0), HPDim("b_fg_h", "float", 0.0, 6.0)]
        dims.append(HPDim("proj_scale", "float", 0.001, 2.0, log=True))
    elif s.gate_blocks:
        dims.append(HPDim("b_fg", "float", 0.0, 6.0))
    for k in s.blocks:
        dims.append(HPDim(f"in_scale_{k}", "float", 0.001, 2.0, log=True))
        if cell != "irnn":
            dims.append(HPDim(f"rec_scale_{k}", "float", 0.01, 2.0, log=True))
            dims.append(HPDim(f"bias_scale_{k}", "float", -2.0, 2.0))
    return dims


def optim_space(steps: tuple[int, int]) -> list[HPDim]:
    lo, hi = steps
    return [
        HPDim("optimizer", "cat", choices=OPTIMIZERS),
        HPDim("lr", "float", 1e-4, 1e-1, log=True),
        HPDim("lr_decay", "float", 1e-3, 1.0, log=True),
        HPDim("momentum_logit", "float", 1.0, 7.0),
        HPDim("clip", "float", 1.0, 100.0, log=True),
        HPDim("l2", "float", 1e-8, 1e-3, log=True),
        HPDim("steps", "int", lo, hi, log=lo != hi),
    ]


def full_space(cell: str, task_dims: Sequence[HPDim], steps: tuple[int, int]) -> list[HPDim]:
    """Every dimension a run searches: optimizer, cell, then task HPs (the order of trial tables)."""
    return optim_space(steps) + cell_space(cell) + list(task_dims)


def is_pattern(key: str) -> bool:
    return any(ch in key for ch in "*?[")


def _expand(table: Mapping[str, Any], names: list[str], where: str) -> dict[str, Any]:
    """Resolve glob keys (`in_scale_*`, `b_fg*`) to this space's names; exact names win.

    A pattern may match nothing in one cell's space (cells differ in blocks); an exact
    name must exist.
    """
    out: dict[str, Any] = {}
    for key, v in table.items():
        if is_pattern(key):
            for n in fnmatch.filter(names, key):
                out.setdefault(n, v)
    for key, v in table.items():
        if not is_pattern(key):
            if key not in names:
                raise KeyError(f"{where}.{key}: not a HP of this search (have: {', '.join(sorted(names))})")
            out[key] = v
    return out


def apply_overrides(
    dims: Sequence[HPDim], fixed: Mapping[str, Any], ranges: Mapping[str, Sequence[Any]], where: str
) -> list[HPDim]:
    """Pin (`fixed`) or narrow (`ranges`) dimensions; keys are names or glob patterns."""
    names = [d.name for d in dims]
    fixed = _expand(fixed, names, f"{where}.fixed")
    ranges = _expand(ranges, names, f"{where}.ranges")
    out = []
    for d in dims:
        if d.name in fixed:
            v = fixed[d.name]
            if d.kind == "cat":
                if v not in d.choices:
                    raise ValueError(f"{where}.fixed.{d.name}: {v!r} is not one of {d.choices}")
                d = HPDim(d.name, "cat", choices=(v,))
            else:
                d = HPDim(d.name, d.kind, v, v, log=False)
        elif d.name in ranges:
            r = list(ranges[d.name])
            if d.kind == "cat":
                bad = [c for c in r if c not in d.choices]
                if bad:
                    raise ValueError(f"{where}.ranges.{d.name}: {bad} not in {d.choices}")
                d = HPDim(d.name, "cat", choices=tuple(r))
            else:
                if len(r) != 2:
                    raise ValueError(f"{where}.ranges.{d.name}: expected [low, high]")
                d = HPDim(d.name, d.kind, r[0], r[1], log=d.log and r[0] != r[1])
        out.append(d)
    return out


# -- acting on a model ---------------------------------------------------------------

def _normal(shape: Sequence[int], gen: torch.Generator) -> torch.Tensor:
    return torch.randn(*shape, generator=gen)


def _orthogonal(n: int, gen: torch.Generator) -> torch.Tensor:
    q, r = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))
    return (q * torch.sign(torch.diagonal(r))).float()


def init_member_(model: Ensemble, e: int, hp: Mapping[str, Any], gen: torch.Generator) -> None:
    """Initialise member e from its HPs, drawing only from `gen` (spec §4 init rules)."""
    arch, s = model.arch, model.spec
    n = arch.width
    irnn = arch.cell == "irnn"
    with torch.no_grad():
        if arch.cell == "plus":
            model.p("proj.W")[e] = _normal((arch.n_in, n), gen) / math.sqrt(arch.n_in) * hp["proj_scale"]
            model.p("proj.b")[e] = 0.0
        for l in range(arch.depth):
            Wx, Wh, b = model.p(f"{l}.Wx")[e], model.p(f"{l}.Wh")[e], model.p(f"{l}.b")[e]
            n_x = Wx.shape[0]
            for k, blk in enumerate(s.blocks):
                cols = slice(k * n, (k + 1) * n)
                Wx[:, cols] = _normal((n_x, n), gen) / math.sqrt(n_x) * hp[f"in_scale_{blk}"]
                if irnn:
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
            for k, blk in enumerate(s.blocks):
                if blk in s.gate_blocks:
                    key = {"gy": "b_fg_y", "gh": "b_fg_h"}.get(blk, "b_fg")
                    off[:, k * n : (k + 1) * n] = float(hp[key])
        model.p("out.W")[e] = _normal((n, arch.n_out), gen) / math.sqrt(n)
        model.p("out.b")[e] = 0.0
        model.relu[e] = irnn or hp.get("nonlinearity") == "relu"
    model.refresh_nonlinearity()


def momentum(hp: Mapping[str, Any]) -> float:
    """The momentum-like parameter, searched as a logit (spec §4, §9 #12)."""
    return 1.0 / (1.0 + math.exp(-float(hp["momentum_logit"])))
