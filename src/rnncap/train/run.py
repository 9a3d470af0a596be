"""One run directory: the trials of (experiment, cell, budget, depth, seed).

The driver trains `search.trials` trials in batches of `search.ensemble`, each batch one
stacked ensemble; the mode's proposer (train/proposers.py) says which HPs each batch gets.

State lives in the run directory: `ckpt/trials.parquet` (finished trials),
`ckpt/inputs.json` (what they were trained from) and `ckpt/batch.pt` (the ensemble in
training). Proposers are pure functions of the finished trials and the trial index, and
trial seeds of (run seed, trial index, mode), so a resumed run trains exactly what an
uninterrupted one would have trained.

Finished trials outlive the job: Snakemake deletes a job's outputs before it reruns it
(after a touched or rebuilt input, a changed rule), and `ckpt/` keeps what they were made
of. A rerun whose inputs still match (the spec, less the settings that cannot change a
trial's result, the data's checksum, and a warm start's neighbour trials as a digest)
reuses every finished trial; one whose inputs differ says so and starts afresh. Raising
`trials` extends a finished run.

`search.halving` (train/halving.py) stops a batch's weaker members at rungs; the driver
gives the loop the batch's rungs and the decision, which ranks the members with every
finished trial of the run judged at the same rung.

Every setting comes from the spec: its search block is a schema-validated config's, with
every default filled (workflow/schemas/config.schema.yaml is the one place defaults live).
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Mapping

import pandas as pd
import torch

from .. import __version__, io
from ..hpspace import HPDim, apply_overrides, full_space
from ..model.ensemble import Arch
from ..model.params import solve_width
from ..plan import compile_policy
from ..tasks import load_task
from ..trials import HP_PREFIX, OPT_PREFIX, best_rows
from .halving import history, keep, rung_columns, rungs
from .loop import Halving, TrainSettings, derive_seed, train_ensemble
from .proposers import MODES, PROPOSERS, RunContext, py, required


def search_space(cell: str, task_dims: list[HPDim], search: Mapping[str, Any], where: str) -> list[HPDim]:
    """The paper's space for `cell` and the task, with the spec's fixed/ranges applied."""
    steps = required(search, "steps", "search")
    dims = full_space(cell, task_dims, (int(steps[0]), int(steps[1])))
    return apply_overrides(dims, required(search, "fixed", "search"), required(search, "ranges", "search"), where)


def positive(block: Mapping[str, Any], key: str, where: str, least: int = 1) -> int:
    """An integer setting of the spec, at least `least`; a one-line error naming it otherwise
    (a config's are checked by its schema; a spec given by hand is checked here)."""
    v = required(block, key, where)
    if isinstance(v, bool) or not isinstance(v, int) or v < least:
        raise ValueError(f"{where}.{key}: expected an integer >= {least}, got {v!r}")
    return v


def train_settings(search: Mapping[str, Any], compile: bool) -> TrainSettings:
    """The loop's settings, each read from the spec's search block; `compile` is the run's
    decision on search.compile (rnncap.plan.compile_policy: the device and width take part)."""
    def need(key: str) -> Any:
        return positive(search, key, "search")

    return TrainSettings(batch_size=int(need("batch_size")), eval_every=int(need("eval_every")),
                         checkpoint_every=int(need("checkpoint_every")),
                         eval_batch_size=int(need("eval_batch_size")), compile=compile)


def run(spec: Mapping[str, Any], out_dir: str | Path, device: str = "cpu", threads: int | None = None,
        log: Callable[[str], None] = print) -> pd.DataFrame:
    """Run (or resume) one run directory; write trials.parquet and best.json (last)."""
    out_dir = Path(out_dir)
    if threads:
        torch.set_num_threads(int(threads))
    mode = required(spec, "mode")
    if mode not in PROPOSERS:
        raise ValueError(f"mode: unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    experiment, task_name = required(spec, "experiment"), required(spec, "task")
    search = dict(required(spec, "search"))
    options = dict(required(spec, "options"))
    cell, depth = required(spec, "cell"), int(required(spec, "depth"))
    budget, seed = int(required(spec, "budget")), int(required(spec, "seed"))
    n_trials = positive(search, "trials", "search")
    E = positive(search, "ensemble", "search")
    positive(search, "initial_points", "search", least=0)
    steps = required(search, "steps", "search")
    if not (isinstance(steps, list) and len(steps) == 2 and all(isinstance(s, int) and s >= 1 for s in steps)
            and steps[0] <= steps[1]):
        raise ValueError(f"search.steps: expected [low, high] with 1 <= low <= high, got {steps!r}")
    compile_setting = compile_policy.check(required(search, "compile", "search"))
    settings = train_settings(search, False)  # compile: decided below, once the width is known
    halving_cfg = search.get("halving")  # optional: absent, every trial trains to its steps
    if halving_cfg is not None:
        if mode != "search":
            raise ValueError(f"search.halving: successive halving is for mode search, not {mode}")
        eta = positive(halving_cfg, "eta", "search.halving", least=2)
        min_steps = positive(halving_cfg, "min_steps", "search.halving")
    keep_checkpoints = bool(required(search, "keep_checkpoints", "search"))

    task = load_task(task_name, required(spec, "data_dir"), device=device, **options)
    width = solve_width(cell, budget, depth, task.n_in, task.n_out)
    arch = Arch(cell, width, depth, task.n_in, task.n_out, task.input_kind)
    compiling = compile_policy.decide(compile_setting, cell, device, width, compile_policy.steps_per_graph(search))
    settings = replace(settings, compile=compiling.compile)
    dims = search_space(cell, task.hp_space(), search, f"experiments.{experiment}.search")
    higher = type(task).higher_is_better
    # optional: the smaller neighbour runs whose trials the tuner is told first (plan/jobs.py)
    warm = tuple(str(p) for p in spec["warm_start"]) if "warm_start" in spec else None
    if warm is not None and mode != "search":
        raise ValueError(f"warm_start: neighbour trials warm start the GP tuner of mode search, not {mode}")
    proposer = PROPOSERS[mode](RunContext(dims, seed, higher, search, spec.get("source_best"), warm))

    ckpt_dir = out_dir / "ckpt"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    done_path = ckpt_dir / "trials.parquet"
    tag = f"[{experiment} {cell} p{budget} d{depth} s{seed}]"
    # proposer.inputs holds what the tuner reads beyond the spec: a warm start's neighbour
    # trials as a digest, so a changed neighbour table is a changed input (nothing reused)
    inputs = {"spec": _result_spec(spec), "data": task.data_digest, "proposer": dict(proposer.inputs)}
    done = _resume_state(ckpt_dir, inputs, log, tag)
    log(f"{tag} {mode}: width {width}, {arch_params(arch)} params, {n_trials} trials in ensembles of {E}, "
        f"{len([d for d in dims if not d.fixed])} searched HPs, device {device}, "
        f"{len(done)} trials already done")
    log(f"{tag} torch.compile {'on' if compiling.compile else 'off'}: {compiling.reason}")
    base = {
        "experiment": experiment, "task": task_name, "mode": mode, "cell": cell,
        "budget": budget, "depth": depth, "seed": seed, "width": width, "params": arch_params(arch),
        "metric": type(task).metric_name, "higher_is_better": higher,
    }
    while len(done) < n_trials:
        first = len(done)
        k = min(E, n_trials - first)
        hps = proposer.propose(done, first, k)
        # fresh init/data seeds per trial; the mode salt keeps reruns off the source run's seeds
        seeds = [derive_seed(seed, i, 3 + MODES.index(mode)) for i in range(first, first + k)]
        start = time.perf_counter()
        halving = None
        if halving_cfg is not None:
            halving = Halving(rungs(min_steps, eta, max(int(h["steps"]) for h in hps)),
                              _decision(done, first, eta, higher))
        rows = train_ensemble(task, arch, hps, seeds, settings, ckpt_dir / "batch.pt", log,
                              f"{tag} trials {first}-{first + k - 1}", halving)
        log(f"{tag} trials {first}-{first + k - 1} done in {time.perf_counter() - start:.1f}s")
        new = []
        for i, (hp, sd, row) in enumerate(zip(hps, seeds, rows)):
            r = {**base, "trial": first + i, "member_seed": sd, **row}
            r.update({HP_PREFIX + n: v for n, v in hp.items()})
            r.update({OPT_PREFIX + n: v for n, v in options.items()})
            r.update(proposer.columns)
            new.append(r)
        done = _ordered(pd.concat([done, pd.DataFrame(new)], ignore_index=True) if len(done) else pd.DataFrame(new))
        io.write_parquet(done_path, done)
        (ckpt_dir / "batch.pt").unlink(missing_ok=True)
        best = best_trial(done)
        if best is not None:
            log(f"{tag} best {type(task).metric_name} so far {best['valid_metric']:.5g} (trial {int(best['trial'])})")

    done = done.assign(rnncap_version=__version__, torch_version=torch.__version__)
    io.write_parquet(out_dir / "trials.parquet", done)
    best = best_trial(done)
    io.write_json(out_dir / "best.json", checksum=True, obj={
        "run": {k: base[k] for k in ("experiment", "task", "mode", "cell", "budget", "depth", "seed")},
        "found": best is not None,
        "trial": None if best is None else int(best["trial"]),
        "hp": {} if best is None else {c[len(HP_PREFIX):]: py(best[c]) for c in done.columns
                                       if c.startswith(HP_PREFIX) and not _isnan(best[c])},
        "metrics": {} if best is None else {c: py(best[c]) for c in
                                            ("valid_metric", "eval_metric", "valid_loss", "eval_loss", "train_loss")},
        "provenance": {"rnncap": __version__, "torch": torch.__version__, "device": device,
                       "spec": dict(spec)},
    })
    if not keep_checkpoints:  # the finished trials and their inputs stay: they are what a rerun reuses
        (ckpt_dir / "batch.pt").unlink(missing_ok=True)
    return done


# spec keys that cannot change any finished trial's result: how many trials, and how often
# and whether the ensemble in training is checkpointed
_NOT_RESULTS = {"trials", "keep_checkpoints", "checkpoint_every"}


def _result_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    return {**spec, "search": {k: v for k, v in spec["search"].items() if k not in _NOT_RESULTS}}


def _decision(done: pd.DataFrame, first: int, eta: int,
              higher: bool) -> Callable[[int, list[int], list[float]], list[bool]]:
    """The loop's rung decision for the batch starting at trial `first`: ASHA over the
    finished trials `done` and the batch (train/halving.py)."""
    def decide(i: int, members: list[int], values: list[float]) -> list[bool]:
        return keep([first + p for p in members], values, history(done, i), eta, higher)

    return decide


def _ordered(df: pd.DataFrame) -> pd.DataFrame:
    """The rung columns right after `stopped`, in rung order, whichever batch added them."""
    cols = rung_columns(list(df.columns))
    if not cols:
        return df
    rest = [c for c in df.columns if c not in cols]
    at = rest.index("stopped") + 1
    return df[rest[:at] + cols + rest[at:]]


def _resume_state(ckpt_dir: Path, inputs: dict[str, Any], log: Callable[[str], None], tag: str) -> pd.DataFrame:
    """The finished trials in `ckpt_dir` if they were trained from `inputs`, else none (said in the log).

    A damaged table or record is named and set aside: its trials are retrained."""
    trials, record = ckpt_dir / "trials.parquet", ckpt_dir / "inputs.json"
    done, why = pd.DataFrame(), None
    try:
        if record.exists() and io.read_json(record, checksum=True) == io.json_roundtrip(inputs):
            done = io.read_parquet(trials) if trials.exists() else done
        elif trials.exists():
            why = "they were trained from other inputs (spec or data changed)"
    except io.DamagedFileError as e:
        why = f"{e.path} is damaged ({e.reason})"
    if why:
        log(f"{tag} {ckpt_dir}: not reusing the finished trials there: {why}; training afresh")
        for p in (trials, ckpt_dir / "batch.pt"):
            p.unlink(missing_ok=True)
    io.write_json(record, inputs, checksum=True)
    return done


def arch_params(arch: Arch) -> int:
    from ..model.params import count_params

    return count_params(arch.cell, arch.width, arch.depth, arch.n_in, arch.n_out)


def _isnan(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)


def best_trial(df: pd.DataFrame) -> pd.Series | None:
    """The feasible trial with the best validation metric (docs/method.md §4 selection), or None.

    rnncap.trials.best_rows is the one implementation of the rule: best.json, the
    aggregated tables and every fit then agree on which trial is a run's best."""
    best = best_rows(df.assign(_run=0), ["_run"])
    return None if best.empty else best.drop(columns=["_run", "n_trials", "n_feasible"]).iloc[0]
