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
    python benchmarks/throughput.py --compile-gain [--widths 16,64] [--ensembles 8]

Engine and reference are timed in alternating blocks in the same process (ratios hold
on a shared machine). Rows whose estimated step time exceeds --max-step-s are skipped
(printed as such): the full grid takes ~8 minutes on 2 shared CPU cores. The grid ends
with the LSTM rows' ratio to nn.LSTM.

--compile-gain measures, per cell and width, the eager step, the torch.compile'd step and
the compile overhead (first compiled step less a compiled step, in a fresh inductor cache:
what a training run pays per new shape), and from them the break-even: training steps per
compiled graph above which compiling wins. It prints the rows of
rnncap.plan.compile_policy.MEASURED, the table `search.compile: auto` decides from.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
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


def alternating(steps, device: str, budget: float) -> list[float]:
    """Seconds per call of each step, timed in alternating blocks: the best block of each."""
    for step in steps:
        step()
    _sync(device)
    best = [math.inf] * len(steps)
    spent = 0.0
    while spent < len(steps) * budget or math.inf in best:
        for i, step in enumerate(steps):
            n, t0 = 0, time.perf_counter()
            while n < 2 or time.perf_counter() - t0 < budget / 8:
                step()
                n += 1
            _sync(device)
            dt = time.perf_counter() - t0
            best[i], spent = min(best[i], dt / n), spent + dt
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


def compile_gain(cell: str, H: int, E: int, device: str, budget: float) -> dict:
    """Eager against compiled step of one shape, and the compile overhead: in a fresh process with
    a fresh inductor cache, as a training run meets a new shape (see main: one process per row)."""
    depth = max(1, spec(cell).min_depth)
    eager = engine_step(cell, H, depth, E, device, False)
    comp = engine_step(cell, H, depth, E, device, True)
    t0 = time.perf_counter()
    comp()
    _sync(device)
    first = time.perf_counter() - t0
    t_eager, t_comp = alternating([eager, comp], device, budget)
    compile_s = max(first - t_comp, 0.0)
    gain = t_eager - t_comp
    return {"cell": cell, "width": H, "depth": depth, "ensemble": E, "device": device, "batch": B, "T": T,
            "eager_ms": 1e3 * t_eager, "compiled_ms": 1e3 * t_comp, "speedup": t_eager / t_comp,
            "compile_s": compile_s, "break_even_steps": compile_s / gain if gain > 0 else None}


def _fresh_process(args: list[str]) -> dict:
    """One measurement in a new Python process and a new, empty inductor cache directory."""
    with tempfile.TemporaryDirectory(prefix="rnncap-inductor-") as cache:
        env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": cache}
        out = subprocess.run([sys.executable, __file__, *args], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cells", default=",".join(CELLS))
    ap.add_argument("--widths", default=None, help="default 16,64,256 (--compile-gain: 16,64)")
    ap.add_argument("--depths", default="1,4")
    ap.add_argument("--ensembles", default=None, help="default 1,8,32 (--compile-gain: 8)")
    ap.add_argument("--budget", type=float, default=0.25, help="seconds of timing per measurement")
    ap.add_argument("--max-step-s", type=float, default=1.5, help="skip rows estimated slower than this")
    ap.add_argument("--compile", action="store_true", help="torch.compile the engine's forward+backward")
    ap.add_argument("--compile-gain", action="store_true", help="eager vs compiled step, compile overhead, break-even")
    ap.add_argument("--json", action="store_true", help="one JSON object per row")
    ap.add_argument("--one-gain", help=argparse.SUPPRESS)  # cell,width,E: one --compile-gain row, as JSON
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.device.startswith("cuda"):  # same precision for every cell and reference
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    if a.one_gain:
        cell, H, E = a.one_gain.split(",")
        print(json.dumps(compile_gain(cell, int(H), int(E), a.device, a.budget)))
        return
    ints = lambda s: [int(v) for v in s.split(",")]  # noqa: E731
    widths = ints(a.widths or ("16,64" if a.compile_gain else "16,64,256"))
    ensembles = ints(a.ensembles or ("8" if a.compile_gain else "1,8,32"))
    cpu = platform.processor() or platform.machine()
    dev = torch.cuda.get_device_name() if a.device.startswith("cuda") else cpu
    if a.compile_gain:
        rows = []
        if not a.json:
            print(f"# torch {torch.__version__}, device {a.device} ({dev}), threads {a.threads}, T={T}, "
                  f"batch {B} per member; compile overhead in a fresh inductor cache")
            print(f"{'cell':6} {'width':>5} {'depth':>5} {'E':>4} {'eager ms':>9} {'compiled ms':>11} {'speedup':>7} "
                  f"{'compile s':>9} {'break-even steps':>16}")
        for cell in a.cells.split(","):
            for H in widths:
                for E in ensembles:
                    r = _fresh_process(["--one-gain", f"{cell},{H},{E}", "--device", a.device,
                                        "--threads", str(a.threads), "--budget", str(a.budget)])
                    rows.append(r)
                    be = "never" if r["break_even_steps"] is None else f"{r['break_even_steps']:.0f}"
                    print(json.dumps(r) if a.json else
                          f"{cell:6} {H:5d} {r['depth']:5d} {E:4d} {r['eager_ms']:9.2f} {r['compiled_ms']:11.2f} "
                          f"{r['speedup']:7.2f} {r['compile_s']:9.1f} {be:>16}", flush=True)
        if not a.json:  # the rows of the policy's table (src/rnncap/plan/compile_policy.py)
            print("# rnncap.plan.compile_policy.MEASURED rows:")
            for r in rows:
                print(f'    ("{r["cell"]}", "{a.device}", {r["width"]}): Measured({r["eager_ms"]:.2f}, '
                      f'{r["compiled_ms"]:.2f}, {r["compile_s"]:.1f}),')
        return
    if not a.json:
        print(f"# torch {torch.__version__}, device {a.device} ({dev}), threads {a.threads}, "
              f"T={T}, batch {B} per member, compile={a.compile}")
        print(f"{'cell':6} {'width':>5} {'depth':>5} {'E':>4} {'engine seq/s':>13} {'native seq/s':>13} "
              f"{'nn.LSTM seq/s':>13} {'x native':>8} {'x LSTM':>7}")
    lstm_rows: list[tuple[int, int, int, float]] = []
    for cell in a.cells.split(","):
        for depth in ints(a.depths):
            if depth < spec(cell).min_depth:
                continue
            for H in widths:
                refs = [ref_step(native(c, H, depth), H, a.device) for c in dict.fromkeys((cell, "lstm"))]
                per_member = None
                for E in ensembles:
                    est = None if per_member is None else per_member * E
                    if est is not None and est > a.max_step_s:
                        thr, nat = None, None
                    else:  # engine and its references in alternating blocks
                        dt, *dt_ref = alternating([engine_step(cell, H, depth, E, a.device, a.compile), *refs],
                                                  a.device, a.budget)
                        per_member = dt / E
                        thr, nat, lstm = E * B / dt, B / dt_ref[0], B / dt_ref[-1]
                        if cell == "lstm":
                            lstm_rows.append((H, depth, E, thr / lstm))
                    row = {"cell": cell, "width": H, "depth": depth, "ensemble": E, "device": a.device,
                           "threads": a.threads, "compile": a.compile, "model_seq_per_s": thr,
                           "ref_native_seq_per_s": nat, "ref_lstm_seq_per_s": None if thr is None else lstm}
                    if a.json:
                        print(json.dumps(row), flush=True)
                    elif thr is None:
                        print(f"{cell:6} {H:5d} {depth:5d} {E:4d} {'skipped':>13} (estimated {est:.1f} s/step)")
                    else:
                        print(f"{cell:6} {H:5d} {depth:5d} {E:4d} {thr:13.0f} {nat:13.0f} {lstm:13.0f} "
                              f"{thr / nat:8.2f} {thr / lstm:7.2f}", flush=True)
    if lstm_rows and not a.json:
        print("# LSTM engine / nn.LSTM (timed alternately): " + ", ".join(
            f"width {H} depth {d} E={E} {r:.2f}x" for H, d, E, r in lstm_rows))


if __name__ == "__main__":
    main()
