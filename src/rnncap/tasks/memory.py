"""Per-unit (memory) capacity (spec §3.2, §9 #17): store one input vector
x ~ U(−√3, √3)^n_in shown at t = 0, reproduce it at the last step."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from torch import Tensor

from .base import Batch, Task, f64, np_rng, save_data

HALF_WIDTH = math.sqrt(3.0)  # U(-sqrt3, sqrt3) has unit variance


class MemoryTask(Task):
    name = "memory"
    metric_name = "mse_per_dim"
    higher_is_better = False
    input_kind = "dense"
    DEFAULTS = {"n_in": 64, "seq_len": 12, "n_eval": 4096}

    @classmethod
    def validate(cls, o: dict[str, Any]) -> None:
        for k in ("n_in", "seq_len", "n_eval"):
            cls.require(o[k] >= 1, k, f"must be >= 1, got {o[k]}")

    @classmethod
    def layout(cls, o: dict[str, Any]) -> tuple[int, int, Sequence[int]]:
        """The vector in, the same vector out at the last step."""
        return o["n_in"], o["n_in"], (o["seq_len"] - 1,)

    @classmethod
    def make_data(cls, seed: int, out_dir: Path | str, **options: Any) -> None:
        o = cls.check_options(options)
        sets = {s: np_rng(seed, "memory", i).uniform(-HALF_WIDTH, HALF_WIDTH, (o["n_eval"], o["n_in"]))
                .astype(np.float32) for i, s in enumerate(cls.SPLITS)}
        save_data(out_dir, cls.name, seed, o, {s: torch.from_numpy(v) for s, v in sets.items()},
                  {"n_eval": o["n_eval"], "n_in": o["n_in"]})

    def _batch(self, v: Tensor) -> Batch:
        """v (E, B, n_in) -> input at t = 0 only, target v."""
        E, B, n = v.shape
        x = torch.zeros(E, self.seq_len, B, n, device=self.device)
        x[:, 0] = v
        return Batch(x, v)

    def train_batch(self, gens: Sequence[torch.Generator], hps: Sequence[dict], batch_size: int) -> Batch:
        self._check_members(gens, hps)
        v = torch.stack([torch.rand(batch_size, self.n_in, generator=g, device=self.device) for g in gens])
        return self._batch(v * (2 * HALF_WIDTH) - HALF_WIDTH)

    def eval_batches(self, split: str, hps: Sequence[dict], batch_size: int) -> Iterator[Batch]:
        """`train` is a third fixed draw of the training distribution (n_eval vectors)."""
        self._check_split(split)
        data = self.data[split]
        for s in range(0, data.shape[0], batch_size):
            yield self._batch(data[s:s + batch_size].expand(len(hps), -1, -1))

    def loss(self, out: Tensor, batch: Batch) -> Tensor:
        return (out[:, -1].float() - batch.y).pow(2).mean(dim=(1, 2))

    def eval_sums(self, out: Tensor, batch: Batch) -> dict[str, Tensor]:
        sq = (f64(out[:, -1]) - f64(batch.y)).pow(2).sum(dim=(1, 2))
        n = torch.full_like(sq, float(batch.y.shape[1] * batch.y.shape[2]))
        return {"sq": sq, "count": n}

    def finalize(self, sums: dict[str, Tensor], hps: Sequence[dict]) -> dict[str, Tensor]:
        mse = sums["sq"] / sums["count"].clamp(min=1)
        return {"loss": mse, "metric": mse}
