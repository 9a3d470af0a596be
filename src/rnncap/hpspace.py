"""The hyperparameter space: its vocabulary (`HPDim`), the paper's space (docs/method.md §4)
and the config's `fixed`/`ranges` overrides. One table, read by the config checks, the
tuner, random draws and the trial tables alike.

Where the paper is silent the choices of docs/choices.md apply: scales per block (#10),
constant bias = 1 x multiplier (#11), momentum logit -> sigma(logit) (#12),
clipping by global norm (#13). Every HP is one flat dict entry, so a trial is a
plain dict and a row of the trial table."""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from .model.cells import spec
from .model.optim import OPTIMIZERS


@dataclass(frozen=True)
class HPDim:
    """One hyperparameter dimension.

    kind: "float" (uniform, or log-uniform when log=True), "int" (inclusive
    bounds, log optional) or "cat" (choices). A dimension with low == high, or
    a single choice, is fixed: it is recorded but never searched.
    """

    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in ("float", "int", "cat"):
            raise ValueError(f"HP {self.name}: unknown kind {self.kind!r}")
        if self.kind == "cat":
            if not self.choices:
                raise ValueError(f"HP {self.name}: categorical needs choices")
        else:
            if self.low is None or self.high is None or self.low > self.high:
                raise ValueError(f"HP {self.name}: bad range [{self.low}, {self.high}]")
            if self.log and self.low <= 0:
                raise ValueError(f"HP {self.name}: log range must be positive, got {self.low}")

    @property
    def fixed(self) -> bool:
        return len(self.choices) == 1 if self.kind == "cat" else self.low == self.high

    def sample(self, rng: np.random.Generator) -> Any:
        """One uniform draw (log-uniform where log=True)."""
        if self.kind == "cat":
            return self.choices[int(rng.integers(len(self.choices)))]
        if self.fixed:
            return int(self.low) if self.kind == "int" else float(self.low)
        if self.log:
            v = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        else:
            v = rng.uniform(self.low, self.high)
        if self.kind == "int":
            return int(min(max(round(v), self.low), self.high))
        return float(v)


def sample_all(dims: Sequence[HPDim], rng: np.random.Generator) -> dict[str, Any]:
    return {d.name: d.sample(rng) for d in dims}


# --------------------------------------------------------------------------- the paper's space

def cell_space(cell: str) -> list[HPDim]:
    """Architecture/initialisation dimensions of one cell."""
    s = spec(cell)
    dims: list[HPDim] = []
    if len(s.nonlinearities) > 1:  # one choice (IRNN) or none (+RNN): fixed, not searched
        dims.append(HPDim("nonlinearity", "cat", choices=s.nonlinearities))
    if not s.identity_init:  # the IRNN's recurrent blocks start at I and its biases at 0
        dims.append(HPDim("square_init", "cat", choices=s.square_inits))
        dims.append(HPDim("bias_init", "cat", choices=("constant", "normal")))
    dims += [HPDim(hp, "float", 0.0, 6.0) for hp in dict.fromkeys(hp for _, hp in s.gates)]
    if s.input_projection:
        dims.append(HPDim("proj_scale", "float", 0.001, 2.0, log=True))
    for k in s.blocks:
        dims.append(HPDim(f"in_scale_{k}", "float", 0.001, 2.0, log=True))
        if not s.identity_init:
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


def _number(d: HPDim, v: Any, key: str) -> float:
    """`v` as a value of numeric dimension `d`, inside the paper's range; ValueError naming `key`."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ValueError(f"{key}: expected a number, got {v!r}")
    if d.kind == "int" and not float(v).is_integer():
        raise ValueError(f"{key}: expected an integer, got {v!r}")
    if not d.low <= v <= d.high:
        raise ValueError(f"{key}: {v!r} is outside {d.name}'s range [{d.low:g}, {d.high:g}]")
    return v


def apply_overrides(
    dims: Sequence[HPDim], fixed: Mapping[str, Any], ranges: Mapping[str, Sequence[Any]], where: str
) -> list[HPDim]:
    """Pin (`fixed`) or narrow (`ranges`) dimensions; keys are names or glob patterns.

    Every value is checked against the dimension it overrides (type, choices, range), so a
    config can only narrow the space the paper searches, never leave it.
    """
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
                v = _number(d, v, f"{where}.fixed.{d.name}")
                d = HPDim(d.name, d.kind, v, v, log=False)
        elif d.name in ranges:
            r = ranges[d.name]
            key = f"{where}.ranges.{d.name}"
            if d.kind == "cat":
                bad = [c for c in r if c not in d.choices]
                if bad:
                    raise ValueError(f"{key}: {bad} not in {d.choices}")
                d = HPDim(d.name, "cat", choices=tuple(r))
            else:
                if not isinstance(r, (list, tuple)) or len(r) != 2:
                    raise ValueError(f"{key}: expected [low, high], got {r!r}")
                lo, hi = (_number(d, x, key) for x in r)
                if lo > hi:
                    raise ValueError(f"{key}: expected [low, high] with low <= high, got {list(r)}")
                d = HPDim(d.name, d.kind, lo, hi, log=d.log and lo != hi)
        out.append(d)
    return out
