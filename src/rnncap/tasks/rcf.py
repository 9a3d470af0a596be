"""Random continuous functions (spec §3.3, §9 #18): regress N fixed random
unit-norm inputs onto random N(0,1) targets under power-law sample weights
beta_i = (i + tau)^-1 / Z, i = 1..N."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from torch import Tensor

from .base import Batch, Task, f64, np_rng, save_data

CHUNK = 4096  # samples per independently seeded chunk: sample j depends on (seed, j) only


def power_law_weights(n: int, tau: float) -> np.ndarray:
    """beta_i = (i + tau)^-1 / Z for i = 1..n (float64, sums to 1)."""
    w = 1.0 / (np.arange(1, n + 1, dtype=np.float64) + tau)
    return w / w.sum()


class RCFTask(Task):
    name = "rcf"
    metric_name = "loss"
    higher_is_better = False
    input_kind = "dense"
    DEFAULTS = {"n_samples": 10000, "dim": 50, "tau": 5000.0, "seq_len": 50}
    SPLITS_IDENTICAL = True  # evaluation is on the fixed dataset itself

    @classmethod
    def validate(cls, o: dict[str, Any]) -> None:
        for k in ("n_samples", "dim", "seq_len"):
            cls.require(o[k] >= 1, k, f"must be >= 1, got {o[k]}")
        cls.require(o["tau"] > -1, "tau", f"must be > -1, got {o['tau']}")

    @classmethod
    def layout(cls, o: dict[str, Any]) -> tuple[int, int, Sequence[int]]:
        """A dim-vector in at every step, one number out at the last."""
        return o["dim"], 1, (o["seq_len"] - 1,)

    @classmethod
    def make_data(cls, seed: int, out_dir: Path | str, **options: Any) -> None:
        o = cls.check_options(options)
        n, d = o["n_samples"], o["dim"]
        xs, ys = [], []
        for c in range((n + CHUNK - 1) // CHUNK):
            rng = np_rng(seed, "rcf", c)
            x = rng.standard_normal((CHUNK, d))
            xs.append(x / np.linalg.norm(x, axis=1, keepdims=True))
            ys.append(rng.standard_normal(CHUNK))
        x = np.concatenate(xs)[:n].astype(np.float32)
        y = np.concatenate(ys)[:n].astype(np.float32)
        save_data(out_dir, cls.name, seed, o, {"x": torch.from_numpy(x), "y": torch.from_numpy(y)},
                  {"n_samples": n, "dim": d})

    def __init__(self, data_dir: Path | str, device: str | torch.device = "cpu", **options: Any):
        super().__init__(data_dir, device, **options)
        o = self.options
        self.x, self.y = self.data["x"], self.data["y"]
        self.beta = torch.from_numpy(power_law_weights(o["n_samples"], o["tau"])).to(self.device)
        self._cdf = torch.cumsum(self.beta, 0)

    def _inputs(self, idx: Tensor) -> Tensor:
        """idx (E, B) -> x (E, T, B, dim), the same input at every step."""
        return self.x[idx][:, None].expand(-1, self.seq_len, -1, -1)

    def sample_indices(self, g: torch.Generator, n: int) -> Tensor:
        """n indices drawn with replacement, P(i) = beta_i (inverse CDF of one uniform per draw)."""
        u = torch.rand(n, generator=g, device=self.device, dtype=torch.float64)
        return torch.searchsorted(self._cdf, u, right=True).clamp_(max=self.beta.numel() - 1)

    def train_batch(self, gens: Sequence[torch.Generator], hps: Sequence[dict], batch_size: int) -> Batch:
        """Indices drawn in proportion to beta; the unweighted MSE is then unbiased for the weighted loss."""
        self._check_members(gens, hps)
        idx = torch.stack([self.sample_indices(g, batch_size) for g in gens])
        return Batch(self._inputs(idx), self.y[idx])

    def eval_batches(self, split: str, hps: Sequence[dict], batch_size: int) -> Iterator[Batch]:
        self._check_split(split)
        E, n = len(hps), self.beta.numel()
        for s in range(0, n, batch_size):
            idx = torch.arange(s, min(s + batch_size, n), device=self.device).expand(E, -1)
            yield Batch(self._inputs(idx), self.y[idx], self.beta[idx])

    def loss(self, out: Tensor, batch: Batch) -> Tensor:
        return (out[:, -1, :, 0].float() - batch.y).pow(2).mean(-1)

    def eval_sums(self, out: Tensor, batch: Batch) -> dict[str, Tensor]:
        w = f64(batch.w)
        sq = (f64(out[:, -1, :, 0]) - f64(batch.y)).pow(2)
        return {"wsq": (w * sq).sum(-1), "wsum": w.sum(-1)}

    def finalize(self, sums: dict[str, Tensor], hps: Sequence[dict]) -> dict[str, Tensor]:
        loss = sums["wsq"] / sums["wsum"]  # wsum = 1 over the full set
        return {"loss": loss, "metric": loss}
