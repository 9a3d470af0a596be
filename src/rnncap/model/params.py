"""Parameter counts and the width-for-budget solver (docs/method.md §2.4; docs/choices.md #7).

Counted: every layer's weights and biases, the readout, learned initial states
(c0 and h0 for the LSTM) and the +RNN first-layer input projection. This
convention reproduces the released text8 LSTM exactly: 4 layers, 27 in/out,
width 210 -> 1,268,217.
"""

from __future__ import annotations

from .cells import CellError, check_depth, spec


class BudgetError(ValueError):
    """No width fits the requested parameter budget."""


def layer_input_dims(cell: str, width: int, depth: int, n_in: int) -> list[int]:
    """Input dimension of each layer. A cell with an input projection (+RNN) sees `width` first."""
    first = width if spec(cell).input_projection else n_in
    return [first] + [width] * (depth - 1)


def count_params(cell: str, width: int, depth: int, n_in: int, n_out: int) -> int:
    """Number of trainable scalars of a (cell, width, depth) stack with a linear readout."""
    s = spec(cell)
    check_depth(cell, depth)
    if width < 1:
        raise CellError(f"width must be >= 1, got {width}")
    if n_in < 1 or n_out < 1:
        raise CellError(f"n_in and n_out must be >= 1, got {n_in}, {n_out}")
    n = width
    total = 0
    for n_x in layer_input_dims(cell, width, depth, n_in):
        total += s.G * n * (n_x + n + 1) + s.state_vectors * n
    if s.input_projection:
        total += n * (n_in + 1)  # first-layer projection (TF IntersectionRNNCell num_in_proj)
    total += n_out * (n + 1)
    return total


def solve_width(cell: str, budget: int, depth: int, n_in: int, n_out: int) -> int:
    """Largest single width whose total count stays within `budget` (docs/method.md §2.4).

    Counts grow strictly with width, so a doubling search then bisection finds it.
    """
    if budget < 1:
        raise BudgetError(f"budget must be positive, got {budget}")
    smallest = count_params(cell, 1, depth, n_in, n_out)
    if smallest > budget:
        raise BudgetError(
            f"budget {budget} is below the smallest {cell} model (width 1, depth {depth}, "
            f"n_in {n_in}, n_out {n_out}: {smallest} parameters)"
        )
    lo, hi = 1, 2
    while count_params(cell, hi, depth, n_in, n_out) <= budget:
        lo, hi = hi, hi * 2
    while hi - lo > 1:  # invariant: count(lo) <= budget < count(hi)
        mid = (lo + hi) // 2
        if count_params(cell, mid, depth, n_in, n_out) <= budget:
            lo = mid
        else:
            hi = mid
    return lo
