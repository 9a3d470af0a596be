"""Training throughput of the rnncap ensemble engine against single-model PyTorch.

For every cell, width and depth, times one training step (forward + backward +
optimizer) on T = 20 steps of batch 128 per member, for ensembles of E members,
and in the same process settings two references:
  ref_native: the fastest single model a PyTorch user would write for that cell
              (nn.LSTM / nn.GRU / nn.RNN tanh / nn.RNN relu; an eager loop with
              the input projection hoisted for UGRNN and +RNN);
  ref_lstm:   torch.nn.LSTM of the same shapes.
Throughput is model-sequences per second (E x batch / step time).

    python benchmarks/throughput.py [--device cuda] [--threads 1] [--json] [--compile]

Rows whose estimated step time exceeds --max-step-s are skipped (printed as such),
so the full grid stays under ~3 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time

import torch
import torch.nn.functional as F

from rnncap.model.cells import CELLS, spec
from rnncap.model.init import init_member_
from rnncap.model.ensemble import Arch, Ensemble
from rnncap.model.optim import EnsembleOptimizer

T, B, N_OUT = 20, 128, 10


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(step, device: str, budget: float, min_iters: int = 2) -> float:
    """Seconds per call: one warm-up, then the best of a few blocks within `budget`."""
    step()
    _sync(device)
    best, spent = math.inf, 0.0
    while spent < budget or best == math.inf:
        n, t0 = 0, time.perf_counter()
        while n < min_iters or time.perf_counter() - t0 < budget / 4:
            step()
            n += 1
        _sync(device)
        dt = time.perf_counter() - t0
        best, spent = min(best, dt / n), spent + dt
    return best


def bench_hp(cell: str) -> dict:
    s = spec(cell)
    hp = {"optimizer": "adam", "lr": 1e-3, "lr_decay": 1.0, "momentum_logit": 2.2, "clip": 10.0, "l2": 1e-6,
          "steps": 10**9, "nonlinearity": "tanh", "square_init": "orthogonal", "bias_init": "constant",
          "b_fg": 1.0, "b_fg_y": 1.0, "b_fg_h": 1.0, "proj_scale": 1.0}
    for k in s.blocks:
        hp |= {f"in_scale_{k}": 1.0, f"rec_scale_{k}": 1.0, f"bias_scale_{k}": 0.0}
    return hp


def engine_step(cell: str, H: int, depth: int, E: int, device: str, compile_: bool):
    arch = Arch(cell, H, depth, H, N_OUT)
    model = Ensemble(arch, E, device)
    hp = bench_hp(cell)
    for e in range(E):
        init_member_(model, e, hp, torch.Generator().manual_seed(e))
    opt = EnsembleOptimizer(model.flat, [hp] * E)
    x = torch.randn(E, T, B, H, device=device)
    y = torch.randint(0, N_OUT, (E * B,), device=device)
    active = torch.ones(E, dtype=torch.bool, device=device)
    fwd = torch.compile(model, dynamic=False) if compile_ else model

    def step():
        out = fwd(x, (T - 1,))
        loss = F.cross_entropy(out.reshape(E * B, N_OUT), y, reduction="none").view(E, B).mean(1)
        model.flat.grad = None
        loss.sum().backward()
        opt.step(0, active)

    return step


class HoistedLoop(torch.nn.Module):
    """What a user writes for a cell PyTorch lacks: per layer one Linear over all steps, then a loop."""

    def __init__(self, cell: str, H: int, depth: int):
        super().__init__()
        G = spec(cell).G
        self.cell = cell
        self.inp = torch.nn.ModuleList(torch.nn.Linear(H, G * H) for _ in range(depth))
        self.rec = torch.nn.ModuleList(torch.nn.Linear(H, G * H, bias=False) for _ in range(depth))

    def forward(self, x):  # x: (T, B, H)
        for inp, rec in zip(self.inp, self.rec):
            xp = inp(x)
            h = x.new_zeros(x.shape[1], rec.in_features)
            ys = []
            for xt, xpt in zip(x.unbind(0), xp.unbind(0)):
                z = xpt + rec(h)
                if self.cell == "ugrnn":
                    c, g = z.chunk(2, -1)
                    g = torch.sigmoid(g)
                    h = g * h + (1 - g) * torch.tanh(c)
                    ys.append(h)
                else:  # +RNN
                    yi, hi, gy, gh = z.chunk(4, -1)
                    gy, gh = torch.sigmoid(gy), torch.sigmoid(gh)
                    ys.append(gy * xt + (1 - gy) * torch.relu(yi))
                    h = gh * h + (1 - gh) * torch.tanh(hi)
            x = torch.stack(ys)
        return x, None


def native(cell: str, H: int, depth: int) -> torch.nn.Module:
    if cell == "lstm":
        return torch.nn.LSTM(H, H, depth)
    if cell == "gru":
        return torch.nn.GRU(H, H, depth)
    if cell in ("rnn", "irnn"):
        return torch.nn.RNN(H, H, depth, nonlinearity="relu" if cell == "irnn" else "tanh")
    return HoistedLoop(cell, H, depth)


def ref_step(net: torch.nn.Module, H: int, device: str):
    net = net.to(device)
    head = torch.nn.Linear(H, N_OUT).to(device)
    opt = torch.optim.Adam(list(net.parameters()) + list(head.parameters()))
    x = torch.randn(T, B, H, device=device)
    y = torch.randint(0, N_OUT, (B,), device=device)

    def step():
        out, _ = net(x)
        loss = F.cross_entropy(head(out[-1]), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cells", default=",".join(CELLS))
    ap.add_argument("--widths", default="16,64,256")
    ap.add_argument("--depths", default="1,4")
    ap.add_argument("--ensembles", default="1,8,32")
    ap.add_argument("--budget", type=float, default=0.25, help="seconds of timing per measurement")
    ap.add_argument("--max-step-s", type=float, default=1.5, help="skip rows estimated slower than this")
    ap.add_argument("--compile", action="store_true", help="torch.compile the engine's forward+backward")
    ap.add_argument("--json", action="store_true", help="one JSON object per row")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.device.startswith("cuda"):  # same precision for every cell and reference
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    ints = lambda s: [int(v) for v in s.split(",")]  # noqa: E731
    if not a.json:
        cpu = platform.processor() or platform.machine()
        dev = torch.cuda.get_device_name() if a.device.startswith("cuda") else cpu
        print(f"# torch {torch.__version__}, device {a.device} ({dev}), threads {a.threads}, "
              f"T={T}, batch {B} per member, compile={a.compile}")
        print(f"{'cell':6} {'width':>5} {'depth':>5} {'E':>4} {'engine seq/s':>13} {'native seq/s':>13} "
              f"{'nn.LSTM seq/s':>13} {'x native':>8} {'x LSTM':>7}")
    lstm_ref: dict[tuple[int, int], float] = {}
    for cell in a.cells.split(","):
        for depth in ints(a.depths):
            if depth < spec(cell).min_depth:
                continue
            for H in ints(a.widths):
                if (H, depth) not in lstm_ref:
                    lstm_ref[H, depth] = B / timed(ref_step(native("lstm", H, depth), H, a.device), a.device, a.budget)
                nat = lstm_ref[H, depth] if cell == "lstm" else \
                    B / timed(ref_step(native(cell, H, depth), H, a.device), a.device, a.budget)
                per_member = None
                for E in ints(a.ensembles):
                    est = None if per_member is None else per_member * E
                    if est is not None and est > a.max_step_s:
                        thr = None
                    else:
                        dt = timed(engine_step(cell, H, depth, E, a.device, a.compile), a.device, a.budget)
                        per_member = dt / E
                        thr = E * B / dt
                    row = {"cell": cell, "width": H, "depth": depth, "ensemble": E, "device": a.device,
                           "threads": a.threads, "compile": a.compile, "model_seq_per_s": thr,
                           "ref_native_seq_per_s": nat, "ref_lstm_seq_per_s": lstm_ref[H, depth]}
                    if a.json:
                        print(json.dumps(row), flush=True)
                    elif thr is None:
                        print(f"{cell:6} {H:5d} {depth:5d} {E:4d} {'skipped':>13} (estimated {est:.1f} s/step)")
                    else:
                        print(f"{cell:6} {H:5d} {depth:5d} {E:4d} {thr:13.0f} {nat:13.0f} {lstm_ref[H, depth]:13.0f} "
                              f"{thr / nat:8.2f} {thr / lstm_ref[H, depth]:7.2f}", flush=True)


if __name__ == "__main__":
    main()
