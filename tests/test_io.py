"""rnncap.io: atomic writes with the umask's permissions, and checksummed files that name
themselves when damaged (truncated, bit-flipped, or written by something else)."""

import os

import numpy as np
import pandas as pd
import pytest
import torch

from rnncap import io


def truncate(path, keep=0.6):
    b = path.read_bytes()
    path.write_bytes(b[: int(len(b) * keep)])


def table():
    return pd.DataFrame({"trial": np.arange(6), "valid_metric": np.linspace(0.1, 0.6, 6),
                         "hp_nonlinearity": ["tanh", None, "relu", "tanh", "relu", None],
                         "infeasible": [False, True, False, False, False, False]})


def test_parquet_round_trip_is_exact(tmp_path):
    p = tmp_path / "t.parquet"
    io.write_parquet(p, table())
    pd.testing.assert_frame_equal(io.read_parquet(p), table())


def test_torch_and_json_round_trip(tmp_path):
    obj = {"x": torch.randn(5, 3), "i": torch.arange(4), "state": {"t": 3, "w": 0.5, "g": [torch.ones(2, dtype=torch.uint8)]}}
    io.torch_save(tmp_path / "c.pt", obj)
    back = io.torch_load(tmp_path / "c.pt", weights_only=False)
    assert io.digest(back) == io.digest(obj) and torch.equal(back["x"], obj["x"])
    io.write_json(tmp_path / "m.json", {"seed": 1, "options": {"n_in": 16, "tau": float("nan")}}, checksum=True)
    m = io.read_json(tmp_path / "m.json", checksum=True)
    assert m["seed"] == 1 and np.isnan(m["options"]["tau"])


@pytest.mark.parametrize("kind", ["parquet", "torch", "json"])
def test_truncated_files_are_named_never_used(tmp_path, kind):
    """Any truncation ends in DamagedFileError naming the file."""
    for seed in range(12):
        if kind == "parquet":
            p = tmp_path / f"t{seed}.parquet"
            io.write_parquet(p, table())
            read = lambda: io.read_parquet(p)  # noqa: E731
        elif kind == "torch":
            p = tmp_path / f"d{seed}.pt"
            io.torch_save(p, {"x": torch.randn(2000), "y": torch.arange(100)})
            read = lambda: io.torch_load(p)  # noqa: E731
        else:
            p = tmp_path / f"m{seed}.json"
            io.write_json(p, {"seed": 12345, "options": {"n_in": 16, "seq_len": 5}}, checksum=True)
            read = lambda: io.read_json(p, checksum=True)  # noqa: E731
        truncate(p, keep=0.05 + 0.075 * seed)
        with pytest.raises(io.DamagedFileError) as e:
            read()
        msg = str(e.value)
        assert str(p) in msg and "\n" not in msg and "rerun" in msg


def _write(kind, p):
    if kind == "parquet":
        io.write_parquet(p, table())
        return lambda: io.read_parquet(p), lambda got: got.equals(table())
    if kind == "torch":
        obj = {"x": torch.linspace(0, 1, 300), "y": torch.arange(50)}
        io.torch_save(p, obj)
        return lambda: io.torch_load(p), lambda got: io.digest(got) == io.digest(obj)
    obj = {"seed": 12345, "options": {"n_in": 16, "seq_len": 5, "tau": 200.0}}
    io.write_json(p, obj, checksum=True)
    return lambda: io.read_json(p, checksum=True), lambda got: got == obj


@pytest.mark.parametrize("kind", ["parquet", "torch", "json"])
def test_every_single_bit_flip_is_caught_or_harmless(tmp_path, kind):
    """Flipping each bit in turn (every 3rd byte): a read either fails naming the file, or
    returns exactly what was written (a flip in bytes that do not encode content, such as
    Parquet column statistics or zip padding). Never a different result."""
    p = tmp_path / f"f.{kind}"
    read, same = _write(kind, p)
    orig = p.read_bytes()
    caught = 0
    for i in range(0, len(orig), 3):
        for bit in (0, 5):
            b = bytearray(orig)
            b[i] ^= 1 << bit
            p.write_bytes(bytes(b))
            try:
                got = read()
            except io.DamagedFileError as e:
                assert str(p) in str(e) and "\n" not in str(e)
                caught += 1
                continue
            assert same(got), f"byte {i} bit {bit}: a changed file read as different content"
    assert caught > 0


def test_files_without_checksum_are_refused(tmp_path):
    table().to_parquet(tmp_path / "plain.parquet")
    torch.save({"x": torch.ones(3)}, tmp_path / "plain.pt")
    with pytest.raises(io.DamagedFileError, match="no checksum"):
        io.read_parquet(tmp_path / "plain.parquet")
    with pytest.raises(io.DamagedFileError, match="no checksum"):
        io.torch_load(tmp_path / "plain.pt")


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_outputs_get_the_umask_permissions(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        io.write_parquet(tmp_path / "t.parquet", table())
        io.write_json(tmp_path / "b.json", {"a": 1})
        io.torch_save(tmp_path / "c.pt", {"x": torch.ones(1)})
    finally:
        os.umask(old)
    for name in ("t.parquet", "b.json", "c.pt"):
        assert (tmp_path / name).stat().st_mode & 0o777 == mode


def test_interrupted_write_leaves_no_temporary_after_the_next_write(tmp_path):
    p = tmp_path / "best.json"
    stale = tmp_path / ".best.json.abc123.tmp"  # what a SIGKILL inside atomic_path leaves
    stale.write_text("{")
    with pytest.raises(RuntimeError):
        with io.atomic_path(p):
            raise RuntimeError("the block failed")
    io.write_json(p, {"ok": True})
    assert sorted(x.name for x in tmp_path.iterdir()) == ["best.json"]
