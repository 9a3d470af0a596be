"""The task contract every paper task implements (spec/paper.md §3), and what the tasks share.

A task owns its data (written once per task seed by `make_data`, loaded by the
constructor), draws training batches for an ensemble of E members, and turns
model outputs into a training loss and evaluation metrics. Its sizes follow from its
options alone (`Task.facts`), so the planner reads them without any data.

Ensemble rule: member e's training batch is drawn with `gens[e]` and depends
only on `gens[e]` and `hps[e]`. That is what makes a member trained alone
identical to the same member trained inside an ensemble.

Data directory format: data.pt + meta.json, both written atomically, meta.json last so
that its presence means the directory is complete.
"""

from __future__ import annotations

import json
import math
import zlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Iterator, Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from .. import io
from ..hpspace import HPDim

DATA_FILE = "data.pt"
META_FILE = "meta.json"
FORMAT = 1


class TaskError(ValueError):
    """Bad task name, option or data (the message names the key).

    `key` is the option at fault (None: not one option) and `reason` the message without
    the task's name, so the config checks can put the option under their own key path.
    """

    def __init__(self, message: str, key: str | None = None, reason: str | None = None):
        super().__init__(message)
        self.key = key
        self.reason = message if reason is None else reason


def option_error(task: str, key: str, reason: str) -> TaskError:
    """`task.key: reason`, keyed."""
    return TaskError(f"{task}.{key}: {reason}", key, reason)


@dataclass(frozen=True)
class TaskFacts:
    """What a task instance is, from its options alone: the sizes the model and the
    constructor use, and what the planner's cost model reads, before any data exists."""

    task: str
    options: dict[str, Any]  # the checked options, the task's defaults filled in
    n_in: int
    n_out: int
    seq_len: int
    readout_steps: tuple[int, ...]  # 0-based steps whose outputs the loss reads
    input_kind: str  # "dense" | "index" (one-hot inputs gathered, no input matmul)
    active_inputs: int  # one-hot indices per time step of "index" inputs


@dataclass
class Batch:
    """One batch for E members.

    x: dense float32 (E, T, B, n_in), or for input_kind == "index" int64
       (E, T, B, K): K one-hot indices in [0, n_in) per step whose one-hot
       vectors are summed (the model gathers rows of W_x; no 300-wide dense
       tensors). A step with no input uses index -1 (gathers nothing).
    y: targets; leading dim E, task-defined layout.
    w: optional (E, B) sample weights (capacity padding, RCF power law).
    """

    x: Tensor
    y: Tensor
    w: Tensor | None = None


def f64(x: Tensor) -> Tensor:
    """Eval sums accumulate in float64: thousands of batches are added up per split."""
    return x.to(torch.float64)


def np_rng(seed: int, stream: str, *parts: int) -> np.random.Generator:
    """An independent numpy stream named by (seed, stream, parts)."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), zlib.crc32(stream.encode()), *map(int, parts)]))


# --------------------------------------------------------------------------- options

def _coerce(task: str, key: str, default: Any, value: Any) -> Any:
    """Give an option the type of its default (bool/int/float); None defaults take str or None."""
    if isinstance(default, bool):
        if not isinstance(value, (bool, np.bool_)):
            raise option_error(task, key, f"expected true/false, got {value!r}")
        return bool(value)
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer, float)) or float(value) != int(value):
            raise option_error(task, key, f"expected an integer, got {value!r}")
        return int(value)
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                or not math.isfinite(float(value)):
            raise option_error(task, key, f"expected a finite number, got {value!r}")
        return float(value)
    if value is None:
        return None
    if isinstance(value, Path):
        return str(value)
    if not isinstance(value, str):
        raise option_error(task, key, f"expected a string, got {value!r}")
    return value


# --------------------------------------------------------------------------- data directory

def _jsonable(options: Mapping[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(dict(options)))


def save_data(out_dir: Path | str, task: str, seed: int, options: Mapping[str, Any], tensors: Mapping[str, Tensor],
              sizes: Mapping[str, int]) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / META_FILE).unlink(missing_ok=True)  # the directory is incomplete until meta.json is back
    io.torch_save(out / DATA_FILE, {k: v.contiguous() for k, v in tensors.items()})
    io.write_json(out / META_FILE, {"task": task, "seed": int(seed), "options": _jsonable(options),
                                    "sizes": {k: int(v) for k, v in sizes.items()}, "format": FORMAT},
                  checksum=True)


def load_data(data_dir: Path, task: str, options: Mapping[str, Any], device: torch.device) -> tuple[dict, dict, str]:
    """(meta, tensors on device, their digest); TaskError if the directory is incomplete or was made
    with other options, DamagedFileError naming a damaged file (both checked before any use)."""
    for f in (META_FILE, DATA_FILE):
        if not (data_dir / f).is_file():
            raise TaskError(f"{task}: data directory {data_dir} is incomplete: missing {f} (run make_data first)")
    meta = io.read_json(data_dir / META_FILE, checksum=True)
    if meta.get("task") != task:
        raise TaskError(f"{task}: {data_dir} holds data of task {meta.get('task')!r}")
    want = _jsonable(options)
    have = meta.get("options", {})
    if have != want:
        diff = sorted(k for k in set(want) | set(have) if want.get(k) != have.get(k))
        what = "; ".join(f"{k}: made with {have.get(k)!r}, given {want.get(k)!r}" for k in diff)
        raise TaskError(f"{task}: data in {data_dir} was made with other options ({what}); remake the data")
    tensors, digest = io.torch_load_with_digest(data_dir / DATA_FILE, map_location=device)
    return meta, tensors, digest


# --------------------------------------------------------------------------- the contract

class Task(ABC):
    name: ClassVar[str]
    metric_name: ClassVar[str]  # e.g. "mi_bits", "mse_per_dim", "loss", "bits_per_char"
    higher_is_better: ClassVar[bool]
    input_kind: ClassVar[str]  # "dense" | "index"
    active_inputs: ClassVar[int] = 1  # one-hot indices per step ("index" inputs)
    DEFAULTS: ClassVar[dict[str, Any]] = {}  # every option with its default; the type checks values
    SPLITS: ClassVar[tuple[str, ...]] = ("train", "valid", "eval")
    SPLITS_IDENTICAL: ClassVar[bool] = False  # train == valid == eval (the trainer evaluates once)

    n_in: int
    n_out: int
    seq_len: int
    readout_steps: tuple[int, ...]
    data_digest: str

    # -- options and sizes (no data needed) ---------------------------------------
    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> dict[str, Any]:
        """DEFAULTS updated with `options`; unknown names, wrong types and bad values raise TaskError."""
        for k in options:
            if k not in cls.DEFAULTS:
                raise TaskError(f"{cls.name}: unknown option {k!r}; expected one of {', '.join(cls.DEFAULTS)}", k,
                                f"unknown option of task {cls.name}; expected one of {', '.join(cls.DEFAULTS)}")
        opts = {k: _coerce(cls.name, k, d, options.get(k, d)) for k, d in cls.DEFAULTS.items()}
        cls.validate(opts)
        return opts

    @classmethod
    def validate(cls, opts: dict[str, Any]) -> None:
        """Range checks of option values (`cls.require`)."""

    @classmethod
    def require(cls, ok: bool, key: str, reason: str) -> None:
        """TaskError `task.key: reason` unless ok."""
        if not ok:
            raise option_error(cls.name, key, reason)

    @classmethod
    def facts(cls, options: Mapping[str, Any]) -> TaskFacts:
        """The instance's sizes from its options: what the constructor sets and the planner costs."""
        o = cls.check_options(options)
        n_in, n_out, readout_steps = cls.layout(o)
        return TaskFacts(cls.name, o, n_in, n_out, o["seq_len"], tuple(readout_steps), cls.input_kind,
                         cls.active_inputs)

    @classmethod
    @abstractmethod
    def layout(cls, o: Mapping[str, Any]) -> tuple[int, int, Sequence[int]]:
        """(n_in, n_out, readout_steps) of checked options `o`."""

    @classmethod
    def hp_space(cls) -> list[HPDim]:
        """Task-specific HPs the tuner searches (capacity: b_ratio, presentation)."""
        return []

    # -- data ----------------------------------------------------------------------
    @classmethod
    @abstractmethod
    def make_data(cls, seed: int, out_dir: Path | str, **options: Any) -> None:
        """Write this task's fixed data (valid/eval sets, datasets) for one task seed."""

    def __init__(self, data_dir: Path | str, device: str | torch.device = "cpu", **options: Any):
        self.data_dir = Path(data_dir)
        self.device = torch.device(device)
        f = self.facts(options)
        self.options = f.options
        self.n_in, self.n_out, self.seq_len, self.readout_steps = f.n_in, f.n_out, f.seq_len, f.readout_steps
        # data_digest identifies the data (data.pt's verified checksum): a resumed run reuses
        # finished trials only if they were trained on this very data
        self.meta, self.data, self.data_digest = load_data(self.data_dir, self.name, self.options, self.device)
        self.seed = int(self.meta["seed"])

    def resolve_hps(self, hp: dict[str, Any], n_params: int) -> dict[str, Any]:
        """Turn searched task HPs into the values batches need (capacity: b from b_ratio)."""
        return {d.name: hp[d.name] for d in self.hp_space()}

    # -- batches, losses, metrics ----------------------------------------------------
    @abstractmethod
    def train_batch(self, gens: Sequence[torch.Generator], hps: Sequence[dict], batch_size: int) -> Batch:
        """One training batch per member, member e drawn with gens[e] only."""

    @abstractmethod
    def eval_batches(self, split: str, hps: Sequence[dict], batch_size: int) -> Iterator[Batch]:
        """Deterministic batches covering the fixed set of `split` ('train'|'valid'|'eval')."""

    @abstractmethod
    def loss(self, out: Tensor, batch: Batch) -> Tensor:
        """(E,) differentiable training loss; out is (E, len(readout_steps), B, n_out)."""

    @abstractmethod
    def eval_sums(self, out: Tensor, batch: Batch) -> dict[str, Tensor]:
        """(E,) float64 sums for one eval batch, added up over all batches of a split."""

    @abstractmethod
    def finalize(self, sums: dict[str, Tensor], hps: Sequence[dict]) -> dict[str, Tensor]:
        """From summed eval stats to {"loss": (E,), "metric": (E,), ...extras (E,)}."""

    def _check_split(self, split: str) -> None:
        if split not in self.SPLITS:
            raise TaskError(f"{self.name}: unknown split {split!r}; expected one of {', '.join(self.SPLITS)}")

    def _check_members(self, gens, hps) -> None:
        if len(gens) != len(hps):
            raise TaskError(f"{self.name}: {len(gens)} generators for {len(hps)} members")
