"""Train E HP trials at once as one stacked ensemble (docs/method.md §4, design invariants).

Each member has its own HPs, init seed and data stream, so a member's result
does not depend on who else is in the ensemble. A member whose loss turns
NaN/Inf is frozen and marked infeasible; members stop updating at their own
step count. A checkpoint written every `checkpoint_every` steps lets a killed
job resume bit-for-bit where it stopped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

from .. import io
from ..model.init import init_member_
from ..model.ensemble import Arch, Ensemble
from ..model.optim import EnsembleOptimizer
from ..tasks.base import Task


@dataclass(frozen=True)
class TrainSettings:
    """How the loop trains and evaluates. No defaults here: the run driver fills these from the
    spec's search block, whose defaults the config schema declares (their one place)."""

    batch_size: int
    eval_every: int  # steps between progress lines; also the final-train-loss window
    checkpoint_every: int
    eval_batch_size: int
    compile: bool  # torch.compile the training forward+backward (worth it past ~10^4 steps)


def _load_checkpoint(path: Path, dev: torch.device, log: Callable[[str], None], tag: str) -> dict | None:
    """The batch's checkpoint, or None. A damaged one is only a cache of work this batch redoes:
    it is named in the log and discarded, never resumed from."""
    if not path.exists():
        return None
    try:
        return io.torch_load(path, map_location=dev, weights_only=False)
    except io.DamagedFileError as e:
        log(f"{tag} {e.path}: damaged checkpoint ({e.reason}); discarded, this batch restarts from step 0")
        path.unlink(missing_ok=True)
        return None


def derive_seed(*parts: int) -> int:
    """A 63-bit seed from integers, stable across processes and platforms."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(2, np.uint64)[0] >> np.uint64(1))


def _split_names(task: Task) -> tuple[str, ...]:
    # capacity and RCF evaluate on their training set: one pass serves all splits
    return ("eval",) if getattr(task, "SPLITS_IDENTICAL", False) else ("valid", "eval")


@torch.no_grad()
def evaluate(model: Ensemble, task: Task, task_hps: Sequence[dict], split: str, batch_size: int) -> dict[str, torch.Tensor]:
    sums: dict[str, torch.Tensor] = {}
    for batch in task.eval_batches(split, task_hps, batch_size):
        out = model(batch.x, task.readout_steps)
        for k, v in task.eval_sums(out, batch).items():
            sums[k] = sums[k] + v if k in sums else v.clone()
    return task.finalize(sums, task_hps)


def train_ensemble(
    task: Task,
    arch: Arch,
    hps: Sequence[Mapping[str, Any]],
    seeds: Sequence[int],
    settings: TrainSettings,
    ckpt_path: Path | None = None,
    log: Callable[[str], None] = print,
    tag: str = "",
) -> list[dict[str, Any]]:
    """Train len(hps) members; return one result dict per member (the outcome columns of rnncap.trials)."""
    dev = task.device
    E = len(hps)
    model = Ensemble(arch, E, dev)
    for e in range(E):
        init_member_(model, e, hps[e], torch.Generator().manual_seed(derive_seed(seeds[e], 0)))
    task_hps = [task.resolve_hps(h, model.n_params) for h in hps]
    gens = [torch.Generator(device=dev).manual_seed(derive_seed(seeds[e], 1)) for e in range(E)]
    opt = EnsembleOptimizer(model.flat, hps)
    steps = torch.tensor([int(h["steps"]) for h in hps], device=dev)
    window = torch.clamp(torch.minimum(steps, torch.tensor(settings.eval_every, device=dev)), min=1)
    z = lambda dt=torch.float64: torch.zeros(E, dtype=dt, device=dev)  # noqa: E731
    st = {"t": 0, "alive": torch.ones(E, dtype=torch.bool, device=dev), "first": z(),
          "win_sum": z(), "win_cnt": z(), "wall": 0.0}
    fingerprint = repr((arch, [dict(h) for h in hps], list(seeds)))
    ck = _load_checkpoint(ckpt_path, dev, log, tag) if ckpt_path is not None else None
    if ck is not None:
        if ck["fingerprint"] == fingerprint:
            model.flat.data.copy_(ck["flat"])
            opt.load_state_dict(ck["opt"])
            for g, s in zip(gens, ck["gens"]):
                g.set_state(s)
            st = ck["state"]
            log(f"{tag} resumed from step {st['t']}")

    readout = tuple(task.readout_steps)
    forward = torch.compile(model, dynamic=False) if settings.compile else model
    max_steps = int(steps.max())
    period_sum, period_n = z(), 0
    t0, t_period = time.perf_counter(), time.perf_counter()
    t = st["t"]
    while t < max_steps:
        active = st["alive"] & (t < steps)
        batch = task.train_batch(gens, task_hps, settings.batch_size)
        loss = task.loss(forward(batch.x, readout), batch)
        ld = loss.detach().double()
        finite = torch.isfinite(ld)
        st["alive"] = st["alive"] & (finite | ~active)
        if t == 0:
            st["first"] = ld.clone()
        ok = active & finite
        in_win = ok & (t >= steps - window)
        st["win_sum"] += torch.where(in_win, ld, 0.0)
        st["win_cnt"] += in_win
        period_sum += torch.where(ok, ld, 0.0)
        period_n += 1
        model.flat.grad = None
        torch.where(st["alive"] & active, loss, torch.zeros_like(loss)).sum().backward()
        opt.step(t, st["alive"] & active)
        t += 1
        st["t"] = t
        if t % settings.eval_every == 0 or t == max_steps:
            now = time.perf_counter()
            rate = period_n / max(now - t_period, 1e-9)
            live = (st["alive"] & (t <= steps)).nonzero().flatten()
            mean = (period_sum / period_n)[live] if len(live) else torch.tensor([float("nan")])
            log(f"{tag} step {t}/{max_steps} {rate:.1f} steps/s ({rate * E:.0f} member-steps/s) "
                f"train loss best {mean.min().item():.4g} median {mean.median().item():.4g} "
                f"alive {int(st['alive'].sum())}/{E}")
            period_sum, period_n, t_period = z(), 0, now
            if not bool((st["alive"] & (t < steps)).any()):
                break  # every member has finished or diverged
        if ckpt_path is not None and t % settings.checkpoint_every == 0 and t < max_steps:
            st["wall"] += time.perf_counter() - t0
            t0 = time.perf_counter()
            io.torch_save(ckpt_path, {"fingerprint": fingerprint, "flat": model.flat.data, "opt": opt.state_dict(),
                                      "gens": [g.get_state() for g in gens], "state": st})
    wall = st["wall"] + time.perf_counter() - t0

    results = {split: evaluate(model, task, task_hps, split, settings.eval_batch_size) for split in _split_names(task)}
    valid = results.get("valid", results["eval"])
    final = st["win_sum"] / st["win_cnt"].clamp(min=1)
    out = []
    for e in range(E):
        vm = float(valid["metric"][e])
        infeasible = (not bool(st["alive"][e])) or (not np.isfinite(vm)) or float(final[e]) > float(st["first"][e])
        row = {
            "steps": int(min(int(steps[e]), t)),
            "train_loss": float(final[e]) if st["win_cnt"][e] > 0 else float("nan"),
            "valid_loss": float(valid["loss"][e]),
            "eval_loss": float(results["eval"]["loss"][e]),
            "valid_metric": vm,
            "eval_metric": float(results["eval"]["metric"][e]),
            "infeasible": bool(infeasible),
            "wall_s": wall / E,
            "device": str(dev),
            "eval_accuracy": float(results["eval"]["accuracy"][e]) if "accuracy" in results["eval"] else float("nan"),
            "b": float(task_hps[e]["b"]) if "b" in task_hps[e] else float("nan"),
        }
        out.append(row)
    return out
