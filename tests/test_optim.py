"""The unified ensemble optimizer equals the textbook optimizers, member by member."""

import math

import pytest
import torch

from rnncap.model.optim import EnsembleOptimizer


def hp(opt, lr=0.05, mom_logit=2.0, decay=1.0, clip=1e9, l2=0.0, steps=10):
    return {"optimizer": opt, "lr": lr, "lr_decay": decay, "momentum_logit": mom_logit,
            "clip": clip, "l2": l2, "steps": steps}


def run_ours(hps, grads):
    w = torch.nn.Parameter(torch.ones(len(hps), 3))
    opt = EnsembleOptimizer(w, hps)
    for t, g in enumerate(grads):
        w.grad = g.clone()
        opt.step(t, torch.ones(len(hps), dtype=torch.bool))
    return w.detach()


def run_torch(make, grads, e):
    w = torch.nn.Parameter(torch.ones(3))
    opt = make([w])
    for g in grads:
        w.grad = g[e].clone()
        opt.step()
    return w.detach()


def test_every_optimizer_in_one_ensemble_matches_torch():
    m = 1 / (1 + math.exp(-2.0))
    hps = [hp("sgd"), hp("momentum"), hp("adam")]
    grads = [torch.randn(3, 3, generator=torch.Generator().manual_seed(t)) for t in range(6)]
    ours = run_ours(hps, grads)
    ref = [
        run_torch(lambda p: torch.optim.SGD(p, lr=0.05), grads, 0),
        run_torch(lambda p: torch.optim.SGD(p, lr=0.05, momentum=m), grads, 1),
        run_torch(lambda p: torch.optim.Adam(p, lr=0.05, betas=(m, 0.999), eps=1e-8), grads, 2),
    ]
    for e in range(3):
        torch.testing.assert_close(ours[e], ref[e])


def test_rmsprop_is_bias_corrected_second_moment():
    rho = 1 / (1 + math.exp(-3.0))
    grads = [torch.full((1, 3), 2.0), torch.full((1, 3), -1.0)]
    ours = run_ours([hp("rmsprop", mom_logit=3.0)], grads)
    w, v = torch.ones(3), torch.zeros(3)
    for t, g in enumerate(grads, start=1):
        v = rho * v + (1 - rho) * g[0] ** 2
        w = w - 0.05 * g[0] / ((v / (1 - rho**t)).sqrt() + 1e-8)
    torch.testing.assert_close(ours[0], w)


def test_lr_decays_exponentially_and_stops_after_steps():
    w = torch.nn.Parameter(torch.zeros(1, 1))
    opt = EnsembleOptimizer(w, [hp("sgd", lr=0.1, decay=0.01, steps=4)])
    on = torch.ones(1, dtype=torch.bool)
    assert opt.lr_at(0, on).item() == pytest.approx(0.1)
    assert opt.lr_at(2, on).item() == pytest.approx(0.1 * 0.01**0.5)
    assert opt.lr_at(4, on).item() == 0.0
    assert opt.lr_at(1, ~on).item() == 0.0


def test_clipping_is_per_member_global_norm_and_frozen_members_do_not_move():
    hps = [hp("sgd", lr=1.0, clip=1.0), hp("sgd", lr=1.0, clip=1.0)]
    w = torch.nn.Parameter(torch.zeros(2, 2))
    opt = EnsembleOptimizer(w, hps)
    w.grad = torch.tensor([[3.0, 4.0], [float("nan"), 1.0]])
    opt.step(0, torch.tensor([True, False]))
    torch.testing.assert_close(w.detach()[0], torch.tensor([-0.6, -0.8]))
    assert w.detach()[1].eq(0).all()  # frozen (diverged) member untouched, no NaN leaks
    assert torch.isfinite(opt.m).all()


def test_select_mid_run_equals_the_members_trained_alone():
    """Dropping members (successive halving) leaves the others' updates and state unchanged."""
    hps = [hp("adam", lr=0.03), hp("rmsprop", mom_logit=3.0), hp("momentum", decay=0.1)]
    grads = [torch.randn(3, 3, generator=torch.Generator().manual_seed(t)) for t in range(6)]
    w = torch.nn.Parameter(torch.ones(3, 3))
    opt = EnsembleOptimizer(w, hps)
    for t, g in enumerate(grads):
        if t == 3:
            w = torch.nn.Parameter(w.detach()[[2, 0]].clone())
            opt.select([2, 0], w)
        w.grad = (g if t < 3 else g[[2, 0]]).clone()
        opt.step(t, torch.ones(w.shape[0], dtype=torch.bool))
    for k, e in enumerate([2, 0]):
        torch.testing.assert_close(w.detach()[k], run_ours([hps[e]], [g[e:e + 1] for g in grads])[0])
