"""Search-space dimensions: the one vocabulary shared by HP sampling, the GP
tuner (optuna distributions) and the trial tables."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np


@dataclass(frozen=True)
class HPDim:
    """One hyperparameter dimension.

    kind: "float" (uniform, or log-uniform when log=True), "int" (inclusive
    bounds, log optional) or "cat" (choices). A dimension with low == high, or
    a single choice, is fixed: it is recorded but never searched.
    """

    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in ("float", "int", "cat"):
            raise ValueError(f"HP {self.name}: unknown kind {self.kind!r}")
        if self.kind == "cat":
            if not self.choices:
                raise ValueError(f"HP {self.name}: categorical needs choices")
        else:
            if self.low is None or self.high is None or self.low > self.high:
                raise ValueError(f"HP {self.name}: bad range [{self.low}, {self.high}]")
            if self.log and self.low <= 0:
                raise ValueError(f"HP {self.name}: log range must be positive, got {self.low}")

    @property
    def fixed(self) -> bool:
        return len(self.choices) == 1 if self.kind == "cat" else self.low == self.high

    def sample(self, rng: np.random.Generator) -> Any:
        """One uniform draw (log-uniform where log=True)."""
        if self.kind == "cat":
            return self.choices[int(rng.integers(len(self.choices)))]
        if self.fixed:
            return int(self.low) if self.kind == "int" else float(self.low)
        if self.log:
            v = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        else:
            v = rng.uniform(self.low, self.high)
        if self.kind == "int":
            return int(min(max(round(v), self.low), self.high))
        return float(v)


def sample_all(dims: Sequence[HPDim], rng: np.random.Generator) -> dict[str, Any]:
    return {d.name: d.sample(rng) for d in dims}
