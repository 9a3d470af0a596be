"""Arithmetic (spec §3.6, §9 #21): read `a+b=` one character per step, wait
compute_steps blank steps, then emit a+b right-aligned in a 10-character
field (blank padding, '-' sign) over the last 10 steps.

Layout of one sequence (T = seq_len = 36):
    [blanks][a+b=][compute_steps blanks][10 blank inputs while the answer is read out]
The longest expression is 20 characters (-10000000+-10000000=), so 20 + 6 + 10 = 36."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..hpspace import HPDim
from .base import Batch, Task, TaskError, f64, np_rng, save_data

INPUT_ALPHABET = "0123456789 +-="  # index = position; ' ' is the blank input
OUTPUT_ALPHABET = "0123456789 -"
BLANK = 10  # ' ' in both alphabets
IN_PLUS, IN_MINUS, IN_EQUALS = 11, 12, 13
OUT_MINUS = 11
MAX_OPERAND = 10 ** 7  # operands uniform in [-1e7, 1e7]
ANSWER_WIDTH = 10  # sign + 9 digits
MAX_EXPR = 2 * len(str(-MAX_OPERAND)) + 2  # 20
MIN_COMPUTE, MAX_COMPUTE = 1, 6
N_DIGITS = 9  # digits rendered per number (|a+b| <= 2e7 has 8)


# -- pure helpers (strings), for tests and inspection --------------------------------
def encode_problem(a: int, b: int, compute_steps: int, seq_len: int = 36) -> str:
    """The input string of one sequence (length seq_len)."""
    expr = f"{a}+{b}="
    pad = seq_len - ANSWER_WIDTH - compute_steps - len(expr)
    if pad < 0:
        raise TaskError(f"arithmetic.seq_len: {seq_len} too short for {expr!r} with {compute_steps} compute steps")
    return " " * pad + expr + " " * (compute_steps + ANSWER_WIDTH)


def answer_string(total: int) -> str:
    """The 10-character target field of a sum."""
    return f"{total:>{ANSWER_WIDTH}d}"


def decode(indices, alphabet: str = OUTPUT_ALPHABET) -> str:
    return "".join(alphabet[int(i)] for i in indices)


def decode_answer(indices) -> int | None:
    """Output indices of the answer field -> the integer (None if not a well-formed answer)."""
    s = decode(indices).strip()
    return int(s) if re.fullmatch(r"-?\d+", s) else None


# -- vectorised rendering ------------------------------------------------------------
def _from_right(v: Tensor, minus: int) -> tuple[Tensor, Tensor]:
    """v (...,) ints -> (chars (..., N_DIGITS + 1) listed from the right, length (...,)).

    chars[..., j] is the j-th character from the right of str(v) (digits, then '-'), BLANK past the end."""
    mag = v.abs()
    p10 = 10 ** torch.arange(N_DIGITS, device=v.device)
    digits = (mag[..., None] // p10) % 10  # (..., 9) least significant first
    nd = torch.ones_like(mag)
    for j in range(1, N_DIGITS):
        nd += (mag >= 10 ** j).long()
    neg = (v < 0).long()
    j = torch.arange(N_DIGITS + 1, device=v.device)
    digits = torch.cat([digits, torch.zeros_like(digits[..., :1])], -1)
    chars = torch.where(j < nd[..., None], digits,
                        torch.where((j == nd[..., None]) & (neg[..., None] == 1), minus, BLANK))
    return chars, nd + neg


def render_answers(total: Tensor) -> Tensor:
    """(...,) sums -> (..., 10) output indices, right-aligned with blank padding."""
    chars, _ = _from_right(total, OUT_MINUS)
    return chars[..., :ANSWER_WIDTH].flip(-1)


def render_inputs(a: Tensor, b: Tensor, compute: Tensor, seq_len: int) -> Tensor:
    """a, b (E, B), compute (E,) -> (E, T, B) input indices."""
    E, B = a.shape
    ra, la = _from_right(a, IN_MINUS)  # (E, B, 10) chars from the right, (E, B) lengths
    rb, lb = _from_right(b, IN_MINUS)
    la, lb = la[..., None], lb[..., None]
    j = torch.arange(MAX_EXPR, device=a.device).expand(E, B, MAX_EXPR)  # position from the right of `a+b=`
    in_b = rb.gather(-1, (j - 1).clamp(0, N_DIGITS))
    in_a = ra.gather(-1, (j - lb - 2).clamp(0, N_DIGITS))
    expr = torch.where(j == 0, IN_EQUALS,
                       torch.where(j - 1 < lb, in_b,
                                   torch.where(j - 1 == lb, IN_PLUS,
                                               torch.where(j - lb - 2 < la, in_a, BLANK))))  # (E, B, 20)
    eq = seq_len - ANSWER_WIDTH - 1 - compute  # (E,) step of '='
    t = torch.arange(seq_len, device=a.device)
    back = eq[:, None] - t[None, :]  # (E, T) position from the right of the expression
    inside = (back >= 0) & (back < MAX_EXPR)
    idx = back.clamp(0, MAX_EXPR - 1)[:, :, None].expand(-1, -1, B)  # (E, T, B)
    x = expr.transpose(1, 2).gather(1, idx)  # expr (E, MAX_EXPR, B) -> (E, T, B)
    return torch.where(inside[:, :, None], x, BLANK)


class ArithmeticTask(Task):
    name = "arithmetic"
    metric_name = "loss"
    higher_is_better = False
    input_kind = "index"
    DEFAULTS = {"seq_len": 36, "n_eval": 1024}

    @classmethod
    def validate(cls, o: dict[str, Any]) -> None:
        need = MAX_EXPR + MAX_COMPUTE + ANSWER_WIDTH
        cls.require(o["seq_len"] >= need, "seq_len",
                    f"{o['seq_len']} is too short; the longest problem needs "
                    f"{MAX_EXPR} + {MAX_COMPUTE} compute + {ANSWER_WIDTH} answer = {need} steps")
        cls.require(o["n_eval"] >= 1, "n_eval", f"must be >= 1, got {o['n_eval']}")

    @classmethod
    def layout(cls, o: dict[str, Any]) -> tuple[int, int, Sequence[int]]:
        """One input character in per step, one answer character out at each of the last 10 steps."""
        T = o["seq_len"]
        return len(INPUT_ALPHABET), len(OUTPUT_ALPHABET), range(T - ANSWER_WIDTH, T)

    @classmethod
    def make_data(cls, seed: int, out_dir: Path | str, **options: Any) -> None:
        o = cls.check_options(options)
        sets = {s: torch.from_numpy(np_rng(seed, "arithmetic", i).integers(
            -MAX_OPERAND, MAX_OPERAND, size=(2, o["n_eval"]), endpoint=True).astype(np.int32))
            for i, s in enumerate(cls.SPLITS)}  # (2, n_eval) operands a, b; 'train' is a fixed draw too
        save_data(out_dir, cls.name, seed, o, sets, {"n_eval": o["n_eval"]})

    @classmethod
    def hp_space(cls) -> list[HPDim]:
        return [HPDim("compute_steps", "int", MIN_COMPUTE, MAX_COMPUTE)]

    def resolve_hps(self, hp: dict[str, Any], n_params: int) -> dict[str, Any]:
        if "compute_steps" not in hp:
            raise TaskError("arithmetic: task HP 'compute_steps' missing")
        c = int(hp["compute_steps"])
        if not MIN_COMPUTE <= c <= MAX_COMPUTE:
            raise TaskError(f"arithmetic: compute_steps must be in [{MIN_COMPUTE}, {MAX_COMPUTE}], got {c}")
        return {"compute_steps": c}

    def _batch(self, a: Tensor, b: Tensor, hps: Sequence[dict]) -> Batch:
        """a, b (E, B) int64 -> x (E, T, B, 1), y (E, B, 10) answer indices."""
        compute = torch.tensor([int(h["compute_steps"]) for h in hps], device=self.device)
        x = render_inputs(a, b, compute, self.seq_len)
        return Batch(x.unsqueeze(-1), render_answers(a + b))

    def train_batch(self, gens: Sequence[torch.Generator], hps: Sequence[dict], batch_size: int) -> Batch:
        self._check_members(gens, hps)
        ab = torch.stack([torch.randint(-MAX_OPERAND, MAX_OPERAND + 1, (2, batch_size), generator=g,
                                        device=self.device) for g in gens])
        return self._batch(ab[:, 0], ab[:, 1], hps)

    def eval_batches(self, split: str, hps: Sequence[dict], batch_size: int) -> Iterator[Batch]:
        self._check_split(split)
        ab, E = self.data[split].long(), len(hps)
        for s in range(0, ab.shape[1], batch_size):
            part = ab[:, s:s + batch_size]
            yield self._batch(part[0].expand(E, -1), part[1].expand(E, -1), hps)

    @staticmethod
    def _nll(out: Tensor, y: Tensor) -> Tensor:
        """(E, B) CE averaged over the 10 answer positions; out (E, 10, B, 12), y (E, B, 10)."""
        logp = F.log_softmax(out.float(), -1)
        return -logp.gather(-1, y.transpose(1, 2).unsqueeze(-1)).squeeze(-1).mean(1)

    def loss(self, out: Tensor, batch: Batch) -> Tensor:
        return self._nll(out, batch.y).mean(-1)

    def eval_sums(self, out: Tensor, batch: Batch) -> dict[str, Tensor]:
        right = (out.argmax(-1).transpose(1, 2) == batch.y).all(-1).to(torch.float64)  # (E, B)
        return {"nll": f64(self._nll(out, batch.y)).sum(-1), "correct": right.sum(-1),
                "count": torch.full_like(right[:, 0], float(batch.y.shape[1]))}

    def finalize(self, sums: dict[str, Tensor], hps: Sequence[dict]) -> dict[str, Tensor]:
        n = sums["count"].clamp(min=1)
        return {"loss": sums["nll"] / n, "metric": sums["nll"] / n, "accuracy": sums["correct"] / n}
