"""The task contract every paper task implements (spec/paper.md §3).

A task owns its data (written once per task seed by `make_data`, loaded by the
constructor), draws training batches for an ensemble of E members, and turns
model outputs into a training loss and evaluation metrics.

Ensemble rule: member e's training batch is drawn with `gens[e]` and depends
only on `gens[e]` and `hps[e]`. That is what makes a member trained alone
identical to the same member trained inside an ensemble.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Iterator, Sequence

import torch
from torch import Tensor

from ..hpspace import HPDim


class TaskError(ValueError):
    """Bad task name, option or data (the message names the key)."""


@dataclass
class Batch:
    """One batch for E members.

    x: dense float32 (E, T, B, n_in), or for input_kind == "index" int64
       (E, T, B, K): K one-hot indices in [0, n_in) per step whose one-hot
       vectors are summed (the model gathers rows of W_x; no 300-wide dense
       tensors). A step with no input uses index -1 (gathers nothing).
    y: targets; leading dim E, task-defined layout.
    w: optional (E, B) sample weights (capacity padding, RCF power law).
    """

    x: Tensor
    y: Tensor
    w: Tensor | None = None


class Task(ABC):
    name: ClassVar[str]
    metric_name: ClassVar[str]  # e.g. "mi_bits", "mse_per_dim", "loss", "bits_per_char"
    higher_is_better: ClassVar[bool]
    input_kind: ClassVar[str]  # "dense" | "index"

    n_in: int
    n_out: int
    seq_len: int
    readout_steps: tuple[int, ...]  # 0-based steps whose outputs the loss reads

    def __init__(self, data_dir: Path | str, device: str | torch.device = "cpu", **options: Any):
        self.data_dir = Path(data_dir)
        self.device = torch.device(device)

    @classmethod
    @abstractmethod
    def make_data(cls, seed: int, out_dir: Path | str, **options: Any) -> None:
        """Write this task's fixed data (valid/eval sets, datasets) for one task seed."""

    def hp_space(self) -> list[HPDim]:
        """Task-specific HPs the tuner searches (capacity: b_ratio, presentation)."""
        return []

    def resolve_hps(self, hp: dict[str, Any], n_params: int) -> dict[str, Any]:
        """Turn searched task HPs into the values batches need (capacity: b from b_ratio)."""
        return {d.name: hp[d.name] for d in self.hp_space()}

    @abstractmethod
    def train_batch(self, gens: Sequence[torch.Generator], hps: Sequence[dict], batch_size: int) -> Batch:
        """One training batch per member, member e drawn with gens[e] only."""

    @abstractmethod
    def eval_batches(self, split: str, hps: Sequence[dict], batch_size: int) -> Iterator[Batch]:
        """Deterministic batches covering the fixed set of `split` ('train'|'valid'|'eval')."""

    @abstractmethod
    def loss(self, out: Tensor, batch: Batch) -> Tensor:
        """(E,) differentiable training loss; out is (E, len(readout_steps), B, n_out)."""

    @abstractmethod
    def eval_sums(self, out: Tensor, batch: Batch) -> dict[str, Tensor]:
        """(E,) float64 sums for one eval batch, added up over all batches of a split."""

    @abstractmethod
    def finalize(self, sums: dict[str, Tensor], hps: Sequence[dict]) -> dict[str, Tensor]:
        """From summed eval stats to {"loss": (E,), "metric": (E,), ...extras (E,)}."""
