"""Each cell against an independent reference written from spec/paper.md §2.2."""

import pytest
import torch

from rnncap.model.cells import CELLS, spec
from rnncap.model.ensemble import Arch

from helpers import build, random_hps

sig = torch.sigmoid


@pytest.fixture(autouse=True)
def float64():
    """Compare in double precision; restore the default afterwards."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def blocks(model, l, e):
    """Per-block (W^x, W^h, b + b_fg) of member e, layer l, keyed by block name."""
    s, n = model.spec, model.arch.width
    Wx, Wh = model.p(f"{l}.Wx")[e], model.p(f"{l}.Wh")[e]
    b = model.p(f"{l}.b")[e][0] + model.gate_offset[l, e][0]
    return {k: (Wx[:, i * n:(i + 1) * n], Wh[:, i * n:(i + 1) * n], b[i * n:(i + 1) * n])
            for i, k in enumerate(s.blocks)}


def reference(model, e, x):
    """Single-model forward, one equation per line as in the paper; returns (T, B, n_out)."""
    cell, arch = model.arch.cell, model.arch
    s = torch.relu if bool(model.relu[e]) else torch.tanh
    B = x.shape[1]
    if cell == "plus":
        x = x @ model.p("proj.W")[e] + model.p("proj.b")[e]
    for l in range(arch.depth):
        P = blocks(model, l, e)
        lin = lambda k, h, xt: xt @ P[k][0] + h @ P[k][1] + P[k][2]  # noqa: E731
        h = model.p(f"{l}.h0")[e].expand(B, -1)
        c = model.p(f"{l}.c0")[e].expand(B, -1) if cell == "lstm" else None
        ys = []
        for xt in x:
            if cell in ("rnn", "irnn"):
                h = s(lin("h", h, xt)); y = h
            elif cell == "ugrnn":
                cc = s(lin("c", h, xt)); g = sig(lin("g", h, xt))
                h = g * h + (1 - g) * cc; y = h
            elif cell == "gru":
                r = sig(lin("r", h, xt)); u = sig(lin("u", h, xt))
                cc = s(xt @ P["c"][0] + (r * h) @ P["c"][1] + P["c"][2])
                h = u * h + (1 - u) * cc; y = h
            elif cell == "lstm":
                i = sig(lin("i", h, xt)); f = sig(lin("f", h, xt)); cin = s(lin("c", h, xt))
                c = f * c + i * cin
                o = sig(lin("o", h, xt)); h = o * torch.tanh(c); y = h
            elif cell == "plus":
                yin = torch.relu(lin("y", h, xt)); hin = torch.tanh(lin("hh", h, xt))
                gy = sig(lin("gy", h, xt)); gh = sig(lin("gh", h, xt))
                y = gy * xt + (1 - gy) * yin
                h = gh * h + (1 - gh) * hin
            ys.append(y)
        x = torch.stack(ys)
    return x @ model.p("out.W")[e] + model.p("out.b")[e]


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("depth", [1, 2])
def test_cell_matches_reference(cell, depth):
    if cell == "plus" and depth == 1:
        pytest.skip("+RNN needs depth >= 2")
    arch = Arch(cell, 5, depth, 3, 4)
    hps = random_hps(cell, 3, seed=depth)
    model = build(arch, hps, [1, 2, 3])
    x = torch.randn(3, 6, 2, 3)  # (E, T, B, n_in)
    out = model(x, range(6))
    for e in range(3):
        torch.testing.assert_close(out[e], reference(model, e, x[e]))


def test_lstm_matches_torch_lstmcell():
    arch = Arch("lstm", 6, 1, 4, 2)
    hp = random_hps("lstm", 1, b_fg=0.0, nonlinearity="tanh")
    model = build(arch, hp, [5])
    with torch.no_grad():
        model.p("0.h0")[0] = torch.randn(1, 6)
        model.p("0.c0")[0] = torch.randn(1, 6)
    ref = torch.nn.LSTMCell(4, 6)
    with torch.no_grad():
        ref.weight_ih.copy_(model.p("0.Wx")[0].T)  # gate order i, f, g(=c), o in both
        ref.weight_hh.copy_(model.p("0.Wh")[0].T)
        ref.bias_ih.copy_(model.p("0.b")[0][0])
        ref.bias_hh.zero_()
    x = torch.randn(1, 7, 3, 4)
    h, c = model.p("0.h0")[0].expand(3, -1), model.p("0.c0")[0].expand(3, -1)
    hs = []
    for t in range(7):
        h, c = ref(x[0, t], (h, c))
        hs.append(h @ model.p("out.W")[0] + model.p("out.b")[0])
    torch.testing.assert_close(model(x, range(7))[0], torch.stack(hs))


def test_irnn_starts_as_identity_relu():
    model = build(Arch("irnn", 4, 1, 2, 2), random_hps("irnn", 1), [0])
    torch.testing.assert_close(model.p("0.Wh")[0], torch.eye(4))
    assert float(model.p("0.b")[0].detach().abs().sum()) == 0.0
    assert bool(model.relu[0])


@pytest.mark.parametrize("cell", CELLS)
def test_ensemble_equals_separate_models(cell):
    """Outputs and gradients of E stacked members == those of E models trained alone."""
    arch = Arch(cell, 4, 2, 3, 2)
    hps = random_hps(cell, 3, seed=7)
    ens = build(arch, hps, [10, 11, 12])
    x = torch.randn(3, 5, 4, 3)
    out = ens(x, [2, 4])
    (out ** 2).sum().backward()
    for e in range(3):
        single = build(arch, [hps[e]], [10 + e])
        torch.testing.assert_close(single.flat.data[0], ens.flat.data[e])
        o = single(x[e:e + 1], [2, 4])
        (o ** 2).sum().backward()
        torch.testing.assert_close(o[0], out[e])
        torch.testing.assert_close(single.flat.grad[0], ens.flat.grad[e])


def test_index_inputs_equal_dense_one_hot():
    arch = Arch("gru", 5, 1, 12, 3, input_kind="index")
    hps = random_hps("gru", 2)
    model = build(arch, hps, [1, 2])
    idx = torch.randint(0, 12, (2, 4, 3, 2))
    idx[0, 1, 0, 1] = -1  # "no input" slot
    dense = torch.zeros(2, 4, 3, 12)
    for k in range(2):
        dense += torch.nn.functional.one_hot(idx[..., k].clamp(min=0), 12) * (idx[..., k] >= 0).unsqueeze(-1)
    torch.testing.assert_close(model(idx, [3]), model(dense, [3]))


def test_gate_offset_only_on_gate_blocks():
    model = build(Arch("lstm", 3, 1, 2, 2), random_hps("lstm", 1, b_fg=2.5), [0])
    off = model.gate_offset[0, 0, 0]
    assert spec("lstm").blocks == ("i", "f", "c", "o")
    assert off[3:6].eq(2.5).all() and off[:3].eq(0).all() and off[6:].eq(0).all()


def test_cpu_tanh_is_tanh_in_value_and_gradient():
    """cells.tanh computes tanh through the (faster on CPU) sigmoid identity."""
    from rnncap.model.cells import tanh

    z = (torch.randn(3, 257, 19) * 4).requires_grad_()
    z2 = z.detach().clone().requires_grad_()
    g = torch.randn(3, 257, 19)
    y, y2 = tanh(z), torch.tanh(z2)
    assert (y - y2).abs().max() < 1e-6
    (y * g).sum().backward()
    (y2 * g).sum().backward()
    assert torch.allclose(z.grad, z2.grad, atol=1e-5)
    assert torch.equal(tanh(torch.tensor([0.0, 50.0, -50.0])), torch.tensor([0.0, 1.0, -1.0]))


def test_select_keeps_the_chosen_members_and_their_buffers():
    """Ensemble.select(idx) == an ensemble built from those members alone (weights, b_fg, s(.))."""
    arch = Arch("gru", 4, 2, 3, 2)
    hps = random_hps("gru", 3, seed=5)
    hps[0]["nonlinearity"], hps[2]["nonlinearity"] = "relu", "tanh"
    ens = build(arch, hps, [20, 21, 22])
    ens.select([2, 0])
    ref = build(arch, [hps[2], hps[0]], [22, 20])
    assert ens.E == 2 and isinstance(ens.flat, torch.nn.Parameter)
    torch.testing.assert_close(ens.flat.data, ref.flat.data)
    torch.testing.assert_close(ens.gate_offset, ref.gate_offset)
    assert torch.equal(ens.relu, ref.relu)
    x = torch.randn(2, 5, 4, 3)
    torch.testing.assert_close(ens(x, [4]), ref(x, [4]))


@pytest.mark.parametrize("mode", ["tanh", "relu", "mixed"])
def test_lstm_layer_is_the_lstm_equations_in_value_and_gradient(mode):
    """cells.lstm_layer (all T steps, backpropagated by hand) against the paper's equations
    through autograd: outputs and the gradients of inputs, recurrent weights and initial states."""
    from rnncap.model.cells import lstm_layer

    E, T, B, n = 3, 6, 4, 5
    relu = torch.tensor([True, False, True]).view(E, 1, 1)
    s = {"tanh": torch.tanh, "relu": torch.relu}.get(mode, lambda z: torch.where(relu, torch.relu(z), torch.tanh(z)))

    def equations(xp, W, h0, c0):
        h, c, hs = h0.expand(E, B, n), c0.expand(E, B, n), []
        for t in range(T):
            zi, zf, zc, zo = (xp[:, t] + h @ W).chunk(4, dim=-1)
            c = sig(zf) * c + sig(zi) * s(zc)
            h = sig(zo) * torch.tanh(c)
            hs.append(h)
        return torch.stack(hs, 1)

    torch.manual_seed(0)
    xp, W = torch.randn(E, T, B, 4 * n), torch.randn(E, n, 4 * n) * 0.6
    h0, c0 = torch.randn(E, 1, n), torch.randn(E, 1, n)
    g = torch.randn(E, T, B, n)
    grads = []
    for f in (lambda *a: lstm_layer(a[0], a[1], a[2].expand(E, B, n), a[3].expand(E, B, n), relu, mode), equations):
        ins = [t.clone().requires_grad_() for t in (xp, W, h0, c0)]
        out = f(*ins)
        grads.append((out, *torch.autograd.grad((out * g).sum(), ins)))
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b)
    with torch.no_grad():  # evaluation: the same forward, nothing kept for a backward pass
        torch.testing.assert_close(lstm_layer(xp, W, h0.expand(E, B, n), c0.expand(E, B, n), relu, mode), grads[1][0])


def test_ensemble_lstm_whole_layer_equals_its_steps(monkeypatch):
    """The ensemble's LSTM through cells.lstm_layer (CPU, eager) == through step_lstm one step at a
    time (the path torch.compile and cuda take): readouts and every parameter's gradient."""
    arch = Arch("lstm", 4, 2, 3, 2)
    hps = random_hps("lstm", 3, seed=3)
    hps[0]["nonlinearity"], hps[1]["nonlinearity"] = "relu", "tanh"
    results = fused_and_steps(monkeypatch, arch, hps)
    torch.testing.assert_close(results[0][0], results[1][0])
    torch.testing.assert_close(results[0][1], results[1][1])


def fused_and_steps(monkeypatch, arch, hps):
    """(readouts, flat gradient) of one 3-member ensemble on the CPU's whole-layer paths, then on
    the step-by-step path (the one torch.compile and cuda take)."""
    from rnncap.model.ensemble import Ensemble

    x = torch.randn(3, 7, 5, arch.n_in)
    results = []
    for fused in (True, False):
        monkeypatch.setattr(Ensemble, "_fused", lambda self, x, f=fused: f)
        model = build(arch, hps, [4, 5, 6])
        out = model(x, [2, 6])
        (out ** 2).sum().backward()
        results.append((out, model.flat.grad))
    return results


def _counting_native(monkeypatch):
    """Swap the LSTM spec's native op for one that counts its calls."""
    import dataclasses

    from rnncap.model import cells

    calls = []
    s = cells.SPECS["lstm"]

    def native(*a):
        calls.append(a[0].shape)
        return s.native(*a)

    monkeypatch.setitem(cells.SPECS, "lstm", dataclasses.replace(s, native=native))
    return calls


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_ensemble_lstm_native_op_equals_its_steps(monkeypatch, dtype):
    """From width 16 on, an all-tanh LSTM on CPU runs PyTorch's own fused op (oneDNN in fp32), one
    member at a time: readouts and every parameter's gradient equal the step-by-step path."""
    torch.set_default_dtype(dtype)
    calls = _counting_native(monkeypatch)
    arch = Arch("lstm", 16, 2, 3, 2)
    hps = random_hps("lstm", 3, seed=4)
    for hp in hps:
        hp["nonlinearity"] = "tanh"
    results = fused_and_steps(monkeypatch, arch, hps)
    assert calls == [(3, 7, 5, 3), (3, 7, 5, 16)]  # both layers, the fused run only
    tol = {} if dtype == torch.float64 else {"rtol": 1e-4, "atol": 1e-5}
    torch.testing.assert_close(results[0][0], results[1][0], **tol)
    torch.testing.assert_close(results[0][1], results[1][1], **tol)


@pytest.mark.parametrize("case", ["native", "narrow", "relu member", "index input"])
def test_lstm_native_op_only_where_it_applies(monkeypatch, case):
    """The fused op has tanh as s(.) and projects dense inputs itself: a ReLU member, index inputs
    (summed one-hot) or a layer narrower than `native_min_width` keep the engine's own kernel."""
    calls = _counting_native(monkeypatch)
    width = 8 if case == "narrow" else 16
    hps = random_hps("lstm", 2, seed=5)
    for hp in hps:
        hp["nonlinearity"] = "tanh"
    if case == "relu member":
        hps[1]["nonlinearity"] = "relu"
    model = build(Arch("lstm", width, 1, 6, 2, "index" if case == "index input" else "dense"), hps, [1, 2])
    x = torch.randint(0, 6, (2, 4, 3, 2)) if case == "index input" else torch.randn(2, 4, 3, 6)
    model(x, [3]).sum().backward()
    assert len(calls) == (case == "native")
