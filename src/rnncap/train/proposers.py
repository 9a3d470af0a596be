"""Where a run's next trials come from: one proposer per mode (docs/method.md §4, §6).

  search  the paper's GP tuner (Matérn-5/2 ARD + expected improvement, optuna's
          GPSampler), asked for a batch of `k` trials at a time so that each batch
          trains as one stacked ensemble;
  random  uniform draws from the space (Fig. 5 / Table 1);
  rerun   the HPs of a source run's best trial, retrained with new seeds (Table App.1).

A proposer is a pure function of the finished trials and the trial index: the run driver
calls `propose(done, first, k)` for trials first..first+k-1, so a resumed run gets exactly
the trials an uninterrupted one would have got.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol, Sequence

import numpy as np
import pandas as pd

from .. import io
from ..hpspace import HPDim, sample_all
from ..paper_values import PUBLISHED_HP
from ..trials import HP_PREFIX, RUNG_PREFIX
from .halving import rung_columns
from .loop import derive_seed


def required(block: Mapping[str, Any], key: str, where: str = "") -> Any:
    """block[key], or a one-line error naming it. The spec is built from a schema-validated
    config, which fills every default, so a missing key is a malformed spec: guessing a
    value here would put a second set of defaults beside the schema's."""
    if key not in block:
        raise ValueError(f"{where + '.' if where else ''}{key}: missing from the run spec")
    return block[key]


@dataclass(frozen=True)
class RunContext:
    """What a proposer may read about its run."""

    dims: list[HPDim]  # the run's HP space (fixed dims included)
    seed: int  # the run seed
    higher_is_better: bool  # the task metric's direction
    search: Mapping[str, Any]  # the spec's search block
    source_best: str | None  # rerun: path of the source run's best.json
    warm_start: tuple[str, ...] | None = None  # search: the smaller neighbour runs' trials.parquet
    # paths; () = warm start asked for but no smaller neighbour: the paper's published HP set


class Proposer(Protocol):
    columns: Mapping[str, Any]  # extra columns written on every trial row of the run
    inputs: Mapping[str, Any]  # what the proposals depend on beyond the spec (a rerun: the source's best)

    def propose(self, done: pd.DataFrame, first: int, k: int) -> list[dict[str, Any]]:
        """HP sets for trials first..first+k-1, given the finished trials `done`."""
        ...


def _distribution(d: HPDim):
    import optuna

    if d.kind == "cat":
        return optuna.distributions.CategoricalDistribution(list(d.choices))
    if d.kind == "int":
        return optuna.distributions.IntDistribution(int(d.low), int(d.high), log=d.log)
    return optuna.distributions.FloatDistribution(d.low, d.high, log=d.log)


def fixed_value(d: HPDim) -> Any:
    """The one value of a pinned HP (its low end, or first choice)."""
    return d.choices[0] if d.kind == "cat" else (int(d.low) if d.kind == "int" else float(d.low))


def py(v: Any) -> Any:
    """A numpy scalar as its Python value (for optuna and JSON)."""
    return v.item() if hasattr(v, "item") else v


def _clipped(d: HPDim, v: Any) -> tuple[bool, Any]:
    """(usable, value): a neighbour's value of `d` in this run's space. Numbers outside the
    range are clipped into it (a neighbour's `steps` included); a categorical choice this run
    does not allow, or a missing value, makes the trial unusable. HPs that scale with the
    model's size are already ratios (capacity's `b_ratio`), so no rescaling is needed."""
    v = py(v)
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return False, None
    if d.kind == "cat":
        return v in d.choices, v
    lo, hi = (int(d.low), int(d.high)) if d.kind == "int" else (float(d.low), float(d.high))
    v = int(round(v)) if d.kind == "int" else float(v)
    return True, min(max(v, lo), hi)


def told_trials(dims: list[HPDim], done: pd.DataFrame) -> list[dict[str, Any]]:
    """The finished trials `done` as the tuner is told them: params of the searched HPs, the
    validation metric (None: non-finite, told as FAIL) and the rung values. Own trials and a
    neighbour's go through the same rule; a neighbour's trial lacking a usable value of a
    searched HP is left out (a COMPLETE trial without it would drop that HP from the GP's
    search space)."""
    free = [d for d in dims if not d.fixed]
    rung_cols = [(int(c[len(RUNG_PREFIX):]), c) for c in rung_columns(list(done.columns))]
    out = []
    for _, row in done.iterrows():
        vals = [_clipped(d, row[HP_PREFIX + d.name]) if HP_PREFIX + d.name in row.index else (False, None)
                for d in free]
        if not all(ok for ok, _ in vals):
            continue
        value = row["valid_metric"]
        ok = bool(np.isfinite(value))  # a diverged trial (NaN metric) is told as FAIL
        # halving: every trial at the fidelity it reached. A stopped trial's value is its
        # metric at the rung where it stopped, a pessimistic estimate of what it would have
        # reached; its rung values go in as intermediate values, keyed by rung index (a
        # neighbour's rungs may sit at other steps than this run's).
        inter = {i: float(row[c]) for i, c in rung_cols if np.isfinite(row[c])}
        out.append({"params": {d.name: v for d, (_, v) in zip(free, vals)},
                    "value": float(value) if ok else None, "inter": inter})
    return out


def published_point(dims: list[HPDim]) -> dict[str, Any]:
    """The paper's published HP set (paper_values.PUBLISHED_HP) as a point of this run's
    space: the searched HPs it names (glob keys expanded), numbers clipped into their range;
    a choice the run does not allow is left out, as is every HP the set does not name (the
    tuner draws those)."""
    out = {}
    for d in dims:
        key = next((k for k in PUBLISHED_HP if fnmatch.fnmatchcase(d.name, k)), None)
        if d.fixed or key is None:
            continue
        ok, v = _clipped(d, PUBLISHED_HP[key])
        if ok:
            out[d.name] = v
    return out


def ask_batch(dims: list[HPDim], done: pd.DataFrame, k: int, seed: int, batch: int,
              higher_is_better: bool, initial_points: int,
              prior: Sequence[Mapping[str, Any]] = (), enqueue: Mapping[str, Any] | None = None
              ) -> list[dict[str, Any]]:
    """k new HP sets from a GP tuner that has seen `prior` (the neighbours' trials, as
    `told_trials` gives them) and then the finished trials `done`. `enqueue` (a partial HP
    set) becomes the first asked trial, the tuner filling the HPs it leaves out.

    The tuner is rebuilt on every call, with a sampler seeded by (seed, batch), so the asked
    trials depend only on what has finished, never on process history. GPSampler counts every
    COMPLETE trial of the study toward `n_startup_trials`, the prior's included: a run warm
    started with at least `initial_points` feasible neighbour trials skips its random start.
    """
    import optuna  # only the search mode needs it (and its import costs ~1 s)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    free = [d for d in dims if not d.fixed]
    dists = {d.name: _distribution(d) for d in free}
    sampler = optuna.samplers.GPSampler(seed=derive_seed(seed, batch, 7) % 2**32,
                                        n_startup_trials=initial_points)
    study = optuna.create_study(direction="maximize" if higher_is_better else "minimize", sampler=sampler)
    for t in [*prior, *told_trials(dims, done)]:
        ok = t["value"] is not None
        study.add_trial(optuna.trial.create_trial(
            params=t["params"], distributions=dists, value=t["value"],
            state=optuna.trial.TrialState.COMPLETE if ok else optuna.trial.TrialState.FAIL,
            intermediate_values=t["inter"] or None))
    if enqueue:
        study.enqueue_trial(dict(enqueue))
    out = []
    for _ in range(k):  # asked trials stay RUNNING: the GP sampler accounts for them
        trial = study.ask(dists)
        hp = {d.name: fixed_value(d) for d in dims if d.fixed}
        hp.update(trial.params)
        out.append(hp)
    return out


@dataclass(frozen=True)
class GPSearch:
    dims: list[HPDim]
    seed: int
    higher_is_better: bool
    initial_points: int  # quasi-random trials before the GP takes over
    columns: Mapping[str, Any] = field(default_factory=dict)
    inputs: Mapping[str, Any] = field(default_factory=dict)
    prior: tuple[Mapping[str, Any], ...] = ()  # the warm start: neighbour trials, told first
    first_point: Mapping[str, Any] | None = None  # a warm start without neighbours: trial 0

    @classmethod
    def for_run(cls, ctx: RunContext) -> GPSearch:
        prior: list[dict[str, Any]] = []
        for path in ctx.warm_start or ():  # read once: the neighbours are finished runs' outputs
            if not Path(path).exists():
                raise FileNotFoundError(f"warm_start: {path}: not found (the neighbour run has not finished)")
            prior += told_trials(ctx.dims, io.read_parquet(path))
        # no neighbour yet (the smallest budget and depth): start from the paper's HP set
        point = published_point(ctx.dims) if ctx.warm_start == () else None
        # what the tuner is told, in ckpt/inputs.json: a changed neighbour or prior retrains
        inputs = {"warm_start": io.digest(prior)} if ctx.warm_start else \
            {"first_point": point} if point is not None else {}
        return cls(ctx.dims, ctx.seed, ctx.higher_is_better,
                   int(required(ctx.search, "initial_points", "search")),
                   inputs=inputs, prior=tuple(prior), first_point=point)

    def propose(self, done: pd.DataFrame, first: int, k: int) -> list[dict[str, Any]]:
        return ask_batch(self.dims, done, k, self.seed, first, self.higher_is_better, self.initial_points,
                         self.prior, self.first_point if first == 0 else None)


@dataclass(frozen=True)
class RandomDraws:
    dims: list[HPDim]
    seed: int
    columns: Mapping[str, Any] = field(default_factory=dict)
    inputs: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def for_run(cls, ctx: RunContext) -> RandomDraws:
        return cls(ctx.dims, ctx.seed)

    def propose(self, done: pd.DataFrame, first: int, k: int) -> list[dict[str, Any]]:
        # one generator per trial index: trial i's draw does not depend on the batching
        return [sample_all(self.dims, np.random.default_rng(derive_seed(self.seed, i, 11)))
                for i in range(first, first + k)]


@dataclass(frozen=True)
class Rerun:
    dims: list[HPDim]
    hp: Mapping[str, Any]  # the source run's best HPs
    columns: Mapping[str, Any]  # Table App.1's "original" column

    @property
    def inputs(self) -> Mapping[str, Any]:
        return {"source_hp": dict(self.hp), **self.columns}

    @classmethod
    def for_run(cls, ctx: RunContext) -> Rerun:
        src = ctx.source_best
        if not src or not Path(src).exists():
            raise FileNotFoundError(f"source_best: best.json of the source run not found: {src}")
        best = io.read_json(src, checksum=True)
        if not best.get("found"):
            raise ValueError(f"source_best: {src} has no feasible trial to rerun")
        return cls(ctx.dims, best["hp"], {"source_eval_metric": best["metrics"]["eval_metric"]})

    def propose(self, done: pd.DataFrame, first: int, k: int) -> list[dict[str, Any]]:
        # every HP of the space gets a value: the source's, else the low end of its range
        return [{**{d.name: fixed_value(d) for d in self.dims}, **self.hp} for _ in range(k)]


# mode -> proposer factory. The order is part of every trial seed (the run driver salts
# seeds with the mode's index), so new modes are appended, never inserted.
PROPOSERS: dict[str, Callable[[RunContext], Proposer]] = {
    "search": GPSearch.for_run,
    "random": RandomDraws.for_run,
    "rerun": Rerun.for_run,
}
MODES: tuple[str, ...] = tuple(PROPOSERS)
