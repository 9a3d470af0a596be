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

A cell may also have a whole-layer kernel (``CellSpec.layer``: the LSTM's, all T steps
as one autograd node backpropagated by hand) and a PyTorch op for the same layer
(``CellSpec.native``: ``torch.lstm``, per member), the same equations as its step; the
ensemble runs them on CPU in eager mode (``Ensemble._fused``, ``Ensemble._native``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable


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
    # split, not two slices: the backward is one concatenation, not a zero-filled gradient per slice
    xp_ru, xp_c = xp.split((2 * n, n), dim=-1)
    W_ru, W_c = W_h.split((2 * n, n), dim=-1)
    ru = torch.sigmoid(xp_ru + _mm(h, W_ru))
    r, u = ru.chunk(2, dim=-1)
    c = s(xp_c + _mm(r * h, W_c))
    h = u * h + (1 - u) * c
    return (h,), h


def step_lstm(xp: Tensor, state: tuple[Tensor, ...], W_h: Tensor, s: Nonlin):
    h, c = state
    z = torch.baddbmm(xp, h, W_h)
    i, f, _, o = torch.sigmoid(z).chunk(4, dim=-1)  # one sigmoid over all blocks, candidate's unused
    c = f * c + i * s(z[..., 2 * c.shape[-1] : 3 * c.shape[-1]])
    h = o * tanh(c)
    return (h, c), h


def _candidate(z: Tensor, out: Tensor, relu: Tensor | None, mode: str) -> None:
    """out = s(z) for the LSTM's candidate block, s per member (relu: (E, 1, 1) mask)."""
    if mode == "tanh":
        torch.tanh(z, out=out)
    elif mode == "relu":
        torch.clamp_min(z, 0, out=out)
    else:
        torch.where(relu, torch.relu(z), torch.tanh(z), out=out)


def lstm_sequence(xp: Tensor, W_h: Tensor, h0: Tensor, c0: Tensor, relu: Tensor | None, mode: str,
                  save: bool = False) -> tuple[Tensor, list[Tensor], list[Tensor], list[Tensor]]:
    """The LSTM's T steps (step_lstm's equations) without autograd: hs (E, T, B, n), and with
    `save` the per-step gate activations a = [σ(i), σ(f), s(c), σ(o)] (E, B, 4n), cells c and
    tanh(c) that `_LSTMLayer.backward` reads (per step: whole-sequence buffers leave the cache)."""
    E, T, B, G = xp.shape
    n = G // 4
    hs = xp.new_empty(E, T, B, n)
    acts: list[Tensor] = []
    cells: list[Tensor] = [c0]
    tcs: list[Tensor] = []
    h, c = h0, c0
    for t in range(T):
        z = torch.baddbmm(xp[:, t], h, W_h)
        a = torch.sigmoid(z)  # one contiguous sigmoid over the four blocks ...
        _candidate(z[..., 2 * n : 3 * n], a[..., 2 * n : 3 * n], relu, mode)  # ... then s(.) on c's
        c = torch.mul(a[..., n : 2 * n], c).addcmul_(a[..., :n], a[..., 2 * n : 3 * n])
        tc = torch.tanh(c)
        h = torch.mul(a[..., 3 * n :], tc, out=hs[:, t])
        if save:
            acts.append(a)
            cells.append(c)
            tcs.append(tc)
    return hs, acts, cells, tcs


class _LSTMLayer(torch.autograd.Function):
    """A whole LSTM layer as one autograd node, backpropagated through time by hand.

    Same equations as step_lstm; what it saves over autograd of T steps: the bookkeeping of
    ~10 autograd nodes a step, the strided gate chunks (one sigmoid, one sigmoid_backward over
    all four blocks), and T small products for the recurrent weight's gradient (one
    (E, n, T·B) x (E, T·B, 4n) product instead). Measured: docs/performance.md.
    """

    @staticmethod
    def forward(ctx, xp, W_h, h0, c0, relu, mode):  # type: ignore[override]
        hs, ctx.acts, ctx.cells, ctx.tcs = lstm_sequence(xp, W_h, h0, c0, relu, mode, save=True)
        ctx.save_for_backward(W_h, h0, hs)
        ctx.mode, ctx.saved_relu = mode, relu
        return hs

    @staticmethod
    @once_differentiable
    def backward(ctx, g_hs):  # type: ignore[override]
        W_h, h0, hs = ctx.saved_tensors
        acts, cells, tcs = ctx.acts, ctx.cells, ctx.tcs
        ctx.acts = ctx.cells = ctx.tcs = None  # freed with this pass, not with the graph
        E, T, B, n = hs.shape
        G = 4 * n
        aten = torch.ops.aten
        dz = g_hs.new_empty(E, T, B, G)
        W_t = W_h.transpose(1, 2)
        dc = None
        for t in range(T - 1, -1, -1):
            a, tc = acts[t], tcs[t]
            dh = g_hs[:, t] if t == T - 1 else torch.baddbmm(g_hs[:, t], dz[:, t + 1], W_t)
            d_c = aten.tanh_backward(dh * a[..., 3 * n :], tc)  # through h = o tanh(c)
            dc = d_c if dc is None else d_c.addcmul_(dc, acts[t + 1][..., n : 2 * n])
            d = torch.empty_like(a)  # d(loss)/d(gate), then through each gate's nonlinearity
            torch.mul(dc, a[..., 2 * n : 3 * n], out=d[..., :n])
            torch.mul(dc, cells[t], out=d[..., n : 2 * n])
            torch.mul(dc, a[..., :n], out=d[..., 2 * n : 3 * n])
            torch.mul(dh, tc, out=d[..., 3 * n :])
            dz_t = dz[:, t]
            aten.sigmoid_backward.grad_input(d, a, grad_input=dz_t)
            g, dz_c = a[..., 2 * n : 3 * n], dz_t[..., 2 * n : 3 * n]
            if ctx.mode == "tanh":
                aten.tanh_backward.grad_input(d[..., 2 * n : 3 * n], g, grad_input=dz_c)
            else:
                d_relu = aten.threshold_backward(d[..., 2 * n : 3 * n], g, 0)
                if ctx.mode == "mixed":
                    d_relu = torch.where(ctx.saved_relu, d_relu, aten.tanh_backward(d[..., 2 * n : 3 * n], g))
                dz_c.copy_(d_relu)
        d_h0 = torch.bmm(dz[:, 0], W_t)
        d_c0 = dc * acts[0][..., n : 2 * n]
        d_W = torch.bmm(h0.transpose(1, 2), dz[:, 0])
        if T > 1:
            d_W.baddbmm_(hs[:, : T - 1].reshape(E, (T - 1) * B, n).transpose(1, 2),
                         dz[:, 1:].reshape(E, (T - 1) * B, G))
        return dz, d_W, d_h0, d_c0, None, None


def lstm_layer(xp: Tensor, W_h: Tensor, h0: Tensor, c0: Tensor, relu: Tensor, mode: str) -> Tensor:
    """All T steps of an LSTM layer: xp (E, T, B, 4n) -> hs (E, T, B, n). `mode`: the members'
    s(.), "tanh" | "relu" | "mixed" (then `relu`, (E, 1, 1) bool, says which)."""
    if torch.is_grad_enabled() and any(t.requires_grad for t in (xp, W_h, h0, c0)):
        return _LSTMLayer.apply(xp, W_h, h0, c0, relu, mode)
    return lstm_sequence(xp, W_h, h0, c0, relu, mode)[0]


def lstm_native(x: Tensor, W_x: Tensor, b: Tensor, W_h: Tensor, h0: Tensor, c0: Tensor) -> Tensor:
    """All T steps of an LSTM layer through PyTorch's own fused LSTM op, one member at a time:
    x (E, T, B, n_x) -> hs (E, T, B, n), with tanh as s(.). On CPU that op is oneDNN's RNN
    primitive (one pass over the gates per step, forward and backward), which beats the
    engine's kernel on wide layers (docs/performance.md). Its gate order i, f, g, o is ours;
    its second bias is held at zero, since the engine has one bias per layer."""
    B, n = x.shape[2], W_h.shape[1]
    zero = b.new_zeros(4 * n)
    # unbind, not x[e]: its backward is one stack, where E selects would each write a zero (E, ...) gradient
    outs = [torch.lstm(x_e, (h0_e.expand(B, n)[None].contiguous(), c0_e.expand(B, n)[None].contiguous()),
                       [W_x_e.t(), W_h_e.t(), b_e.reshape(-1), zero], True, 1, 0.0, torch.is_grad_enabled(),
                       False, False)[0]
            for x_e, W_x_e, b_e, W_h_e, h0_e, c0_e in zip(*(t.unbind(0) for t in (x, W_x, b, W_h, h0, c0)))]
    return torch.stack(outs)


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
    # optional: all T steps of a layer at once, layer(xp, W_h, *initial states, relu, s mode) -> outputs
    # (E, T, B, n), the same equations as `step`; the eager CPU path (Ensemble.forward says when)
    layer: Callable | None = None
    # optional: PyTorch's own fused op for the layer, native(x, W_x, b, W_h, *initial states) ->
    # (E, T, B, n), s(.) = tanh, dense inputs; the eager CPU path from width `native_min_width` on,
    # where it beats `layer` (measured: docs/performance.md)
    native: Callable | None = None
    native_min_width: int = 0

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
    "lstm": CellSpec("lstm", "LSTM", step_lstm, ("i", "f", "c", "o"), gates=(("f", "b_fg"),), state_vectors=2,
                     layer=lstm_layer, native=lstm_native, native_min_width=16),
    # +RNN: y (ReLU) and hh (tanh) fixed by the paper, depth gate gy, time gate gh; its depth gate
    # mixes layers of equal width, so the paper never runs it at depth 1
    "plus": CellSpec("plus", "+RNN", step_plus, ("y", "hh", "gy", "gh"), gates=(("gy", "b_fg_y"), ("gh", "b_fg_h")),
                     nonlinearities=(), input_projection=True, min_depth=2),
}
CELLS: tuple[str, ...] = tuple(SPECS)
