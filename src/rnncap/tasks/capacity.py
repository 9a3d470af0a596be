"""Per-parameter capacity (spec §3.1, §9 #1–3): memorise b random binary
vectors -> random bits; the tuner maximises the mutual information
b·(1 − H2(p)) between labels and predictions."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..hpspace import HPDim
from .base import Batch, Task, TaskError, f64, np_rng, save_data

CHUNK = 4096  # samples per independently seeded chunk (prefix stability)
MAX_ENUM_BITS = 24  # up to this n_in, inputs are a prefix of a seeded permutation of all 2**n_in vectors
READOUT_FROM = 4  # "cross entropy evaluated beginning after 5 time steps": 0-based step 4 on
PRESENTATIONS = ("first", "every")


def binary_entropy_bits(p):
    """H2(p) in bits with H2(0) = H2(1) = 0; floats, numpy arrays or tensors."""
    if isinstance(p, Tensor):
        p = p.to(torch.float64) if not p.is_floating_point() else p
        return -(torch.special.xlogy(p, p) + torch.special.xlogy(1 - p, 1 - p)) / math.log(2)
    a = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -(np.where(a > 0, a * np.log2(np.where(a > 0, a, 1)), 0.0)
              + np.where(a < 1, (1 - a) * np.log2(np.where(a < 1, 1 - a, 1)), 0.0))
    return float(h) if h.ndim == 0 else h


def mutual_information_bits(b, p):
    """I(Y; Ŷ) = b·(1 − H2(p)) bits for b equiprobable labels of which a fraction p is right."""
    return b * (1 - binary_entropy_bits(p))


def _bits_of(ints: np.ndarray, n_in: int) -> np.ndarray:
    return ((ints[:, None] >> np.arange(n_in, dtype=np.int64)) & 1).astype(np.uint8)


def make_inputs(seed: int, n_in: int, n: int) -> np.ndarray:
    """(n, n_in) uint8 distinct binary vectors; row j depends on (seed, j) only, not on n."""
    if n_in <= MAX_ENUM_BITS:
        if n > 2 ** n_in:
            raise TaskError(f"capacity.n_samples: {n} > 2**n_in = {2 ** n_in} distinct inputs (n_in = {n_in})")
        perm = np_rng(seed, "capacity-x-perm", n_in).permutation(2 ** n_in)[:n]
        return _bits_of(perm, n_in)
    # a seeded stream of random vectors in chunks; repeats of earlier vectors are dropped
    # (vanishingly rare for n_in > 24, but a repeat with another label would be unlearnable)
    rows: list[np.ndarray] = []
    seen: set[bytes] = set()
    have, c = 0, 0
    while have < n:
        chunk = np_rng(seed, "capacity-x", c).integers(0, 2, size=(CHUNK, n_in), dtype=np.uint8)
        packed = np.packbits(chunk, axis=1)
        keep = np.zeros(CHUNK, dtype=bool)
        for i in range(CHUNK):
            k = packed[i].tobytes()
            if k not in seen:
                seen.add(k)
                keep[i] = True
        rows.append(chunk[keep])
        have += int(keep.sum())
        c += 1
    return np.concatenate(rows)[:n]


def make_labels(seed: int, n: int) -> np.ndarray:
    """(n,) uint8 random bits, chunked so that bit j depends on (seed, j) only."""
    chunks = [np_rng(seed, "capacity-y", c).integers(0, 2, size=CHUNK, dtype=np.uint8)
              for c in range((n + CHUNK - 1) // CHUNK)]
    return np.concatenate(chunks)[:n] if chunks else np.zeros(0, np.uint8)


class CapacityTask(Task):
    name = "capacity"
    metric_name = "mi_bits"
    higher_is_better = True
    input_kind = "dense"
    DEFAULTS = {"n_in": 32, "seq_len": 5, "n_samples": 100000}
    SPLITS_IDENTICAL = True  # spec §3: train = valid = eval for this task

    @classmethod
    def validate(cls, o: dict[str, Any]) -> None:
        for k in ("n_in", "seq_len", "n_samples"):
            cls.require(o[k] >= 1, k, f"must be >= 1, got {o[k]}")
        if o["n_in"] <= MAX_ENUM_BITS:
            cls.require(o["n_samples"] <= 2 ** o["n_in"], "n_samples",
                        f"{o['n_samples']} > 2**n_in = {2 ** o['n_in']} distinct inputs (n_in = {o['n_in']})")

    @classmethod
    def layout(cls, o: dict[str, Any]) -> tuple[int, int, Sequence[int]]:
        """n_in bits in, 2 classes out, read from step READOUT_FROM on (the last step if T is shorter)."""
        T = o["seq_len"]
        return o["n_in"], 2, range(READOUT_FROM, T) if T > READOUT_FROM else (T - 1,)

    @classmethod
    def make_data(cls, seed: int, out_dir: Path | str, **options: Any) -> None:
        o = cls.check_options(options)
        x = make_inputs(seed, o["n_in"], o["n_samples"])
        y = make_labels(seed, o["n_samples"])
        save_data(out_dir, cls.name, seed, o, {"x": torch.from_numpy(x), "y": torch.from_numpy(y)},
                  {"n_samples": o["n_samples"], "n_in": o["n_in"]})

    def __init__(self, data_dir: Path | str, device: str | torch.device = "cpu", **options: Any):
        super().__init__(data_dir, device, **options)
        self.n_samples = self.options["n_samples"]
        self.x = self.data["x"]  # (N, n_in) uint8
        self.y = self.data["y"].long()  # (N,)

    @classmethod
    def hp_space(cls) -> list[HPDim]:
        return [HPDim("b_ratio", "float", 0.1, 10.0, log=True), HPDim("presentation", "cat", choices=PRESENTATIONS)]

    def resolve_hps(self, hp: dict[str, Any], n_params: int) -> dict[str, Any]:
        for k in ("b_ratio", "presentation"):
            if k not in hp:
                raise TaskError(f"capacity: task HP {k!r} missing")
        if hp["presentation"] not in PRESENTATIONS:
            raise TaskError(f"capacity: presentation must be one of {PRESENTATIONS}, got {hp['presentation']!r}")
        b = min(max(int(round(float(hp["b_ratio"]) * int(n_params))), 1), self.n_samples)
        return {"b": b, "presentation": hp["presentation"]}

    # -- batches ------------------------------------------------------------
    def _inputs(self, idx: Tensor, hps: Sequence[dict]) -> Tensor:
        """idx (E, B) sample indices -> x (E, T, B, n_in), shown at t=0 or at every step."""
        xs = self.x[idx].to(torch.float32)  # (E, B, n_in)
        every = torch.tensor([h["presentation"] == "every" for h in hps], device=self.device)
        t = torch.arange(self.seq_len, device=self.device)
        show = ((t == 0)[None, :] | every[:, None]).to(torch.float32)  # (E, T)
        return xs[:, None] * show[:, :, None, None]

    def train_batch(self, gens: Sequence[torch.Generator], hps: Sequence[dict], batch_size: int) -> Batch:
        self._check_members(gens, hps)
        dev = self.device
        # full-batch training when every member's set fits: no rows beyond the largest b
        # (a batch_size sized for the largest b of a sweep would otherwise pad small-b runs)
        b_max = max(int(h["b"]) for h in hps)
        B = b_max if b_max <= batch_size else batch_size
        ar = torch.arange(B, device=dev)
        idx, w = [], []
        for g, h in zip(gens, hps):
            b = int(h["b"])
            if b <= B:  # the whole set, each sample once (padding rows weigh 0)
                idx.append(ar % b)
                w.append((ar < b).to(torch.float32))
            else:
                idx.append(torch.randint(0, b, (B,), generator=g, device=dev))
                w.append(torch.ones(B, device=dev))
        idx_t = torch.stack(idx)
        return Batch(self._inputs(idx_t, hps), self.y[idx_t], torch.stack(w))

    def eval_batches(self, split: str, hps: Sequence[dict], batch_size: int) -> Iterator[Batch]:
        self._check_split(split)
        E, dev = len(hps), self.device
        bs = torch.tensor([int(h["b"]) for h in hps], device=dev)
        n = int(bs.max())
        for start in range(0, n, batch_size):
            rows = torch.arange(start, min(start + batch_size, n), device=dev)
            idx = rows.expand(E, -1)
            w = (rows[None, :] < bs[:, None]).to(torch.float32)
            yield Batch(self._inputs(idx, hps), self.y[idx], w)

    # -- losses -------------------------------------------------------------
    @staticmethod
    def _nll(out: Tensor, y: Tensor) -> Tensor:
        """(E, B) CE averaged over readout steps."""
        logp = F.log_softmax(out.float(), dim=-1)  # (E, R, B, 2)
        tgt = y[:, None, :, None].expand(-1, logp.shape[1], -1, 1)
        return -logp.gather(-1, tgt).squeeze(-1).mean(1)

    def loss(self, out: Tensor, batch: Batch) -> Tensor:
        w = batch.w
        return (self._nll(out, batch.y) * w).sum(-1) / w.sum(-1).clamp(min=1)

    def eval_sums(self, out: Tensor, batch: Batch) -> dict[str, Tensor]:
        w = f64(batch.w)
        right = (out[:, -1].argmax(-1) == batch.y).to(torch.float64)  # last step decides
        return {"nll": (f64(self._nll(out, batch.y)) * w).sum(-1), "correct": (right * w).sum(-1),
                "count": w.sum(-1)}

    def finalize(self, sums: dict[str, Tensor], hps: Sequence[dict]) -> dict[str, Tensor]:
        n = sums["count"].clamp(min=1)
        p = sums["correct"] / n
        b = torch.tensor([float(h["b"]) for h in hps], dtype=torch.float64, device=p.device)
        return {"loss": sums["nll"] / n, "metric": mutual_information_bits(b, p), "accuracy": p, "b": b}
