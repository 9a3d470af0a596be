import numpy as np
import pytest
import yaml

from rnncap.plan.config import ConfigError, load_config
from rnncap.hpspace import apply_overrides, cell_space, optim_space
from rnncap.hpspace import sample_all


def space(cell):
    return optim_space((10, 100)) + cell_space(cell)


def test_paper_dimension_counts():
    # spec §4: "10-27 HP dimensions" (with steps; task HPs come on top)
    counts = {c: len(space(c)) for c in ("rnn", "irnn", "ugrnn", "gru", "lstm", "plus")}
    assert counts["irnn"] < counts["rnn"] < counts["ugrnn"] < counts["gru"] < counts["lstm"] <= counts["plus"]
    assert 8 <= min(counts.values()) and max(counts.values()) <= 27


def test_glob_overrides_apply_per_cell_and_exact_names_win():
    for cell, blocks in (("rnn", ["h"]), ("lstm", ["i", "f", "c", "o"])):
        ranges = {"in_scale_*": [0.5, 1.0], "b_fg*": [1.0, 2.0]} | ({"in_scale_h": [0.9, 1.0]} if cell == "rnn" else {})
        dims = apply_overrides(space(cell), {"optimizer": "adam"}, ranges, "x")
        by = {d.name: d for d in dims}
        assert by["optimizer"].fixed
        for b in blocks:
            want = (0.9, 1.0) if b == "h" else (0.5, 1.0)
            assert (by[f"in_scale_{b}"].low, by[f"in_scale_{b}"].high) == want
        if cell == "lstm":
            assert (by["b_fg"].low, by["b_fg"].high) == (1.0, 2.0)
        hp = sample_all(dims, np.random.default_rng(0))
        assert 0.5 <= hp[f"in_scale_{blocks[0]}"] <= 1.0 and hp["optimizer"] == "adam"


def test_unknown_exact_name_is_an_error_naming_the_key():
    with pytest.raises(KeyError, match=r"exp\.ranges\.b_fg"):
        apply_overrides(space("rnn"), {}, {"b_fg": [0, 1]}, "exp")


def test_config_pattern_matching_nothing_names_the_key():
    cfg = yaml.safe_load(open("config/test.yaml"))
    mem = cfg["experiments"]["memory"]
    mem["search"] = {**mem["search"], "ranges": {"nope_*": [0, 1]}}  # a copy: the preset shares it by anchor
    with pytest.raises(ConfigError, match=r"experiments\.memory\.search\.ranges\.nope_\*"):
        load_config(cfg)


@pytest.mark.parametrize("fixed, message", [
    ({"lr": -1.0}, r"exp\.fixed\.lr: -1\.0 is outside lr's range"),
    ({"lr": "fast"}, r"exp\.fixed\.lr: expected a number, got 'fast'"),
    ({"clip": -5}, r"exp\.fixed\.clip: -5 is outside"),
    ({"l2": -0.1}, r"exp\.fixed\.l2: -0\.1 is outside"),
    ({"steps": 0}, r"exp\.fixed\.steps: 0 is outside"),
    ({"steps": 20.5}, r"exp\.fixed\.steps: expected an integer"),
    ({"lr": True}, r"exp\.fixed\.lr: expected a number, got True"),
    ({"optimizer": "lbfgs"}, r"exp\.fixed\.optimizer: 'lbfgs' is not one of"),
])
def test_fixed_values_are_checked_against_their_dimension(fixed, message):
    with pytest.raises(ValueError, match=message):
        apply_overrides(space("rnn"), fixed, {}, "exp")


@pytest.mark.parametrize("ranges, message", [
    ({"lr": [1e-6, 1e-2]}, r"exp\.ranges\.lr: 1e-06 is outside lr's range"),
    ({"lr": [0.01, 0.001]}, r"exp\.ranges\.lr: expected \[low, high\] with low <= high"),
    ({"lr": [0.01]}, r"exp\.ranges\.lr: expected \[low, high\]"),
    ({"clip": ["a", 10]}, r"exp\.ranges\.clip: expected a number"),
])
def test_ranges_may_only_narrow_the_paper_space(ranges, message):
    with pytest.raises(ValueError, match=message):
        apply_overrides(space("rnn"), {}, ranges, "exp")


def test_in_range_values_pin_and_narrow():
    by = {d.name: d for d in apply_overrides(space("rnn"), {"lr": 0.01, "steps": 50}, {"clip": [2, 3]}, "exp")}
    assert by["lr"].fixed and by["lr"].low == 0.01 and by["steps"].low == 50
    assert (by["clip"].low, by["clip"].high) == (2, 3)
