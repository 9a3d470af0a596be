"""Shared plumbing of the paper tasks: option checking, seeded numpy streams,
and the data directory format (data.pt + meta.json, both written atomically,
meta.json last so its presence means the directory is complete)."""

from __future__ import annotations

import json
import math
import zlib
from pathlib import Path
from typing import Any, ClassVar, Mapping

import numpy as np
import torch
from torch import Tensor

from .. import io
from .base import Task, TaskError

DATA_FILE = "data.pt"
META_FILE = "meta.json"
FORMAT = 1


def _coerce(task: str, key: str, default: Any, value: Any) -> Any:
    """Give an option the type of its default (bool/int/float); None defaults take str or None."""
    where = f"{task}.{key}"
    if isinstance(default, bool):
        if not isinstance(value, (bool, np.bool_)):
            raise TaskError(f"{where}: expected true/false, got {value!r}")
        return bool(value)
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer, float)) or float(value) != int(value):
            raise TaskError(f"{where}: expected an integer, got {value!r}")
        return int(value)
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                or not math.isfinite(float(value)):
            raise TaskError(f"{where}: expected a finite number, got {value!r}")
        return float(value)
    if value is None:
        return None
    if isinstance(value, Path):
        return str(value)
    if not isinstance(value, str):
        raise TaskError(f"{where}: expected a string, got {value!r}")
    return value


def check_options(task: str, defaults: Mapping[str, Any], options: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults updated with `options`; unknown names and wrong types raise TaskError."""
    for k in options:
        if k not in defaults:
            raise TaskError(f"{task}: unknown option {k!r}; expected one of {', '.join(defaults)}")
    return {k: _coerce(task, k, d, options.get(k, d)) for k, d in defaults.items()}


def require(cond: bool, msg: str) -> None:
    if not cond:
        raise TaskError(msg)


def np_rng(seed: int, stream: str, *parts: int) -> np.random.Generator:
    """An independent numpy stream named by (seed, stream, parts)."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), zlib.crc32(stream.encode()), *map(int, parts)]))


def _jsonable(options: Mapping[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(dict(options)))


def save_data(out_dir: Path | str, task: str, seed: int, options: Mapping[str, Any], tensors: Mapping[str, Tensor],
              sizes: Mapping[str, int]) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / META_FILE).unlink(missing_ok=True)  # the directory is incomplete until meta.json is back
    io.torch_save(out / DATA_FILE, {k: v.contiguous() for k, v in tensors.items()})
    io.write_json(out / META_FILE, {"task": task, "seed": int(seed), "options": _jsonable(options),
                                    "sizes": {k: int(v) for k, v in sizes.items()}, "format": FORMAT})


def load_data(data_dir: Path, task: str, options: Mapping[str, Any], device: torch.device) -> tuple[dict, dict]:
    """(meta, tensors on device); TaskError if the directory is incomplete or was made with other options."""
    for f in (META_FILE, DATA_FILE):
        if not (data_dir / f).is_file():
            raise TaskError(f"{task}: data directory {data_dir} is incomplete: missing {f} (run make_data first)")
    meta = json.loads((data_dir / META_FILE).read_text())
    if meta.get("task") != task:
        raise TaskError(f"{task}: {data_dir} holds data of task {meta.get('task')!r}")
    want = _jsonable(options)
    have = meta.get("options", {})
    if have != want:
        diff = sorted(k for k in set(want) | set(have) if want.get(k) != have.get(k))
        what = "; ".join(f"{k}: made with {have.get(k)!r}, given {want.get(k)!r}" for k in diff)
        raise TaskError(f"{task}: data in {data_dir} was made with other options ({what}); remake the data")
    tensors = torch.load(data_dir / DATA_FILE, map_location=device, weights_only=True)
    return meta, tensors


class PaperTask(Task):
    """Task with DEFAULTS-checked options and a data directory written by make_data."""

    DEFAULTS: ClassVar[dict[str, Any]] = {}
    SPLITS: ClassVar[tuple[str, ...]] = ("train", "valid", "eval")
    SPLITS_IDENTICAL: ClassVar[bool] = False  # train == valid == eval (the trainer evaluates once)

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> dict[str, Any]:
        opts = check_options(cls.name, cls.DEFAULTS, options)
        cls.validate(opts)
        return opts

    @classmethod
    def validate(cls, opts: dict[str, Any]) -> None:
        """Range checks of option values (TaskError naming `task.key`)."""

    def __init__(self, data_dir: Path | str, device: str | torch.device = "cpu", **options: Any):
        super().__init__(data_dir, device)
        self.options = self.check_options(options)
        self.meta, self.data = load_data(self.data_dir, self.name, self.options, self.device)
        self.seed = int(self.meta["seed"])

    def _check_split(self, split: str) -> None:
        if split not in self.SPLITS:
            raise TaskError(f"{self.name}: unknown split {split!r}; expected one of {', '.join(self.SPLITS)}")

    def _check_members(self, gens, hps) -> None:
        if len(gens) != len(hps):
            raise TaskError(f"{self.name}: {len(gens)} generators for {len(hps)} members")


def f64(x: Tensor) -> Tensor:
    return x.to(torch.float64)
