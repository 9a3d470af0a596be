"""The six recurrent cells of Collins et al. (2017), spec/paper.md §2.2.

Every cell is written once, over *stacked* weights with a leading ensemble
dimension E, so the same code trains one model (E = 1) or many HP trials at
once. A cell is a pure step function

    step(xp_t, h, W_h, extra) -> (new_state, layer_output)

where ``xp_t`` is the already-computed input projection ``x_t W_x + b (+ b_fg)``
of shape (E, B, G*n) (hoisted out of the time loop, see
notes/training-speed.md §3) and ``W_h`` is (E, n, G*n).

Block order inside the G*n columns is fixed per cell (``CellSpec.blocks``) and
is what the per-block HP scales (spec §9 #10) refer to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

CELLS = ("rnn", "irnn", "ugrnn", "gru", "lstm", "plus")


@dataclass(frozen=True)
class CellSpec:
    """Static facts about a cell that counting, init and HP spaces need."""

    name: str
    blocks: tuple[str, ...]  # gate/candidate blocks, in column order
    gate_blocks: tuple[str, ...]  # blocks that receive the b_fg offset
    state_vectors: int  # learned initial-state vectors per layer (LSTM: c0 and h0)
    candidate_blocks: tuple[str, ...]  # blocks squashed by the tunable s (tanh/ReLU)
    label: str  # how figures and tables name it
    min_depth: int = 1

    @property
    def G(self) -> int:
        return len(self.blocks)


SPECS: dict[str, CellSpec] = {
    "rnn": CellSpec("rnn", ("h",), (), 1, ("h",), "RNN"),
    "irnn": CellSpec("irnn", ("h",), (), 1, ("h",), "IRNN"),
    "ugrnn": CellSpec("ugrnn", ("c", "g"), ("g",), 1, ("c",), "UGRNN"),
    "gru": CellSpec("gru", ("r", "u", "c"), ("u",), 1, ("c",), "GRU"),
    "lstm": CellSpec("lstm", ("i", "f", "c", "o"), ("f",), 2, ("c",), "LSTM"),
    # +RNN: yin (ReLU, fixed), hin (tanh, fixed), depth gate gy, time gate gh.
    "plus": CellSpec("plus", ("y", "hh", "gy", "gh"), ("gy", "gh"), 1, (), "+RNN", min_depth=2),
}


class CellError(ValueError):
    """An unknown cell or an impossible cell configuration."""


def spec(cell: str) -> CellSpec:
    try:
        return SPECS[cell]
    except KeyError:
        raise CellError(f"unknown cell {cell!r}; expected one of {', '.join(CELLS)}") from None


def check_depth(cell: str, depth: int) -> None:
    s = spec(cell)
    if depth < 1:
        raise CellError(f"depth must be >= 1, got {depth}")
    if depth < s.min_depth:
        raise CellError(
            f"cell {cell!r} needs depth >= {s.min_depth} (the paper excludes depth-1 +RNNs: "
            "its depth gate only applies between layers of equal width)"
        )


Nonlin = Callable[[Tensor], Tensor]


class _SigmoidTanh(torch.autograd.Function):
    """tanh(z) = 2·sigmoid(2z) − 1 with tanh's own backward.

    On x86 CPUs torch's vectorised sigmoid is ~6x faster than its tanh (0.13 vs
    0.86 ms for 8000x35 floats, 1 thread), and tanh is a quarter of a capacity
    step; the identity is exact up to ~2e-7 absolute in float32.
    """

    @staticmethod
    def forward(ctx, z: Tensor) -> Tensor:  # type: ignore[override]
        y = torch.sigmoid(z * 2).mul_(2).sub_(1)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        (y,) = ctx.saved_tensors
        return torch.ops.aten.tanh_backward(grad, y)


def tanh(z: Tensor) -> Tensor:
    """The cells' tanh: the sigmoid identity on CPU, torch.tanh elsewhere (fused kernels win there)."""
    return _SigmoidTanh.apply(z) if z.device.type == "cpu" else torch.tanh(z)


def _mm(h: Tensor, W: Tensor) -> Tensor:
    return torch.bmm(h, W)


def step_rnn(xp: Tensor, state: tuple[Tensor, ...], W_h: Tensor, s: Nonlin):
    (h,) = state
    h = s(xp + _mm(h, W_h))
    return (h,), h


def step_ugrnn(xp: Tensor, state: tuple[Tensor, ...], W_h: Tensor, s: Nonlin):
    (h,) = state
    z = xp + _mm(h, W_h)
    c, g = z.chunk(2, dim=-1)
    g = torch.sigmoid(g)
    h = g * h + (1 - g) * s(c)
    return (h,), h


def step_gru(xp: Tensor, state: tuple[Tensor, ...], W_h: Tensor, s: Nonlin):
    # Paper form (Cho et al.): the reset gate multiplies h *before* the matrix.
    (h,) = state
    n = h.shape[-1]
    ru = torch.sigmoid(xp[..., : 2 * n] + _mm(h, W_h[..., : 2 * n]))
    r, u = ru.chunk(2, dim=-1)
    c = s(xp[..., 2 * n :] + _mm(r * h, W_h[..., 2 * n :]))
    h = u * h + (1 - u) * c
    return (h,), h


def step_lstm(xp: Tensor, state: tuple[Tensor, ...], W_h: Tensor, s: Nonlin):
    h, c = state
    z = xp + _mm(h, W_h)
    i, f, cin, o = z.chunk(4, dim=-1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * s(cin)
    h = torch.sigmoid(o) * tanh(c)
    return (h, c), h


def step_plus(xp: Tensor, state: tuple[Tensor, ...], W_h: Tensor, s: Nonlin, x: Tensor):
    """+RNN also needs the layer input x_t itself, for its depth gate."""
    (h,) = state
    z = xp + _mm(h, W_h)
    y, hh, gy, gh = z.chunk(4, dim=-1)
    gy = torch.sigmoid(gy)
    gh = torch.sigmoid(gh)
    y = gy * x + (1 - gy) * torch.relu(y)  # s1 = ReLU (paper: "in practice")
    h = gh * h + (1 - gh) * tanh(hh)  # s2 = tanh
    return (h,), y


STEPS = {
    "rnn": step_rnn,
    "irnn": step_rnn,
    "ugrnn": step_ugrnn,
    "gru": step_gru,
    "lstm": step_lstm,
    "plus": step_plus,
}
