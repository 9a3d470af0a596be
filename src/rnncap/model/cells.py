"""The six recurrent cells of Collins et al. (2017), docs/method.md §2.2.

Every cell is written once, over *stacked* weights with a leading ensemble
dimension E, so the same code trains one model (E = 1) or many HP trials at
once. A cell is a pure step function

    step(xp_t, h, W_h, extra) -> (new_state, layer_output)

where ``xp_t`` is the already-computed input projection ``x_t W_x + b (+ b_fg)``
of shape (E, B, G*n) (hoisted out of the time loop, see
docs/performance.md) and ``W_h`` is (E, n, G*n).

Block order inside the G*n columns is fixed per cell (``CellSpec.blocks``) and
is what the per-block HP scales (docs/choices.md #10) refer to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor


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


# --------------------------------------------------------------------------- the cells' specs

@dataclass(frozen=True)
class CellSpec:
    """Everything that differs between cells, so that no other module tests a cell's name.

    Counting, the ensemble's forward pass, initialisation and the HP space read these
    fields; adding a cell is one step function above plus one entry in SPECS below.
    """

    name: str
    label: str  # how figures and tables name it
    step: Callable  # step(xp_t, state, W_h, s[, x_t]) -> (state, layer output)
    blocks: tuple[str, ...]  # gate/candidate blocks, in column order
    gates: tuple[tuple[str, str], ...] = ()  # (block, HP) pairs: blocks whose sigmoid gets a b_fg offset
    state_vectors: int = 1  # learned initial-state vectors per layer (LSTM: h0 and c0)
    nonlinearities: tuple[str, ...] = ("tanh", "relu")  # choices of s(.); one = fixed; () = fixed in `step`
    square_inits: tuple[str, ...] = ("identity", "orthogonal", "normal")  # recurrent-block init choices
    identity_init: bool = False  # IRNN: recurrent blocks start at I and biases at 0, neither searched
    input_projection: bool = False  # +RNN: a learned projection of the input to the width, and `step`
    #                                 also reads the layer input x_t (its depth gate)
    min_depth: int = 1

    @property
    def G(self) -> int:
        return len(self.blocks)

    @property
    def gate_blocks(self) -> tuple[str, ...]:
        return tuple(b for b, _ in self.gates)


SPECS: dict[str, CellSpec] = {
    # the identity init is what makes an IRNN, so the RNN may not use it
    "rnn": CellSpec("rnn", "RNN", step_rnn, ("h",), square_inits=("orthogonal", "normal")),
    "irnn": CellSpec("irnn", "IRNN", step_rnn, ("h",), nonlinearities=("relu",), square_inits=(),
                     identity_init=True),
    "ugrnn": CellSpec("ugrnn", "UGRNN", step_ugrnn, ("c", "g"), gates=(("g", "b_fg"),)),
    "gru": CellSpec("gru", "GRU", step_gru, ("r", "u", "c"), gates=(("u", "b_fg"),)),
    "lstm": CellSpec("lstm", "LSTM", step_lstm, ("i", "f", "c", "o"), gates=(("f", "b_fg"),), state_vectors=2),
    # +RNN: y (ReLU) and hh (tanh) fixed by the paper, depth gate gy, time gate gh; its depth gate
    # mixes layers of equal width, so the paper never runs it at depth 1
    "plus": CellSpec("plus", "+RNN", step_plus, ("y", "hh", "gy", "gh"), gates=(("gy", "b_fg_y"), ("gh", "b_fg_h")),
                     nonlinearities=(), input_projection=True, min_depth=2),
}
CELLS: tuple[str, ...] = tuple(SPECS)
