"""The six paper tasks (spec §3, §9 #1–3, #17–21): data, batches, losses, metrics.

Every defining invariant is checked against an independent computation written
here (plain loops, string parsing, numpy), not against the task's own helpers."""

import json
import math
import random
import re
import zipfile

import numpy as np
import pytest
import torch

from rnncap import io
from rnncap.model.ensemble import Arch, Ensemble
from rnncap.tasks import TASKS, Batch, Task, TaskError, get_task_class, load_task
from rnncap.tasks.arithmetic import INPUT_ALPHABET, OUTPUT_ALPHABET
from rnncap.tasks.capacity import mutual_information_bits

torch.set_num_threads(1)

CAP = {"n_in": 10, "seq_len": 6, "n_samples": 600}
MEM = {"n_in": 8, "seq_len": 4, "n_eval": 200}
RCF = {"n_samples": 3000, "dim": 6, "tau": 50.0, "seq_len": 5}
PAR = {"seq_len": 30, "n_eval": 70}
ARI = {"n_eval": 70}
TXT = {"seq_len": 20, "warmup": 5, "n_eval": 40}
B = 16

# member HPs (already resolved) for E = 3: different per member
HPS = {
    "capacity": [{"b": 7, "presentation": "first"}, {"b": 600, "presentation": "every"},
                 {"b": 100, "presentation": "first"}],
    "arithmetic": [{"compute_steps": 1}, {"compute_steps": 6}, {"compute_steps": 3}],
}


def write_corpus(path, n_chars=60_000, seed=0):
    rng = random.Random(seed)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(1, 9))) for _ in range(500)]
    text = ""
    while len(text) < n_chars:
        text += " " + rng.choice(words)
    text = text[:n_chars]
    path.write_text(text)
    return text


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("tasks")
    corpus = root / "text8.txt"
    text = write_corpus(corpus)
    opts = {"capacity": CAP, "memory": MEM, "rcf": RCF, "parentheses": PAR, "arithmetic": ARI,
            "text8": {**TXT, "path": str(corpus)}}
    for name, o in opts.items():
        get_task_class(name).make_data(0, root / name, **o)
    return {"root": root, "opts": opts, "text": text}


def task_of(data, name, device="cpu"):
    return load_task(name, data["root"] / name, device=device, **data["opts"][name])


def hps_of(name):
    return HPS.get(name, [{}] * 3)


def gens(*seeds):
    return [torch.Generator().manual_seed(s) for s in seeds]


def assert_batch_equal(a: Batch, b: Batch):
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert (a.w is None) == (b.w is None)
    if a.w is not None:
        assert torch.equal(a.w, b.w)


def check_x(task, x, E, Bn):
    assert x.shape[:3] == (E, task.seq_len, Bn)
    if task.input_kind == "dense":
        assert x.dtype == torch.float32 and x.shape[3] == task.n_in
    else:
        assert x.dtype == torch.int64
        assert int(x.min()) >= -1 and int(x.max()) < task.n_in


# -- registry and options -------------------------------------------------------------
def test_registry_names_and_errors(data):
    assert list(TASKS) == ["capacity", "memory", "rcf", "text8", "parentheses", "arithmetic"]
    assert all(issubclass(c, Task) and isinstance(c.DEFAULTS, dict) for c in TASKS.values())
    with pytest.raises(TaskError, match="unknown task 'nope'; expected one of capacity"):
        get_task_class("nope")
    with pytest.raises(TaskError, match="capacity: unknown option 'n_inn'"):
        get_task_class("capacity").make_data(0, data["root"] / "x", n_inn=3)
    with pytest.raises(TaskError, match="memory: unknown option 'bogus'"):
        load_task("memory", data["root"] / "memory", **MEM, bogus=1)
    with pytest.raises(TaskError, match="memory.n_in"):
        get_task_class("memory").make_data(0, data["root"] / "x", n_in="many")



@pytest.mark.parametrize("name", list(TASKS))
def test_facts_are_what_the_instance_has(data, name):
    """The planner sizes models from Task.facts without data; the loaded task must agree."""
    task, f = task_of(data, name), get_task_class(name).facts(data["opts"][name])
    assert (f.n_in, f.n_out, f.seq_len, f.readout_steps, f.input_kind, f.options) == \
        (task.n_in, task.n_out, task.seq_len, task.readout_steps, task.input_kind, task.options)
    assert task.data_digest == io.digest(io.torch_load(data["root"] / name / "data.pt"))


def test_data_dir_must_match_options_and_be_complete(data, tmp_path):
    with pytest.raises(TaskError, match="n_eval"):
        load_task("memory", data["root"] / "memory", **{**MEM, "n_eval": 5})
    with pytest.raises(TaskError, match="n_in"):  # defaults differ from what was made
        load_task("memory", data["root"] / "memory")
    get_task_class("memory").make_data(1, tmp_path / "m", **MEM)
    (tmp_path / "m" / "data.pt").unlink()
    with pytest.raises(TaskError, match="data.pt"):
        load_task("memory", tmp_path / "m", **MEM)
    with pytest.raises(TaskError, match="meta.json"):
        load_task("memory", tmp_path / "nothing", **MEM)
    meta = json.loads((data["root"] / "memory" / "meta.json").read_text())
    assert meta["task"] == "memory" and meta["seed"] == 0 and meta["options"] == MEM


# -- generic contract, every task -------------------------------------------------------
@pytest.mark.parametrize("name", list(TASKS))
def test_shapes_and_dtypes(data, name):
    task = task_of(data, name)
    hps = hps_of(name)
    b = task.train_batch(gens(1, 2, 3), hps, B)
    check_x(task, b.x, 3, B)
    assert b.y.shape[0] == 3 and b.y.device == task.device
    if b.w is not None:
        assert b.w.shape == (3, B)
    assert list(task.readout_steps) == sorted(set(task.readout_steps))
    assert 0 <= task.readout_steps[0] and task.readout_steps[-1] == task.seq_len - 1
    for split in ("train", "valid", "eval"):
        n = 0
        for eb in task.eval_batches(split, hps, 32):
            check_x(task, eb.x, 3, eb.x.shape[2])
            assert eb.x.shape[2] <= 32 and eb.y.shape[0] == 3
            n += eb.x.shape[2]
        assert n > 0


@pytest.mark.parametrize("name", list(TASKS))
def test_model_runs_on_task_batches(data, name):
    """The model accepts the batches, and the losses are finite (E,) tensors with gradients."""
    task = task_of(data, name)
    model = Ensemble(Arch("gru", 4, 1, task.n_in, task.n_out, task.input_kind), 3)
    with torch.no_grad():
        model.flat.normal_(0, 0.3, generator=torch.Generator().manual_seed(0))
    b = task.train_batch(gens(1, 2, 3), hps_of(name), B)
    out = model(b.x, task.readout_steps)
    assert out.shape == (3, len(task.readout_steps), B, task.n_out)
    loss = task.loss(out, b)
    assert loss.shape == (3,) and torch.isfinite(loss).all()
    loss.sum().backward()
    assert torch.isfinite(model.flat.grad).all() and model.flat.grad.abs().sum() > 0
    sums = {}
    with torch.no_grad():
        for eb in task.eval_batches("eval", hps_of(name), 64):
            for k, v in task.eval_sums(model(eb.x, task.readout_steps), eb).items():
                assert v.shape == (3,) and v.dtype == torch.float64
                sums[k] = sums.get(k, 0) + v
    res = task.finalize(sums, hps_of(name))
    assert {"loss", "metric"} <= set(res) and all(v.shape == (3,) for v in res.values())


@pytest.mark.parametrize("name", list(TASKS))
def test_determinism(data, name, tmp_path):
    cls, opts = get_task_class(name), data["opts"][name]
    cls.make_data(0, tmp_path / "a", **opts)
    cls.make_data(7, tmp_path / "b", **opts)
    same = io.torch_load(data["root"] / name / "data.pt")
    a, other = io.torch_load(tmp_path / "a" / "data.pt"), io.torch_load(tmp_path / "b" / "data.pt")
    assert same.keys() == a.keys() and all(torch.equal(same[k], a[k]) for k in a)
    assert (tmp_path / "a" / "meta.json").read_text() == (data["root"] / name / "meta.json").read_text()
    assert any(not torch.equal(a[k], other[k]) for k in a)  # text8: the same text, other pointers
    task = task_of(data, name)
    hps = hps_of(name)
    assert_batch_equal(task.train_batch(gens(1, 2, 3), hps, B), task.train_batch(gens(1, 2, 3), hps, B))
    d = task.train_batch(gens(4, 5, 6), hps, B)
    assert not torch.equal(task.train_batch(gens(1, 2, 3), hps, B).x, d.x)
    e1 = list(task.eval_batches("eval", hps, 32))
    e2 = list(task_of(data, name).eval_batches("eval", hps, 32))
    for p, q in zip(e1, e2, strict=True):
        assert_batch_equal(p, q)


@pytest.mark.parametrize("name", list(TASKS))
def test_member_alone_equals_member_in_ensemble(data, name):
    task = task_of(data, name)
    hps = hps_of(name)
    together = task.train_batch(gens(11, 12, 13), hps, B)
    for e, s in enumerate((11, 12, 13)):
        alone = task.train_batch(gens(s), hps[e:e + 1], B)
        if alone.w is None:
            assert torch.equal(together.x[e], alone.x[0]) and torch.equal(together.y[e], alone.y[0])
        else:  # a full-batch task pads to the largest member's set: compare the rows that weigh
            mt, ma = together.w[e] > 0, alone.w[0] > 0
            assert torch.equal(together.x[e][:, mt], alone.x[0][:, ma])
            assert torch.equal(together.y[e][mt], alone.y[0][ma])
            assert torch.equal(together.w[e][mt], alone.w[0][ma])
    # the same split, member by member, whoever else is evaluated beside it
    if name != "capacity":  # capacity: see test_capacity_eval_covers_each_members_set
        for p, q in zip(task.eval_batches("valid", hps, 32), task.eval_batches("valid", hps[2:], 32), strict=True):
            assert torch.equal(p.x[2], q.x[0]) and torch.equal(p.y[2], q.y[0])


# -- capacity ---------------------------------------------------------------------------
def test_mutual_information():
    assert mutual_information_bits(100, 1.0) == 100
    assert mutual_information_bits(100, 0.0) == 100  # a perfectly inverted classifier carries all bits
    assert mutual_information_bits(100, 0.5) == pytest.approx(0, abs=1e-12)
    for p in (0.1, 0.3, 0.77, 0.99):
        h = -(p * math.log2(p) + (1 - p) * math.log2(1 - p))
        assert mutual_information_bits(37, p) == pytest.approx(37 * (1 - h))
        assert mutual_information_bits(37, p) == pytest.approx(mutual_information_bits(37, 1 - p))
    p = torch.tensor([0.0, 0.5, 0.9, 1.0], dtype=torch.float64)
    got = mutual_information_bits(torch.full_like(p, 10.0), p)
    assert torch.allclose(got, torch.tensor([10.0, 0.0, 10 * (1 + 0.9 * math.log2(0.9) + 0.1 * math.log2(0.1)), 10.0],
                                            dtype=torch.float64))


def test_capacity_data_distinct_prefix_stable_and_size_checked(tmp_path):
    cls = get_task_class("capacity")
    cls.make_data(3, tmp_path / "all", n_in=8, seq_len=5, n_samples=256)
    x = io.torch_load(tmp_path / "all" / "data.pt")["x"]
    assert x.dtype == torch.uint8 and x.shape == (256, 8) and set(x.unique().tolist()) <= {0, 1}
    assert len({tuple(r) for r in x.tolist()}) == 256  # every input distinct (here: all 2**8 of them)
    for n_in, small, big in ((8, 100, 256), (40, 4100, 9000)):  # permutation path, and chunked path across chunks
        cls.make_data(3, tmp_path / f"s{n_in}", n_in=n_in, seq_len=5, n_samples=small)
        cls.make_data(3, tmp_path / f"b{n_in}", n_in=n_in, seq_len=5, n_samples=big)
        s, b = io.torch_load(tmp_path / f"s{n_in}" / "data.pt"), io.torch_load(tmp_path / f"b{n_in}" / "data.pt")
        assert torch.equal(s["x"], b["x"][:small]) and torch.equal(s["y"], b["y"][:small])
        assert len({tuple(r) for r in b["x"].tolist()}) == big
        assert 0.45 < b["y"].float().mean() < 0.55 and 0.45 < b["x"].float().mean() < 0.55
    with pytest.raises(TaskError, match=r"capacity.n_samples.*2\*\*n_in"):
        cls.make_data(0, tmp_path / "x", n_in=8, seq_len=5, n_samples=257)


def test_capacity_hps_and_readout(data, tmp_path):
    task = task_of(data, "capacity")
    names = {d.name: d for d in task.hp_space()}
    assert names["b_ratio"].low == 0.1 and names["b_ratio"].high == 10 and names["b_ratio"].log
    assert set(names["presentation"].choices) == {"first", "every"}
    assert task.resolve_hps({"b_ratio": 0.5, "presentation": "every"}, 101) == {"b": 50, "presentation": "every"}
    assert task.resolve_hps({"b_ratio": 10, "presentation": "first"}, 1000)["b"] == CAP["n_samples"]
    assert task.resolve_hps({"b_ratio": 0.1, "presentation": "first"}, 2)["b"] == 1
    assert task.readout_steps == (4, 5) and task.n_out == 2  # T = 6: steps 5 and 6 (1-based)
    # full batch: rows stop at the largest member's b, however large batch_size is
    hps = [{"b": 5, "presentation": "first"}, {"b": 9, "presentation": "every"}]
    full = task.train_batch(gens(1, 2), hps, 4096)
    assert full.x.shape[2] == 9 and full.w.sum(-1).tolist() == [5.0, 9.0]
    assert task.train_batch(gens(1, 2), hps, 8).x.shape[2] == 8  # b > batch_size: minibatches
    get_task_class("capacity").make_data(0, tmp_path / "t3", n_in=4, seq_len=3, n_samples=16)
    assert load_task("capacity", tmp_path / "t3", n_in=4, seq_len=3, n_samples=16).readout_steps == (2,)


def test_capacity_batches_draw_from_each_members_first_b(data):
    task = task_of(data, "capacity")
    d = io.torch_load(data["root"] / "capacity" / "data.pt")
    row_of = {tuple(r): i for i, r in enumerate(d["x"].tolist())}
    hps = HPS["capacity"]
    b = task.train_batch(gens(1, 2, 3), hps, B)
    for e, h in enumerate(hps):
        if h["presentation"] == "first":
            assert (b.x[e, 1:] == 0).all()
        else:
            assert (b.x[e] == b.x[e, :1]).all()
        idx = [row_of[tuple(int(v) for v in r)] for r in b.x[e, 0].tolist()]
        assert all(i < h["b"] for i in idx)
        assert b.y[e].tolist() == [int(d["y"][i]) for i in idx]
        if h["b"] <= B:  # full set, each sample exactly once
            assert b.w[e].tolist() == [1.0] * h["b"] + [0.0] * (B - h["b"])
            assert sorted(idx[:h["b"]]) == list(range(h["b"]))
        else:
            assert (b.w[e] == 1).all()


def test_capacity_eval_covers_each_members_set(data):
    task = task_of(data, "capacity")
    hps = HPS["capacity"]
    batches = list(task.eval_batches("eval", hps, 64))
    w = torch.cat([b.w for b in batches], 1)
    assert w.sum(1).tolist() == [h["b"] for h in hps]
    assert sum(b.x.shape[2] for b in batches) == max(h["b"] for h in hps)

    def run(logit_fn, hps, batches):
        sums = {}
        for b in batches:
            out = logit_fn(b)
            for k, v in task.eval_sums(out, b).items():
                sums[k] = sums.get(k, 0) + v
        return task.finalize(sums, hps)

    R = len(task.readout_steps)
    perfect = lambda b: 20 * torch.nn.functional.one_hot(b.y, 2).float()[:, None].expand(-1, R, -1, -1)  # noqa: E731
    res = run(perfect, hps, batches)
    assert res["accuracy"].tolist() == [1.0, 1.0, 1.0]
    assert res["metric"].tolist() == [7.0, 600.0, 100.0] and res["b"].tolist() == [7.0, 600.0, 100.0]
    assert res["loss"].max() < 1e-6
    # predict label 1 everywhere: accuracy = fraction of ones in each member's first b labels
    y = io.torch_load(data["root"] / "capacity" / "data.pt")["y"].double()
    ones = lambda b: torch.tensor([0.0, 1.0]).expand(3, R, b.x.shape[2], 2)  # noqa: E731
    res = run(ones, hps, batches)
    for e, h in enumerate(hps):
        p = float(y[:h["b"]].mean())
        assert res["accuracy"][e] == pytest.approx(p)
        h2 = 0.0 if p in (0, 1) else -(p * math.log2(p) + (1 - p) * math.log2(1 - p))
        assert res["metric"][e] == pytest.approx(h["b"] * (1 - h2))
    # a member alone gets the same result as inside the ensemble
    alone = run(perfect, hps[2:], list(task.eval_batches("eval", hps[2:], 64)))
    assert alone["metric"].tolist() == [100.0]
    # the decision is the LAST readout step: wrong at step 4, right at step 5 -> accuracy 1
    b = batches[0]
    out = perfect(b).clone()
    out[:, 0] = -out[:, 0]
    assert task.eval_sums(out, b)["correct"].tolist() == b.w.sum(1).tolist()


def test_capacity_loss_is_weighted_mean_ce(data):
    task = task_of(data, "capacity")
    b = task.train_batch(gens(1, 2, 3), HPS["capacity"], B)
    R = len(task.readout_steps)
    assert torch.allclose(task.loss(torch.zeros(3, R, B, 2), b), torch.full((3,), math.log(2)))
    out = torch.zeros(3, R, B, 2)
    out[0, :, 0, :] = torch.tensor([0.0, 100.0]) if b.y[0, 0] == 0 else torch.tensor([100.0, 0.0])  # row 0 of member 0 very wrong
    expect0 = (100 + (b.w[0].sum() - 1) * math.log(2)) / b.w[0].sum()
    assert task.loss(out, b)[0] == pytest.approx(float(expect0), rel=1e-5)


# -- memory ----------------------------------------------------------------------------
def test_memory_target_is_the_input_shown_once(data):
    task = task_of(data, "memory")
    assert task.n_out == task.n_in == 8 and task.readout_steps == (3,)
    b = task.train_batch(gens(1, 2, 3), [{}] * 3, 4096)
    assert torch.equal(b.x[:, 0], b.y) and (b.x[:, 1:] == 0).all()
    s3 = math.sqrt(3)
    assert b.y.abs().max() <= s3 and b.y.abs().max() > 0.99 * s3
    assert b.y.var().item() == pytest.approx(1.0, abs=0.03) and abs(b.y.mean().item()) < 0.03
    d = io.torch_load(data["root"] / "memory" / "data.pt")
    assert not torch.equal(d["valid"], d["eval"]) and d["valid"].shape == (200, 8)
    # losses: out = target -> 0; out = 0 -> mean square of the target, per dimension
    assert torch.equal(task.loss(b.y[:, None].clone(), b), torch.zeros(3))
    assert torch.allclose(task.loss(torch.zeros(3, 1, 4096, 8), b), b.y.pow(2).mean(dim=(1, 2)))
    sums = {}
    for eb in task.eval_batches("eval", [{}] * 3, 64):
        for k, v in task.eval_sums(torch.zeros(3, 1, eb.y.shape[1], 8), eb).items():
            sums[k] = sums.get(k, 0) + v
    res = task.finalize(sums, [{}] * 3)
    want = float((d["eval"].double() ** 2).mean())
    assert res["metric"].tolist() == pytest.approx([want] * 3) and task.higher_is_better is False


# -- rcf -------------------------------------------------------------------------------
def test_rcf_data_and_weights(data):
    task = task_of(data, "rcf")
    d = io.torch_load(data["root"] / "rcf" / "data.pt")
    assert torch.allclose(d["x"].norm(dim=1), torch.ones(RCF["n_samples"]), atol=1e-5)
    assert d["y"].std().item() == pytest.approx(1.0, abs=0.05)
    batches = list(task.eval_batches("eval", [{}] * 2, 1000))
    beta = torch.cat([b.w[0] for b in batches]).double()
    assert beta.sum().item() == pytest.approx(1.0, abs=1e-12)
    i = np.arange(1, RCF["n_samples"] + 1)
    ref = 1 / (i + RCF["tau"])
    assert np.allclose(beta.numpy(), ref / ref.sum(), rtol=1e-12)
    b = task.train_batch(gens(1), [{}], 8)
    assert (b.x == b.x[:, :1]).all()  # the input at every step
    # training draws follow beta: compare the draw distribution in 4 bins with the weights
    t = task.train_batch(gens(5), [{}], 40000)
    row_of = {tuple(r): k for k, r in enumerate(d["x"].tolist())}
    idx = np.array([row_of[tuple(r)] for r in t.x[0, 0].tolist()])
    assert np.array_equal(t.y[0].numpy(), d["y"].numpy()[idx])
    edges = [0, 100, 500, 1500, 3000]
    for lo, hi in zip(edges, edges[1:]):
        p = beta[lo:hi].sum().item()
        assert np.mean((idx >= lo) & (idx < hi)) == pytest.approx(p, abs=4 * math.sqrt(p * (1 - p) / 40000))


def test_rcf_losses(data):
    task = task_of(data, "rcf")
    d = io.torch_load(data["root"] / "rcf" / "data.pt")
    b = task.train_batch(gens(1, 2), [{}] * 2, 64)
    assert torch.equal(task.loss(b.y[:, None, :, None].clone(), b), torch.zeros(2))
    assert torch.allclose(task.loss(torch.zeros(2, 1, 64, 1), b), b.y.pow(2).mean(1))
    sums = {}
    for eb in task.eval_batches("eval", [{}] * 2, 512):
        out = torch.stack([torch.zeros_like(eb.y[0]), eb.y[1]])[:, None, :, None]  # member 1 perfect
        for k, v in task.eval_sums(out, eb).items():
            sums[k] = sums.get(k, 0) + v
    res = task.finalize(sums, [{}] * 2)
    i = np.arange(1, RCF["n_samples"] + 1)
    beta = 1 / (i + RCF["tau"])
    want = float((beta / beta.sum() * d["y"].double().numpy() ** 2).sum())
    assert res["metric"][0].item() == pytest.approx(want, rel=1e-6) and res["metric"][1].item() == 0


# -- parentheses -----------------------------------------------------------------------
def test_parentheses_counts_recounted_by_hand(data):
    task = task_of(data, "parentheses")
    assert task.n_in == 300 and task.n_out == 100 and task.readout_steps == (PAR["seq_len"] - 1,)
    batches = [task.train_batch(gens(1, 2, 3), [{}] * 3, 12), next(task.eval_batches("valid", [{}] * 3, 12))]
    noise = total = 0
    for b in batches:
        assert b.x.shape[-1] == 10 and b.y.shape == (3, 12, 10)
        for e in range(3):
            for i in range(12):
                for k in range(10):
                    count = 0
                    for t in range(PAR["seq_len"]):
                        v = int(b.x[e, t, i, k])
                        assert 30 * k <= v < 30 * k + 30
                        sym = v - 30 * k
                        if sym == k:  # opens its own type
                            count = min(count + 1, 9)
                        elif sym == 10 + k:  # closes its own type
                            count = max(count - 1, 0)
                        noise += sym >= 20
                        total += 1
                    assert int(b.y[e, i, k]) == count
    assert noise / total == pytest.approx(0.5, abs=0.03)
    d = io.torch_load(data["root"] / "parentheses" / "data.pt")
    assert d["eval"].dtype == torch.uint8 and d["eval"].shape == (70, 30, 10)
    # symbol frequencies: each of the 20 paren symbols 0.5/20, each of the 10 noise symbols 0.5/10
    want = np.array([0.025] * 20 + [0.05] * 10)
    big = task.train_batch(gens(4), [{}], 2000).x[0] - 30 * torch.arange(10)
    for sym in (big, torch.cat([d[s].long() for s in ("train", "valid", "eval")])):
        freq = np.bincount(sym.flatten().numpy(), minlength=30) / sym.numel()
        assert np.abs(freq - want).max() < 5 * math.sqrt(0.05 / sym.numel()), freq


def test_parentheses_saturation_and_clamp(data):
    from rnncap.tasks.parentheses import final_counts
    T = 30
    s = torch.full((1, T, 10), 25)  # noise
    s[0, :12, 3] = 3  # 12 opens of type 3 -> 9
    s[0, :3, 4] = 14  # closes first -> stays 0
    s[0, 3:5, 4] = 4  # then two opens -> 2
    s[0, :5, 5] = 6  # opens of type 6 are noise for stream 5
    for method in ("loop", "tree"):
        assert final_counts(s, method)[0].tolist() == [0, 0, 0, 9, 2, 0, 0, 0, 0, 0]
    # both methods agree on random walks of every length up to 40 (odd lengths exercise the tree's padding)
    g = torch.Generator().manual_seed(0)
    for T in range(1, 41):
        opens = torch.randint(0, 2, (64, T, 10), generator=g)  # only parens: saturation and clamping are frequent
        sym = torch.where(opens == 1, torch.arange(10), torch.arange(10) + 10)
        assert torch.equal(final_counts(sym, "loop"), final_counts(sym, "tree")), T


def test_parentheses_loss_and_metrics(data):
    task = task_of(data, "parentheses")
    b = task.train_batch(gens(1, 2, 3), [{}] * 3, B)
    uniform = torch.zeros(3, 1, B, 100)
    assert torch.allclose(task.loss(uniform, b), torch.full((3,), 10 * math.log(10)))
    perfect = (30 * torch.nn.functional.one_hot(b.y, 10).float()).reshape(3, 1, B, 100)
    assert task.loss(perfect, b).max() < 1e-9
    wrong = perfect.clone().reshape(3, B, 10, 10)
    wrong[0, :, 0] = wrong[0, :, 0].roll(1, -1)  # member 0: stream 0 always wrong
    res = task.finalize(task.eval_sums(wrong.reshape(3, 1, B, 100), b), [{}] * 3)
    assert res["accuracy"].tolist() == pytest.approx([0.9, 1.0, 1.0])
    assert res["metric"][0] == pytest.approx(30.0, rel=1e-6) and res["loss"][1] < 1e-9


# -- arithmetic ------------------------------------------------------------------------
def test_arithmetic_answers_parse_back_to_the_sum(data):
    task = task_of(data, "arithmetic")
    assert task.n_in == 14 and task.n_out == 12 and task.readout_steps == tuple(range(26, 36))
    hps = HPS["arithmetic"]
    pat = re.compile(r"^( *)(-?[1-9]\d*|0)\+(-?[1-9]\d*|0)=( *)$")
    for b in (task.train_batch(gens(1, 2, 3), hps, 64), next(task.eval_batches("eval", hps, 64))):
        assert b.x.shape == (3, 36, 64, 1) and b.y.shape == (3, 64, 10)
        for e, h in enumerate(hps):
            for i in range(64):
                s = "".join(INPUT_ALPHABET[int(v)] for v in b.x[e, :, i, 0])
                m = pat.match(s)
                assert m, s
                a, c = int(m.group(2)), int(m.group(3))
                assert -10**7 <= a <= 10**7 and -10**7 <= c <= 10**7
                assert len(m.group(4)) == h["compute_steps"] + 10  # blanks: compute steps + answer field
                ans = "".join(OUTPUT_ALPHABET[int(v)] for v in b.y[e, i])
                assert ans == f"{a + c}".rjust(10) and int(ans) == a + c
    big = task.train_batch(gens(9), hps[:1], 4000)
    ops = [int(m) for i in range(4000) for m in re.findall(r"-?\d+", "".join(
        INPUT_ALPHABET[int(v)] for v in big.x[0, :, i, 0]).split("=")[0].replace("+", " "))]
    assert max(ops) > 9_000_000 and min(ops) < -9_000_000 and sum(o < 0 for o in ops) == pytest.approx(4000, rel=0.1)


def test_arithmetic_extremes_and_errors(data, tmp_path):
    from rnncap.tasks.arithmetic import decode_answer, encode_problem, render_answers, render_inputs
    a = torch.tensor([[-10**7, 10**7, 0]])
    c = torch.tensor([[-10**7, -10**7, 0]])
    x = render_inputs(a, c, torch.tensor([6]), 36)
    assert "".join(INPUT_ALPHABET[int(v)] for v in x[0, :, 0]) == "-10000000+-10000000=" + " " * 16
    assert "".join(INPUT_ALPHABET[int(v)] for v in x[0, :, 2]) == " " * 16 + "0+0=" + " " * 16
    assert [decode_answer(r) for r in render_answers(a + c)[0].tolist()] == [-2 * 10**7, 0, 0]
    assert encode_problem(5, -7, 1) == " " * 20 + "5+-7=" + " " * 11
    task = task_of(data, "arithmetic")
    with pytest.raises(TaskError, match="compute_steps"):
        task.resolve_hps({"compute_steps": 7}, 100)
    assert task.resolve_hps({"compute_steps": 2.0}, 100) == {"compute_steps": 2}
    with pytest.raises(TaskError, match="arithmetic.seq_len"):
        get_task_class("arithmetic").make_data(0, tmp_path / "a", seq_len=35)


def test_arithmetic_loss_and_accuracy(data):
    task = task_of(data, "arithmetic")
    hps = HPS["arithmetic"]
    b = task.train_batch(gens(1, 2, 3), hps, B)
    assert torch.allclose(task.loss(torch.zeros(3, 10, B, 12), b), torch.full((3,), math.log(12)))
    perfect = 30 * torch.nn.functional.one_hot(b.y, 12).float().transpose(1, 2)  # (E, 10, B, 12)
    assert task.loss(perfect, b).max() < 1e-9
    out = perfect.clone()
    out[1, 9, :4] = out[1, 9, :4].roll(1, -1)  # member 1: last digit wrong on 4 sequences
    res = task.finalize(task.eval_sums(out, b), hps)
    assert res["accuracy"].tolist() == [1.0, 1 - 4 / B, 1.0]
    assert res["metric"][1] == pytest.approx(4 * 30 / 10 / B, rel=1e-6)


# -- text8 -----------------------------------------------------------------------------
def test_text8_mapping_and_splits(data):
    from rnncap.tasks.text8 import encode_text
    assert encode_text(b"az ").tolist() == [0, 25, 26]
    with pytest.raises(TaskError, match="text8.path"):
        encode_text(b"ab\n")
    d = io.torch_load(data["root"] / "text8" / "data.pt")
    text = data["text"]
    n = len(text)
    assert [d[s].numel() for s in ("train", "valid", "eval")] == [int(0.9 * n), int(0.05 * n), n - int(0.9 * n) - int(0.05 * n)]
    joined = torch.cat([d["train"], d["valid"], d["eval"]])
    assert joined.dtype == torch.uint8
    assert joined.tolist() == [26 if ch == " " else ord(ch) - ord("a") for ch in text]


def test_text8_batches_are_windows_of_their_split(data):
    task = task_of(data, "text8")
    assert task.n_in == task.n_out == 27 and task.readout_steps == tuple(range(5, 20))
    text = data["text"]
    a, b_ = int(0.9 * len(text)), int(0.9 * len(text)) + int(0.05 * len(text))
    alpha = "abcdefghijklmnopqrstuvwxyz "
    for split, part, b in (("train", text[:a], task.train_batch(gens(1, 2, 3), [{}] * 3, 8)),
                           ("valid", text[a:b_], next(task.eval_batches("valid", [{}] * 3, 8)))):
        assert b.y.shape == (3, 15, 8)
        for e in range(3):
            for i in range(8):
                inp = "".join(alpha[int(v)] for v in b.x[e, :, i, 0])
                tgt = "".join(alpha[int(v)] for v in b.y[e, :, i])
                assert inp in part and len(inp) == 20
                assert (inp + tgt[-1]) in part and tgt == (inp + tgt[-1])[6:]  # next char from step 5 on


def test_text8_bits_per_char(data):
    task = task_of(data, "text8")
    sums = {}
    for eb in task.eval_batches("eval", [{}] * 2, 16):
        out = torch.zeros(2, 15, eb.y.shape[2], 27)
        out[1] = 40 * torch.nn.functional.one_hot(eb.y[1], 27).float()
        for k, v in task.eval_sums(out, eb).items():
            sums[k] = sums.get(k, 0) + v
    res = task.finalize(sums, [{}] * 2)
    assert res["metric"][0].item() == pytest.approx(math.log2(27), rel=1e-6)
    assert res["loss"][0].item() == pytest.approx(math.log2(27), rel=1e-6) and res["metric"][1] < 1e-9
    b = task.train_batch(gens(1), [{}], 4)
    assert task.loss(torch.zeros(1, 15, 4, 27), b).item() == pytest.approx(math.log(27), rel=1e-6)  # nats


def test_synthetic_corpus_is_deterministic_text8_alphabet(tmp_path):
    from rnncap.tasks.text8 import write_synthetic

    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    write_synthetic(a, 5000, 0)
    write_synthetic(b, 5000, 0)
    write_synthetic(c, 5000, 1)
    assert a.read_text() == b.read_text() != c.read_text()
    assert len(a.read_text()) == 5000 and set(a.read_text()) <= set("abcdefghijklmnopqrstuvwxyz ")


def test_text8_file_handling(data, tmp_path):
    import hashlib
    cls = get_task_class("text8")
    with pytest.raises(TaskError, match="text8.path: file not found"):
        cls.make_data(0, tmp_path / "d", **TXT, path=str(tmp_path / "missing.txt"))
    with pytest.raises(TaskError, match="text8.path"):
        cls.make_data(0, tmp_path / "d", **TXT)
    src = data["root"] / "text8.txt"
    with pytest.raises(TaskError, match="text8.sha256"):
        cls.make_data(0, tmp_path / "d", **TXT, path=str(src), sha256="0" * 64)
    assert not (tmp_path / "d" / "meta.json").exists()
    # a zip of the same text gives the same data
    z = tmp_path / "t.zip"
    with zipfile.ZipFile(z, "w") as f:
        f.write(src, "text8")
    cls.make_data(0, tmp_path / "z", **TXT, path=str(z))
    ref, got = io.torch_load(data["root"] / "text8" / "data.pt"), io.torch_load(tmp_path / "z" / "data.pt")
    assert all(torch.equal(ref[k], got[k]) for k in ref)
    # "download" from a local file:// URL (no network), with the checksum verified
    sha = hashlib.sha256(z.read_bytes()).hexdigest()
    dest = tmp_path / "dl" / "text8.zip"
    cls.make_data(0, tmp_path / "w", **TXT, path=str(dest), download=True, url=z.as_uri(), sha256=sha)
    assert dest.read_bytes() == z.read_bytes()
    with pytest.raises(TaskError, match="text8.sha256"):
        cls.make_data(0, tmp_path / "w2", **TXT, path=str(tmp_path / "dl2.zip"), download=True, url=z.as_uri(),
                      sha256="f" * 64)
    assert not (tmp_path / "dl2.zip").exists()
    bad = tmp_path / "bad.txt"
    bad.write_text("hello World")
    with pytest.raises(TaskError, match="'W'"):
        cls.make_data(0, tmp_path / "b", **TXT, path=str(bad))


# -- CUDA --------------------------------------------------------------------------------
@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("name", list(TASKS))
def test_cuda_batches_match_the_contract(data, name):
    from rnncap.tasks.parentheses import paren_counts
    cpu, gpu = task_of(data, name), task_of(data, name, device="cuda")
    hps = hps_of(name)
    cg = lambda *s: [torch.Generator(device="cuda").manual_seed(x) for x in s]  # noqa: E731
    b = gpu.train_batch(cg(1, 2, 3), hps, B)
    assert b.x.is_cuda and b.y.is_cuda and (b.w is None or b.w.is_cuda)
    check_x(gpu, b.x, 3, B)
    for e, s in enumerate((1, 2, 3)):  # member independence on the GPU too
        alone = gpu.train_batch(cg(s), hps[e:e + 1], B)
        assert torch.equal(b.x[e], alone.x[0]) and torch.equal(b.y[e], alone.y[0])
    if name == "parentheses":  # GPU counts (tree) = CPU recount of the same symbols
        sym = (b.x - 30 * torch.arange(10, device="cuda")).transpose(1, 2).cpu()
        assert torch.equal(b.y.cpu(), paren_counts(sym)[..., -1, :])
    if name == "arithmetic":
        for e in range(3):
            for i in range(B):
                s = "".join(INPUT_ALPHABET[int(v)] for v in b.x[e, :, i, 0].cpu())
                a, c = (int(v) for v in s.split("=")[0].strip().split("+"))
                assert int("".join(OUTPUT_ALPHABET[int(v)] for v in b.y[e, i].cpu())) == a + c
    # fixed sets are the same on both devices, and so are the metrics of the same outputs
    model = Ensemble(Arch("gru", 4, 1, cpu.n_in, cpu.n_out, cpu.input_kind), 3)
    with torch.no_grad():
        model.flat.normal_(0, 0.3, generator=torch.Generator().manual_seed(0))
    res = []
    for task in (cpu, gpu):
        model.to(task.device)
        sums = {}
        with torch.no_grad():
            for eb in task.eval_batches("valid", hps, 64):
                for k, v in task.eval_sums(model(eb.x, task.readout_steps), eb).items():
                    sums[k] = sums.get(k, 0) + v
        res.append({k: v.cpu() for k, v in task.finalize(sums, hps).items()})
    for k in res[0]:
        torch.testing.assert_close(res[0][k], res[1][k], rtol=1e-4, atol=1e-5)
    for p, q in zip(cpu.eval_batches("eval", hps, 64), gpu.eval_batches("eval", hps, 64), strict=True):
        assert torch.equal(p.x, q.x.cpu()) and torch.equal(p.y, q.y.cpu())
