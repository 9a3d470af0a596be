"""One optimizer for E members with their own HPs, on the (E, P) parameter tensor.

SGD, momentum, RMSProp and Adam are the same update with per-member
coefficients, so trials with different optimizers share one ensemble:

    g  = clip_global_norm(grad + l2 * w, clip)
    m  = a1 * m + c1 * g
    v  = a2 * v + (1 - a2) * g^2                    (RMSProp, Adam)
    w -= lr(t) * (m / bc1) / (sqrt(v / bc2) + eps)  (denominator 1 for SGD/momentum)

with lr(t) = lr0 * decay^(t / steps) (docs/method.md §4) and 0 once a member has finished
or diverged. Bias correction bc1 applies to Adam, bc2 to Adam and RMSProp (its
second moment starts at 0, as in PyTorch, and would otherwise inflate the first
steps by up to 1/sqrt(1 - rho)).
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import torch
from torch import Tensor

OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam")
ADAM_BETA2 = 0.999
EPS = 1e-8


def momentum(hp: Mapping[str, Any]) -> float:
    """The momentum-like parameter, searched as a logit (docs/method.md §4; docs/choices.md #12)."""
    return 1.0 / (1.0 + math.exp(-float(hp["momentum_logit"])))


class EnsembleOptimizer:
    def __init__(self, param: Tensor, hps: Sequence[Mapping[str, Any]]):
        dev = param.device
        E = param.shape[0]
        assert len(hps) == E

        def vec(values: Sequence[float]) -> Tensor:
            return torch.tensor(values, dtype=torch.float64, device=dev)

        kind = [OPTIMIZERS.index(h["optimizer"]) for h in hps]
        mom = [momentum(h) for h in hps]
        self.param = param
        self.lr0 = vec([h["lr"] for h in hps])
        self.log_decay = vec([torch.tensor(float(h["lr_decay"])).log().item() for h in hps])
        self.steps = vec([int(h["steps"]) for h in hps])
        self.clip = vec([h["clip"] for h in hps]).float()
        self.l2 = vec([h["l2"] for h in hps]).float().unsqueeze(1)
        # per-member update coefficients
        self.a1 = vec([mom[e] if kind[e] in (1, 3) else 0.0 for e in range(E)])
        self.c1 = vec([1 - mom[e] if kind[e] == 3 else 1.0 for e in range(E)]).float().unsqueeze(1)
        self.a2 = vec([mom[e] if kind[e] == 2 else ADAM_BETA2 for e in range(E)])
        self.use_v = torch.tensor([k in (2, 3) for k in kind], device=dev).unsqueeze(1)
        self.adam = torch.tensor([k == 3 for k in kind], device=dev)
        self.has_v = bool(self.use_v.any())
        self.m = torch.zeros_like(param)
        self.v = torch.zeros_like(param) if self.has_v else None
        self.a1f = self.a1.float().unsqueeze(1)
        self.a2f = self.a2.float().unsqueeze(1)

    def lr_at(self, t: int, active: Tensor) -> Tensor:
        """(E,) learning rate at step t (0-based); 0 for inactive members."""
        lr = self.lr0 * torch.exp(self.log_decay * (t / self.steps))
        return torch.where(active & (t < self.steps), lr, torch.zeros_like(lr))

    @torch.no_grad()
    def step(self, t: int, active: Tensor) -> None:
        w, g = self.param, self.param.grad
        # a diverged member's NaN gradient must not reach its optimizer state
        g = torch.where(active.unsqueeze(1), g + self.l2 * w, torch.zeros_like(w))
        norm = g.norm(dim=1)
        g = g * torch.clamp(self.clip / (norm + 1e-6), max=1.0).unsqueeze(1)
        self.m.mul_(self.a1f).add_(self.c1 * g)
        k = t + 1
        bc1 = torch.where(self.adam, 1 - self.a1**k, torch.ones_like(self.a1))
        lr = (self.lr_at(t, active) / bc1).float().unsqueeze(1)
        if self.has_v:
            self.v.mul_(self.a2f).add_((1 - self.a2f) * g * g)
            bc2 = (1 - self.a2**k).float().unsqueeze(1)
            denom = torch.where(self.use_v, (self.v / bc2).sqrt_().add_(EPS), torch.ones_like(w))
            w.sub_(lr * self.m / denom)
        else:
            w.sub_(lr * self.m)

    @torch.no_grad()
    def select(self, indices: Sequence[int], param: Tensor) -> None:
        """Keep the per-member HPs and state of the members at `indices`, now training `param`
        (the ensemble's `flat` after Ensemble.select): stopped members leave the optimizer too."""
        idx = torch.as_tensor(list(indices), dtype=torch.long, device=param.device)
        for name in ("lr0", "log_decay", "steps", "clip", "l2", "a1", "c1", "a2", "use_v", "adam", "m", "a1f", "a2f"):
            setattr(self, name, getattr(self, name)[idx].clone())
        if self.v is not None:
            self.v = self.v[idx].clone()
        self.param = param

    def state_dict(self) -> dict[str, Tensor | None]:
        return {"m": self.m, "v": self.v}

    def load_state_dict(self, state: Mapping[str, Tensor | None]) -> None:
        self.m.copy_(state["m"])
        if self.v is not None:
            self.v.copy_(state["v"])
