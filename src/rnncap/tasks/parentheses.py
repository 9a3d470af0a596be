"""Parentheses counting (spec §3.5, §9 #20): 10 independent streams; stream k
counts the unclosed parens of type k (clamped to 0..9) and is scored by a
10-way softmax at the final step only.

Symbols of one stream (30): 0..9 open type 0..9, 10..19 close type 0..9,
20..29 noise. Stream k's input index is 30*k + symbol (n_in = 300)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .base import Batch, Task, f64, np_rng, save_data

N_TYPES = 10  # paren types = streams
N_NOISE = 10
N_SYMBOLS = 2 * N_TYPES + N_NOISE  # 30 per stream
MAX_COUNT = 9  # counts saturate here; 10 output classes 0..9
N_CLASSES = MAX_COUNT + 1
# one draw in [0, 40): 0..19 a paren symbol (P = 0.5, uniform over 20), 20..39 -> noise 20..29 (P = 0.5)
_DRAW = 4 * N_TYPES
_BIG = 1 << 20  # "no bound" in the identity map


_SYMBOL_OF_DRAW = [*range(2 * N_TYPES), *(2 * N_TYPES + i // 2 for i in range(2 * N_NOISE))]


def symbols_from_draws(u):
    """Uniform draws in [0, 40) -> stream symbols: paren u (u < 20) or noise 20 + (u - 20) // 2."""
    if isinstance(u, np.ndarray):
        return np.asarray(_SYMBOL_OF_DRAW, dtype=np.int64)[u]
    return torch.tensor(_SYMBOL_OF_DRAW, device=u.device)[u]


def paren_counts(symbols: Tensor) -> Tensor:
    """Counts after every step: symbols (..., T, N_TYPES) stream symbols -> (..., T, N_TYPES) int64.

    Stream k's count rises on symbol k (open), falls on 10 + k (close), stays in [0, 9]."""
    s = torch.as_tensor(symbols)
    delta = _steps(s, torch.long)
    c = torch.zeros(delta.shape[:-2] + delta.shape[-1:], dtype=torch.long, device=s.device)
    out = []
    for t in range(s.shape[-2]):
        c = (c + delta[..., t, :]).clamp_(0, MAX_COUNT)
        out.append(c)
    return torch.stack(out, -2)


def _steps(s: Tensor, dtype: torch.dtype) -> Tensor:
    """Per-step count change of each stream: +1 on its open symbol, -1 on its close symbol."""
    k = torch.arange(N_TYPES, device=s.device)
    return (s == k).to(dtype) - (s == k + N_TYPES).to(dtype)


def final_counts(symbols: Tensor, method: str = "auto") -> Tensor:
    """(..., T, N_TYPES) symbols -> (..., N_TYPES) int64 counts after the last step.

    "loop": T in-place steps on int8 (fastest on CPU). "tree": O(log T) tensor ops (fewer kernel
    launches on a GPU): each step is the map c -> clamp(c + d, 0, 9), and maps of the form
    clamp(c + s, lo, hi) are closed under composition, so adjacent steps are merged pairwise.
    "auto": loop on CPU, tree elsewhere. Both equal paren_counts(...)[..., -1, :]."""
    s = torch.as_tensor(symbols)
    if method == "auto":
        method = "loop" if s.device.type == "cpu" else "tree"
    if method == "loop":
        d = _steps(s, torch.int8)
        c = torch.zeros(d.shape[:-2] + d.shape[-1:], dtype=torch.int8, device=s.device)
        for t in range(d.shape[-2]):
            c.add_(d[..., t, :]).clamp_(0, MAX_COUNT)
        return c.long()
    if method != "tree":
        raise ValueError(f"method must be 'auto', 'loop' or 'tree', got {method!r}")
    shift = _steps(s, torch.int32)
    lo, hi = torch.zeros_like(shift), torch.full_like(shift, MAX_COUNT)
    while shift.shape[-2] > 1:
        if shift.shape[-2] % 2:  # pad with the identity map
            pad = lambda v, fill: torch.cat([v, torch.full_like(v[..., :1, :], fill)], -2)  # noqa: E731
            shift, lo, hi = pad(shift, 0), pad(lo, -_BIG), pad(hi, _BIG)
        s1, s2 = shift[..., 0::2, :], shift[..., 1::2, :]
        l1, l2 = lo[..., 0::2, :], lo[..., 1::2, :]
        h1, h2 = hi[..., 0::2, :], hi[..., 1::2, :]
        shift = s1 + s2  # the earlier map (1) first, then (2)
        lo = torch.minimum(torch.maximum(l1 + s2, l2), h2)
        hi = torch.minimum(torch.maximum(h1 + s2, l2), h2)
    return torch.minimum(torch.maximum(shift[..., 0, :], lo[..., 0, :]), hi[..., 0, :]).long()


class ParenthesesTask(Task):
    name = "parentheses"
    metric_name = "loss"
    higher_is_better = False
    input_kind = "index"
    active_inputs = N_TYPES  # one symbol of each stream per step
    DEFAULTS = {"seq_len": 175, "n_eval": 1024}

    @classmethod
    def validate(cls, o: dict[str, Any]) -> None:
        for k in ("seq_len", "n_eval"):
            cls.require(o[k] >= 1, k, f"must be >= 1, got {o[k]}")

    @classmethod
    def layout(cls, o: dict[str, Any]) -> tuple[int, int, Sequence[int]]:
        """10 streams of 30 symbols in, 10 count classes per stream out at the last step."""
        return N_TYPES * N_SYMBOLS, N_TYPES * N_CLASSES, (o["seq_len"] - 1,)

    @classmethod
    def make_data(cls, seed: int, out_dir: Path | str, **options: Any) -> None:
        o = cls.check_options(options)
        sets = {}
        for i, s in enumerate(cls.SPLITS):  # (n_eval, T, 10) symbols; 'train' is a fixed draw too
            u = np_rng(seed, "parentheses", i).integers(0, _DRAW, size=(o["n_eval"], o["seq_len"], N_TYPES))
            sets[s] = torch.from_numpy(symbols_from_draws(u).astype(np.uint8))
        save_data(out_dir, cls.name, seed, o, sets, {"n_eval": o["n_eval"], "seq_len": o["seq_len"]})

    def __init__(self, data_dir: Path | str, device: str | torch.device = "cpu", **options: Any):
        super().__init__(data_dir, device, **options)
        self._offset = torch.arange(N_TYPES, device=self.device) * N_SYMBOLS
        self._symbol_of_draw = torch.tensor(_SYMBOL_OF_DRAW, device=self.device)
        self._counts = {s: final_counts(self.data[s]) for s in self.SPLITS}

    def _batch(self, sym: Tensor, counts: Tensor) -> Batch:
        """sym (E, B, T, 10) -> x (E, T, B, 10) indices 30*k + symbol; y (E, B, 10) final counts."""
        x = sym.long().transpose(1, 2) + self._offset
        return Batch(x.contiguous(), counts)

    def train_batch(self, gens: Sequence[torch.Generator], hps: Sequence[dict], batch_size: int) -> Batch:
        self._check_members(gens, hps)
        u = torch.stack([torch.randint(0, _DRAW, (batch_size, self.seq_len, N_TYPES), generator=g,
                                       device=self.device) for g in gens])
        sym = self._symbol_of_draw[u]  # = symbols_from_draws(u)
        return self._batch(sym, final_counts(sym))

    def eval_batches(self, split: str, hps: Sequence[dict], batch_size: int) -> Iterator[Batch]:
        self._check_split(split)
        E, sym, cnt = len(hps), self.data[split], self._counts[split]
        for s in range(0, sym.shape[0], batch_size):
            yield self._batch(sym[s:s + batch_size].expand(E, -1, -1, -1), cnt[s:s + batch_size].expand(E, -1, -1))

    def _nll(self, out: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """(E, B) CE summed over the 10 streams, and (E, B, 10) logits at the final step."""
        E, _, B, _ = out.shape
        logits = out[:, -1].float().reshape(E, B, N_TYPES, N_CLASSES)
        nll = -F.log_softmax(logits, -1).gather(-1, y.unsqueeze(-1)).squeeze(-1)
        return nll.sum(-1), logits

    def loss(self, out: Tensor, batch: Batch) -> Tensor:
        return self._nll(out, batch.y)[0].mean(-1)

    def eval_sums(self, out: Tensor, batch: Batch) -> dict[str, Tensor]:
        nll, logits = self._nll(out, batch.y)
        right = (logits.argmax(-1) == batch.y).to(torch.float64)
        B = batch.y.shape[1]
        return {"nll": f64(nll).sum(-1), "correct": right.sum(dim=(1, 2)),
                "n_seq": torch.full_like(right[:, 0, 0], float(B)),
                "n_streams": torch.full_like(right[:, 0, 0], float(B * N_TYPES))}

    def finalize(self, sums: dict[str, Tensor], hps: Sequence[dict]) -> dict[str, Tensor]:
        loss = sums["nll"] / sums["n_seq"].clamp(min=1)
        return {"loss": loss, "metric": loss, "accuracy": sums["correct"] / sums["n_streams"].clamp(min=1)}
