"""Bad command-line input: one line naming the argument or key, exit 2, nothing written."""

import json

import pytest
import torch

from rnncap.cli import main
from rnncap.plan.config import validate_config


def spec(**search):
    cfg = validate_config({"experiments": {"x": {"task": "capacity", "budgets": [300], "depths": [1]}}})
    return {"experiment": "x", "task": "capacity", "mode": "search", "cell": "rnn", "budget": 300, "depth": 1,
            "seed": 0, "options": {}, "data_dir": "/nonexistent", "source_best": None,
            "search": {**cfg["experiments"]["x"]["search"], **search}}


def one_line_error(capsys, argv, *needles):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    for n in needles:
        assert n in err, err
    return err


@pytest.mark.parametrize("arg, needles", [
    (["--spec", "[]"], ["--spec", "JSON object"]),
    (["--spec", "{\"a\":"], ["--spec", "not valid JSON"]),
    (["--spec", "@/nonexistent/spec.json"], ["--spec", "not found"]),
    (["--spec", json.dumps(spec()), "--device", "tpu"], ["--device", "'tpu'"]),
    (["--spec", json.dumps(spec()), "--threads", "-1"], ["--threads", "-1"]),
    (["--spec", json.dumps(spec()), "--threads", "0"], ["--threads"]),
    (["--spec", json.dumps(spec(checkpoint_every=0))], ["search.checkpoint_every", "got 0"]),
    (["--spec", json.dumps(spec(trials=0))], ["search.trials", "got 0"]),
    (["--spec", json.dumps(spec(eval_every=-5))], ["search.eval_every"]),
    (["--spec", json.dumps(spec(steps=[0, 5]))], ["search.steps"]),
    (["--spec", json.dumps({k: v for k, v in spec().items() if k != "task"})], ["task: missing"]),
])
def test_train_input_errors(tmp_path, capsys, arg, needles):
    out = tmp_path / "run"
    one_line_error(capsys, ["train", *arg, "--out", str(out)], *needles)
    assert not out.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_cuda_without_a_gpu(tmp_path, capsys):
    one_line_error(capsys, ["train", "--spec", json.dumps(spec()), "--device", "cuda", "--out", str(tmp_path / "r")],
                   "--device", "no CUDA GPU")


def test_out_under_a_file_or_unwritable(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("")
    one_line_error(capsys, ["train", "--spec", json.dumps(spec()), "--out", str(f / "run")], "--out", "not a directory")
    one_line_error(capsys, ["train", "--spec", json.dumps(spec()), "--out", str(f)], "--out", "not a directory")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        import os
        if os.access(ro, os.W_OK):  # root ignores permissions
            pytest.skip("running as root: a read-only directory is still writable")
        one_line_error(capsys, ["train", "--spec", json.dumps(spec()), "--out", str(ro / "run")], "--out")
    finally:
        ro.chmod(0o700)


def test_data_input_errors(tmp_path, capsys):
    one_line_error(capsys, ["data", "--task", "nope", "--seed", "0", "--out", str(tmp_path / "d")], "'nope'")
    one_line_error(capsys, ["data", "--task", "capacity", "--seed", "0", "--options", "{x", "--out",
                            str(tmp_path / "d")], "--options", "not valid JSON")
    one_line_error(capsys, ["data", "--task", "capacity", "--seed", "0", "--options", "[1]", "--out",
                            str(tmp_path / "d")], "--options", "JSON object")
    assert not (tmp_path / "d").exists()
