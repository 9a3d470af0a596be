"""One run directory: an HP search for (experiment, cell, budget, depth, seed).

Modes (spec §4, §6):
  search  the paper's GP tuner (Matérn-5/2 ARD + expected improvement, optuna's
          GPSampler), asked for a batch of `ensemble` trials at a time so that
          each batch trains as one stacked ensemble;
  random  `trials` uniform draws from the space (Fig. 5 / Table 1);
  rerun   the HPs of a source run's best trial, retrained with new seeds (Table App.1).

State lives in the run directory: `ckpt/trials.parquet` (finished trials) and
`ckpt/batch.pt` (the ensemble in training). The tuner is rebuilt from the
finished trials before every batch, with a sampler seeded by (seed, batch), so a
resumed run asks exactly what an uninterrupted one would have asked.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd
import torch

from .. import __version__, io
from ..hpspace import apply_overrides, full_space
from ..model.ensemble import Arch
from ..model.params import solve_width
from ..trials import HP_PREFIX, OPT_PREFIX
from ..hpspace import HPDim, sample_all
from ..tasks import load_task
from .loop import TrainSettings, derive_seed, train_ensemble

MODES = ("search", "random", "rerun")


def search_space(cell: str, task_dims: list[HPDim], search: Mapping[str, Any], where: str) -> list[HPDim]:
    steps = search.get("steps", [1000, 1000])
    dims = full_space(cell, task_dims, (int(steps[0]), int(steps[1])))
    return apply_overrides(dims, search.get("fixed", {}), search.get("ranges", {}), where)


def _distribution(d: HPDim):
    import optuna

    if d.kind == "cat":
        return optuna.distributions.CategoricalDistribution(list(d.choices))
    if d.kind == "int":
        return optuna.distributions.IntDistribution(int(d.low), int(d.high), log=d.log)
    return optuna.distributions.FloatDistribution(d.low, d.high, log=d.log)


def _fixed_value(d: HPDim) -> Any:
    return d.choices[0] if d.kind == "cat" else (int(d.low) if d.kind == "int" else float(d.low))


def ask_batch(dims: list[HPDim], done: pd.DataFrame, k: int, seed: int, batch: int,
              higher_is_better: bool, initial_points: int) -> list[dict[str, Any]]:
    """k new HP sets from a GP tuner that has seen the finished trials `done`."""
    import optuna  # only the search mode needs it (and its import costs ~1 s)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    free = [d for d in dims if not d.fixed]
    dists = {d.name: _distribution(d) for d in free}
    sampler = optuna.samplers.GPSampler(seed=derive_seed(seed, batch, 7) % 2**32,
                                        n_startup_trials=initial_points)
    study = optuna.create_study(direction="maximize" if higher_is_better else "minimize", sampler=sampler)
    for _, row in done.iterrows():
        params = {d.name: _py(row[HP_PREFIX + d.name]) for d in free}
        value = row["valid_metric"]
        ok = bool(np.isfinite(value))  # a diverged trial (NaN metric) is told as FAIL
        study.add_trial(optuna.trial.create_trial(
            params=params, distributions=dists,
            value=float(value) if ok else None,
            state=optuna.trial.TrialState.COMPLETE if ok else optuna.trial.TrialState.FAIL))
    out = []
    for _ in range(k):  # asked trials stay RUNNING: the GP sampler accounts for them
        trial = study.ask(dists)
        hp = {d.name: _fixed_value(d) for d in dims if d.fixed}
        hp.update(trial.params)
        out.append(hp)
    return out


def _py(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v


def run(spec: Mapping[str, Any], out_dir: str | Path, device: str = "cpu", threads: int | None = None,
        log: Callable[[str], None] = print) -> pd.DataFrame:
    """Run (or resume) one run directory; write trials.parquet and best.json (last)."""
    out_dir = Path(out_dir)
    if threads:
        torch.set_num_threads(int(threads))
    mode = spec.get("mode", "search")
    if mode not in MODES:
        raise ValueError(f"mode: unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    search = dict(spec.get("search", {}))
    options = dict(spec.get("options", {}))
    task = load_task(spec["task"], spec["data_dir"], device=device, **options)
    cell, depth, budget, seed = spec["cell"], int(spec["depth"]), int(spec["budget"]), int(spec["seed"])
    width = solve_width(cell, budget, depth, task.n_in, task.n_out)
    arch = Arch(cell, width, depth, task.n_in, task.n_out, task.input_kind)
    dims = search_space(cell, task.hp_space(), search, f"experiments.{spec.get('experiment', spec['task'])}.search")
    n_trials = int(search.get("trials", 8))
    E = max(1, int(search.get("ensemble", 8)))
    settings = TrainSettings(
        batch_size=int(search.get("batch_size", 128)),
        eval_every=int(search.get("eval_every", 500)),
        checkpoint_every=int(search.get("checkpoint_every", 500)),
        eval_batch_size=int(search.get("eval_batch_size", 1024)),
        compile=bool(search.get("compile", False)),
    )
    source = None
    if mode == "rerun":
        src = spec.get("source_best")
        if not src or not Path(src).exists():
            raise FileNotFoundError(f"source_best: best.json of the source run not found: {src}")
        source_best = json.loads(Path(src).read_text())
        if not source_best.get("found"):
            raise ValueError(f"source_best: {src} has no feasible trial to rerun")
        source = source_best["hp"]

    ckpt_dir = out_dir / "ckpt"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    done_path = ckpt_dir / "trials.parquet"
    done = pd.read_parquet(done_path) if done_path.exists() else pd.DataFrame()
    tag = f"[{spec.get('experiment', spec['task'])} {cell} p{budget} d{depth} s{seed}]"
    log(f"{tag} {mode}: width {width}, {arch_params(arch)} params, {n_trials} trials in ensembles of {E}, "
        f"{len([d for d in dims if not d.fixed])} searched HPs, device {device}, "
        f"{len(done)} trials already done")
    higher = type(task).higher_is_better
    base = {
        "experiment": spec.get("experiment", spec["task"]), "task": spec["task"], "mode": mode, "cell": cell,
        "budget": budget, "depth": depth, "seed": seed, "width": width, "params": arch_params(arch),
        "metric": type(task).metric_name, "higher_is_better": higher,
    }
    while len(done) < n_trials:
        first = len(done)
        k = min(E, n_trials - first)
        if mode == "search":
            hps = ask_batch(dims, done, k, seed, first, higher, int(search.get("initial_points", 8)))
        elif mode == "random":
            hps = [sample_all(dims, np.random.default_rng(derive_seed(seed, i, 11))) for i in range(first, first + k)]
        else:
            hps = [{**{d.name: _fixed_value(d) for d in dims}, **source} for _ in range(k)]
        # fresh init/data seeds per trial; the mode salt keeps reruns off the source run's seeds
        seeds = [derive_seed(seed, i, 3 + MODES.index(mode)) for i in range(first, first + k)]
        start = time.perf_counter()
        rows = train_ensemble(task, arch, hps, seeds, settings, ckpt_dir / "batch.pt", log,
                              f"{tag} trials {first}-{first + k - 1}")
        log(f"{tag} trials {first}-{first + k - 1} done in {time.perf_counter() - start:.1f}s")
        new = []
        for i, (hp, sd, row) in enumerate(zip(hps, seeds, rows)):
            r = {**base, "trial": first + i, "member_seed": sd, **row}
            r.update({HP_PREFIX + n: v for n, v in hp.items()})
            r.update({OPT_PREFIX + n: v for n, v in options.items()})
            if source is not None:  # Table App.1's "original" column
                r["source_eval_metric"] = source_best["metrics"]["eval_metric"]
            new.append(r)
        done = pd.concat([done, pd.DataFrame(new)], ignore_index=True) if len(done) else pd.DataFrame(new)
        io.write_parquet(done_path, done)
        (ckpt_dir / "batch.pt").unlink(missing_ok=True)
        best = best_trial(done)
        if best is not None:
            log(f"{tag} best {type(task).metric_name} so far {best['valid_metric']:.5g} (trial {int(best['trial'])})")

    done = done.assign(rnncap_version=__version__, torch_version=torch.__version__)
    io.write_parquet(out_dir / "trials.parquet", done)
    best = best_trial(done)
    io.write_json(out_dir / "best.json", {
        "run": {k: base[k] for k in ("experiment", "task", "mode", "cell", "budget", "depth", "seed")},
        "found": best is not None,
        "trial": None if best is None else int(best["trial"]),
        "hp": {} if best is None else {c[len(HP_PREFIX):]: _py(best[c]) for c in done.columns
                                       if c.startswith(HP_PREFIX) and not _isnan(best[c])},
        "metrics": {} if best is None else {c: _py(best[c]) for c in
                                            ("valid_metric", "eval_metric", "valid_loss", "eval_loss", "train_loss")},
        "provenance": {"rnncap": __version__, "torch": torch.__version__, "device": device,
                       "spec": dict(spec)},
    })
    if not search.get("keep_checkpoints", False):
        shutil.rmtree(ckpt_dir, ignore_errors=True)
    return done


def arch_params(arch: Arch) -> int:
    from ..model.params import count_params

    return count_params(arch.cell, arch.width, arch.depth, arch.n_in, arch.n_out)


def _isnan(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)


def best_trial(df: pd.DataFrame) -> pd.Series | None:
    """The feasible trial with the best validation metric (spec §4 selection), or None."""
    from ..analysis.common import best_rows  # the one implementation of the selection rule

    best = best_rows(df.assign(_run=0), ["_run"])
    return None if best.empty else best.drop(columns=["_run", "n_trials", "n_feasible"]).iloc[0]
