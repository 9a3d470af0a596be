"""A stack of recurrent layers plus a linear readout, for E independent members.

All trainable scalars of all E members live in ONE parameter `flat` of shape
(E, P), P = the exact count of docs/method.md §2.4; every weight is a view into it. So
the optimizer, gradient clipping and checkpoints work on a single tensor, the
same code trains one model (E = 1) or an ensemble, and the parameter count is
the width of a tensor rather than a formula.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .cells import check_depth, spec, tanh
from .params import layer_input_dims


@dataclass(frozen=True)
class Arch:
    cell: str
    width: int
    depth: int
    n_in: int
    n_out: int
    input_kind: str = "dense"  # "dense" float inputs | "index" summed one-hot indices

    def __post_init__(self) -> None:
        spec(self.cell)
        check_depth(self.cell, self.depth)
        if self.input_kind not in ("dense", "index"):
            raise ValueError(f"input_kind must be 'dense' or 'index', got {self.input_kind!r}")


def param_layout(arch: Arch) -> dict[str, tuple[int, ...]]:
    """Name -> per-member shape of every trainable tensor, in storage order."""
    s = spec(arch.cell)
    n, Gn = arch.width, s.G * arch.width
    shapes: dict[str, tuple[int, ...]] = {}
    if s.input_projection:
        shapes["proj.W"] = (arch.n_in, n)
        shapes["proj.b"] = (1, n)
    for l, n_x in enumerate(layer_input_dims(arch.cell, n, arch.depth, arch.n_in)):
        shapes[f"{l}.Wx"] = (n_x, Gn)
        shapes[f"{l}.Wh"] = (n, Gn)
        shapes[f"{l}.b"] = (1, Gn)
        shapes[f"{l}.h0"] = (1, n)
        if s.state_vectors == 2:
            shapes[f"{l}.c0"] = (1, n)
    shapes["out.W"] = (n, arch.n_out)
    shapes["out.b"] = (1, arch.n_out)
    return shapes


class Ensemble(nn.Module):
    """E members of one architecture; forward(x) -> readouts at the requested steps."""

    def __init__(self, arch: Arch, members: int, device: str | torch.device = "cpu"):
        super().__init__()
        self.arch, self.E = arch, members
        self.spec = spec(arch.cell)
        self.layout: dict[str, tuple[int, tuple[int, ...]]] = {}
        offset = 0
        for name, shape in param_layout(arch).items():
            self.layout[name] = (offset, shape)
            offset += int(torch.Size(shape).numel())
        self.n_params = offset
        self.flat = nn.Parameter(torch.zeros(members, offset, device=device))
        # Not trainable: b_fg offsets added inside the gate sigmoids (an HP), and
        # which members use ReLU for s(.).
        Gn = self.spec.G * arch.width
        self.register_buffer("gate_offset", torch.zeros(arch.depth, members, 1, Gn, device=device))
        self.register_buffer("relu", torch.zeros(members, 1, 1, dtype=torch.bool, device=device))
        self.refresh_nonlinearity()

    def refresh_nonlinearity(self) -> None:
        """Decide once (after init) whether s(.) is tanh, ReLU or a per-member mix.

        Keeps forward free of device syncs; the mixed path costs one extra op.
        """
        if self.spec.nonlinearities == ("relu",) or bool(self.relu.all()):
            self._s_mode = "relu"
        elif not bool(self.relu.any()):
            self._s_mode = "tanh"
        else:
            self._s_mode = "mixed"

    @torch.no_grad()
    def select(self, indices: Sequence[int]) -> None:
        """Keep only the members at `indices` (in that order), in place.

        Successive halving drops the members it stops (docs/method.md §4): they must cost
        nothing afterwards, so their rows leave the stacked tensors instead of being masked.
        `flat` becomes a new Parameter: an optimizer on the old one must select too.
        """
        idx = torch.as_tensor(list(indices), dtype=torch.long, device=self.flat.device)
        self.flat = nn.Parameter(self.flat.detach()[idx].clone())
        self.gate_offset = self.gate_offset[:, idx].clone()
        self.relu = self.relu[idx].clone()
        self.E = len(idx)
        self.refresh_nonlinearity()

    def _nonlin(self, z: Tensor) -> Tensor:
        if self._s_mode == "tanh":
            return tanh(z)
        if self._s_mode == "relu":
            return torch.relu(z)
        return torch.where(self.relu, torch.relu(z), tanh(z))

    def p(self, name: str, flat: Tensor | None = None) -> Tensor:
        """View of one parameter for all members: shape (E, *shape)."""
        off, shape = self.layout[name]
        f = self.flat if flat is None else flat
        return f[:, off : off + int(torch.Size(shape).numel())].view(f.shape[0], *shape)

    def views(self) -> dict[str, Tensor]:
        """Every parameter's view for all members (as `p`), from one split of `flat`: its backward
        is one concatenation, where a slice per parameter would each write a zero (E, P) gradient."""
        parts = self.flat.split([int(torch.Size(s).numel()) for _, s in self.layout.values()], dim=1)
        return {name: part.view(self.E, *shape) for (name, (_, shape)), part in zip(self.layout.items(), parts)}

    # -- forward -----------------------------------------------------------------
    def _project(self, x: Tensor, W: Tensor, b: Tensor) -> Tensor:
        """x W + b for all steps at once (hoisted out of the time loop)."""
        E = self.E
        if x.dtype == torch.long:  # summed one-hot indices: gather rows of W
            T, B, K = x.shape[1:]
            n_in, out = W.shape[1:]
            Wpad = torch.cat([W, W.new_zeros(E, 1, out)], dim=1).reshape(E * (n_in + 1), out)
            idx = torch.where(x < 0, n_in, x) + (torch.arange(E, device=x.device) * (n_in + 1)).view(E, 1, 1, 1)
            y = F.embedding_bag(idx.reshape(-1, K), Wpad, mode="sum")
            return y.view(E, T, B, out) + b.unsqueeze(1)
        T, B, n_x = x.shape[1:]
        return torch.baddbmm(b, x.reshape(E, T * B, n_x), W).view(E, T, B, -1)

    def _fused(self, x: Tensor) -> bool:
        """Whether the cell's whole-layer kernel runs (CellSpec.layer): on CPU, eager. Measured
        there only (docs/performance.md); torch.compile fuses the per-step path itself."""
        return self.spec.layer is not None and x.device.type == "cpu" and not torch.compiler.is_compiling()

    def _native(self, x: Tensor) -> bool:
        """Whether PyTorch's own fused op may run the layer (CellSpec.native), where `_fused` holds:
        on dense inputs, every member's s(.) tanh and the layer at least `native_min_width` wide."""
        s = self.spec
        return (s.native is not None and x.is_floating_point() and self._s_mode == "tanh"
                and self.arch.width >= s.native_min_width)

    def forward(self, x: Tensor, readout_steps: tuple[int, ...] | list[int]) -> Tensor:
        """x: (E, T, B, n_in) float or (E, T, B, K) long -> (E, len(readout_steps), B, n_out).

        readout_steps must be increasing.
        """
        arch, E = self.arch, self.E
        B = x.shape[2]
        p = self.views()
        if self.spec.input_projection:
            x = self._project(x, p["proj.W"], p["proj.b"])
        step = self.spec.step
        s_fn = self._nonlin
        want = set(readout_steps)
        top = arch.depth - 1
        for l in range(arch.depth):
            W_x, b, W_h = p[f"{l}.Wx"], p[f"{l}.b"] + self.gate_offset[l], p[f"{l}.Wh"]
            state = [p[f"{l}.h0"].expand(E, B, arch.width)]
            if self.spec.state_vectors == 2:
                state.append(p[f"{l}.c0"].expand(E, B, arch.width))
            state = tuple(state)
            if self._fused(x):
                x = (self.spec.native(x, W_x, b, W_h, *state) if self._native(x) else
                     self.spec.layer(self._project(x, W_x, b), W_h, *state, self.relu, self._s_mode))  # (E, T, B, n)
                keep = [t for t in range(x.shape[1]) if t in want]
                if l == top and len(keep) < x.shape[1]:
                    x = x[:, keep]
                continue
            xp = self._project(x, W_x, b)
            xs = x.unbind(1) if self.spec.input_projection else None
            outs = []
            for t, xp_t in enumerate(xp.unbind(1)):
                if xs is not None:
                    state, y = step(xp_t, state, W_h, s_fn, xs[t])
                else:
                    state, y = step(xp_t, state, W_h, s_fn)
                if l < top or t in want:
                    outs.append(y)
            x = torch.stack(outs, 1)  # (E, T or R, B, n)
        R = x.shape[1]
        y = torch.baddbmm(p["out.b"], x.reshape(E, R * B, arch.width), p["out.W"])
        return y.view(E, R, B, arch.n_out)
