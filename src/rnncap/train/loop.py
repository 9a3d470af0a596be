"""Train E HP trials at once as one stacked ensemble (docs/method.md §4, design invariants).

Each member has its own HPs, init seed and data stream, so a member's result
does not depend on who else is in the ensemble. A member whose loss turns
NaN/Inf is frozen and marked infeasible; members stop updating at their own
step count. A checkpoint written every `checkpoint_every` steps lets a killed
job resume bit-for-bit where it stopped.

With a halving schedule (train/halving.py) the members still training are judged at
each rung step; the ones stopped there, and the ones that have already finished, get
their final rows at once and leave the stacked tensors, so they cost nothing afterwards.
The checkpoint then also holds which members remain, the rows of those that left and the
rung values so far: a resumed batch builds the full ensemble, selects the remaining
members and loads their state.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from .. import io
from ..model.init import init_member_
from ..model.ensemble import Arch, Ensemble
from ..model.optim import EnsembleOptimizer
from ..tasks.base import Task
from .halving import rung_column


@dataclass(frozen=True)
class TrainSettings:
    """How the loop trains and evaluates. No defaults here: the run driver fills these from the
    spec's search block, whose defaults the config schema declares (their one place)."""

    batch_size: int
    eval_every: int  # steps between progress lines; also the final-train-loss window
    checkpoint_every: int
    eval_batch_size: int
    compile: bool  # torch.compile the training forward+backward (the run decides: plan/compile_policy.py)


@dataclass(frozen=True)
class Halving:
    """A batch's rungs (ascending steps) and the decision taken at each: decide(rung index,
    batch positions of the members judged, their validation metrics) -> keep flags."""

    rungs: tuple[int, ...]
    decide: Callable[[int, list[int], list[float]], list[bool]]


# per-member entries of the loop state (compacted with the ensemble when members leave)
_PER_MEMBER = ("alive", "first", "win_sum", "win_cnt", "rwin_sum", "rwin_cnt")


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


class _Members:
    """The members still in the ensemble and everything indexed by them."""

    def __init__(self, task: Task, arch: Arch, hps: Sequence[Mapping[str, Any]], seeds: Sequence[int],
                 settings: TrainSettings):
        dev, E = task.device, len(hps)
        self.model = Ensemble(arch, E, dev)
        for e in range(E):
            init_member_(self.model, e, hps[e], torch.Generator().manual_seed(derive_seed(seeds[e], 0)))
        self.task_hps = [task.resolve_hps(h, self.model.n_params) for h in hps]
        self.gens = [torch.Generator(device=dev).manual_seed(derive_seed(seeds[e], 1)) for e in range(E)]
        self.opt = EnsembleOptimizer(self.model.flat, hps)
        self.steps = torch.tensor([int(h["steps"]) for h in hps], device=dev)
        self.window = torch.clamp(torch.minimum(self.steps, torch.tensor(settings.eval_every, device=dev)), min=1)

    def select(self, idx: list[int]) -> None:
        self.model.select(idx)
        self.opt.select(idx, self.model.flat)
        self.gens = [self.gens[i] for i in idx]
        self.task_hps = [self.task_hps[i] for i in idx]
        self.steps, self.window = self.steps[idx], self.window[idx]


def _rows(m: _Members, st: dict, local: list[int], valid: dict, ev: dict, rung: int | None,
          wall: float, E0: int) -> list[dict[str, Any]]:
    """The result rows of members `local` (indices into the current ensemble; `valid`, `ev`
    indexed the same way). rung None: trained to their own steps; else stopped at that rung."""
    dev = m.model.flat.device
    if rung is None:
        final, cnt = st["win_sum"] / st["win_cnt"].clamp(min=1), st["win_cnt"]
    else:
        final, cnt = st["rwin_sum"][:, rung] / st["rwin_cnt"][:, rung].clamp(min=1), st["rwin_cnt"][:, rung]
    out = []
    for k, e in enumerate(local):
        vm = float(valid["metric"][k])
        infeasible = (not bool(st["alive"][e])) or (not np.isfinite(vm)) or float(final[e]) > float(st["first"][e])
        steps = int(min(int(m.steps[e]), st["t"])) if rung is None else int(st["rung_steps"][rung])
        out.append({
            "steps": steps,
            "train_loss": float(final[e]) if cnt[e] > 0 else float("nan"),
            "valid_loss": float(valid["loss"][k]),
            "eval_loss": float(ev["loss"][k]),
            "valid_metric": vm,
            "eval_metric": float(ev["metric"][k]),
            "infeasible": bool(infeasible),
            "wall_s": wall / E0,
            "device": str(dev),
            "eval_accuracy": float(ev["accuracy"][k]) if "accuracy" in ev else float("nan"),
            "b": float(m.task_hps[e]["b"]) if "b" in m.task_hps[e] else float("nan"),
        })
    return out


def _pick(res: dict[str, Tensor], idx: list[int]) -> dict[str, Tensor]:
    return {k: v[idx] for k, v in res.items()}


def _judge(m: _Members, task: Task, st: dict, halving: Halving, i: int, settings: TrainSettings,
           wall: float, E0: int) -> list[int]:
    """Rung i: judge the members still training, finalise the rows of those stopped and of
    those already finished, and return the ensemble indices that keep training."""
    r = halving.rungs[i]
    judged = [e for e in range(m.model.E) if int(m.steps[e]) > r]
    if not judged:
        return list(range(m.model.E))
    identical = len(_split_names(task)) == 1
    valid = evaluate(m.model, task, m.task_hps, "eval" if identical else "valid", settings.eval_batch_size)
    # a diverged member's metric says nothing: it ranks last (NaN)
    values = [float(valid["metric"][e]) if bool(st["alive"][e]) else float("nan") for e in judged]
    pos = [st["members"][e] for e in judged]
    for p, v in zip(pos, values):
        st["rung_values"][p].append(v)
    kept = dict(zip(judged, halving.decide(i, pos, values)))
    stop = [e for e in judged if not kept[e]]
    done = [e for e in range(m.model.E) if e not in kept]  # finished at their own steps before the rung
    leave = stop + done
    if leave:
        if identical:
            ev = _pick(valid, leave)
        else:  # only the leaving members need the evaluation split
            sub = copy.deepcopy(m.model)
            sub.select(leave)
            ev = evaluate(sub, task, [m.task_hps[e] for e in leave], "eval", settings.eval_batch_size)
        at = {e: k for k, e in enumerate(leave)}
        for group, rung in ((stop, i), (done, None)):
            if group:
                rows = _rows(m, st, group, _pick(valid, group), _pick(ev, [at[e] for e in group]), rung,
                             wall, E0)
                for e, row in zip(group, rows):
                    st["left"][st["members"][e]] = {**row, "stopped": rung is not None}
    return [e for e in judged if kept[e]]


def train_ensemble(
    task: Task,
    arch: Arch,
    hps: Sequence[Mapping[str, Any]],
    seeds: Sequence[int],
    settings: TrainSettings,
    ckpt_path: Path | None = None,
    log: Callable[[str], None] = print,
    tag: str = "",
    halving: Halving | None = None,
) -> list[dict[str, Any]]:
    """Train len(hps) members; return one result dict per member (the outcome columns of rnncap.trials,
    plus `rung`, `stopped` and, with a halving schedule, the rung values)."""
    dev = task.device
    E0 = E = len(hps)
    m = _Members(task, arch, hps, seeds, settings)
    rung_steps = tuple(halving.rungs) if halving is not None else ()
    z = lambda dt=torch.float64: torch.zeros(E, dtype=dt, device=dev)  # noqa: E731
    st = {"t": 0, "alive": torch.ones(E, dtype=torch.bool, device=dev), "first": z(),
          "win_sum": z(), "win_cnt": z(), "wall": 0.0}
    fingerprint = repr((arch, [dict(h) for h in hps], list(seeds)))
    if halving is not None:  # full-schedule checkpoints keep their old layout
        R = len(rung_steps)
        st.update({"members": list(range(E)), "left": {}, "rung_values": {e: [] for e in range(E)},
                   "rung_steps": rung_steps, "rwin_sum": torch.zeros(E, R, dtype=torch.float64, device=dev),
                   "rwin_cnt": torch.zeros(E, R, dtype=torch.float64, device=dev)})
        fingerprint += repr(rung_steps)
    ck = _load_checkpoint(ckpt_path, dev, log, tag) if ckpt_path is not None else None
    if ck is not None:
        if ck["fingerprint"] == fingerprint:
            st = ck["state"]
            if halving is not None and len(st["members"]) < E0:
                m.select(list(st["members"]))
            m.model.flat.data.copy_(ck["flat"])
            m.opt.load_state_dict(ck["opt"])
            for g, s in zip(m.gens, ck["gens"]):
                g.set_state(s)
            log(f"{tag} resumed from step {st['t']}")

    readout = tuple(task.readout_steps)
    rung_at = {r: i for i, r in enumerate(rung_steps)}
    # the training-loss window of each rung: the eval period before it (as for a member's own end)
    rung_lo = [r - max(1, min(r, settings.eval_every)) for r in rung_steps]

    def compiled() -> Callable[..., Tensor]:
        return torch.compile(m.model, dynamic=False) if settings.compile else m.model

    forward = compiled()
    max_steps = int(m.steps.max()) if m.model.E else 0
    period_sum, period_n = torch.zeros(m.model.E, dtype=torch.float64, device=dev), 0
    t0, t_period = time.perf_counter(), time.perf_counter()
    t = st["t"]
    while t < max_steps:
        steps = m.steps
        active = st["alive"] & (t < steps)
        batch = task.train_batch(m.gens, m.task_hps, settings.batch_size)
        loss = task.loss(forward(batch.x, readout), batch)
        ld = loss.detach().double()
        finite = torch.isfinite(ld)
        st["alive"] = st["alive"] & (finite | ~active)
        if t == 0:
            st["first"] = ld.clone()
        ok = active & finite
        in_win = ok & (t >= steps - m.window)
        st["win_sum"] += torch.where(in_win, ld, 0.0)
        st["win_cnt"] += in_win
        for i, lo in enumerate(rung_lo):
            if lo <= t < rung_steps[i]:
                st["rwin_sum"][:, i] += torch.where(ok, ld, 0.0)
                st["rwin_cnt"][:, i] += ok
        period_sum += torch.where(ok, ld, 0.0)
        period_n += 1
        m.model.flat.grad = None
        torch.where(st["alive"] & active, loss, torch.zeros_like(loss)).sum().backward()
        m.opt.step(t, st["alive"] & active)
        t += 1
        st["t"] = t
        if t in rung_at:
            wall_now = st["wall"] + time.perf_counter() - t0
            keep = _judge(m, task, st, halving, rung_at[t], settings, wall_now, E0)
            if len(keep) < m.model.E:
                log(f"{tag} rung {rung_at[t]} at step {t}: {len(keep)} of {m.model.E} members continue")
                m.select(keep)
                for k in _PER_MEMBER:
                    st[k] = st[k][keep]
                st["members"] = [st["members"][e] for e in keep]
                period_sum = period_sum[keep]
                forward = compiled()
                max_steps = int(m.steps.max()) if m.model.E else t
        E = m.model.E
        if E and (t % settings.eval_every == 0 or t == max_steps):
            now = time.perf_counter()
            rate = period_n / max(now - t_period, 1e-9)
            live = (st["alive"] & (t <= m.steps)).nonzero().flatten()
            mean = (period_sum / period_n)[live] if len(live) else torch.tensor([float("nan")])
            log(f"{tag} step {t}/{max_steps} {rate:.1f} steps/s ({rate * E:.0f} member-steps/s) "
                f"train loss best {mean.min().item():.4g} median {mean.median().item():.4g} "
                f"alive {int(st['alive'].sum())}/{E}")
            period_sum, period_n, t_period = torch.zeros(E, dtype=torch.float64, device=dev), 0, now
            if not bool((st["alive"] & (t < m.steps)).any()):
                break  # every member has finished or diverged
        if ckpt_path is not None and t % settings.checkpoint_every == 0 and t < max_steps:
            st["wall"] += time.perf_counter() - t0
            t0 = time.perf_counter()
            io.torch_save(ckpt_path, {"fingerprint": fingerprint, "flat": m.model.flat.data,
                                      "opt": m.opt.state_dict(), "gens": [g.get_state() for g in m.gens],
                                      "state": st})
    wall = st["wall"] + time.perf_counter() - t0

    rows: dict[int, dict[str, Any]] = dict(st.get("left", {}))
    if m.model.E:
        results = {s: evaluate(m.model, task, m.task_hps, s, settings.eval_batch_size) for s in _split_names(task)}
        here = list(range(m.model.E))
        final = _rows(m, st, here, results.get("valid", results["eval"]), results["eval"], None, wall, E0)
        for e, row in zip(here, final):
            rows[st["members"][e] if halving is not None else e] = row
    out = []
    for p in range(E0):
        row = dict(rows[p])
        stopped = bool(row.pop("stopped", False))
        vals = st["rung_values"][p] if halving is not None else []
        # rung: decisions passed (a member stopped at rung i passed i of them)
        row.update({"rung": len(vals) - int(stopped), "stopped": stopped})
        row.update({rung_column(i): v for i, v in enumerate(vals)})
        out.append(row)
    return out
