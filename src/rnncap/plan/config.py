"""The workflow configuration as data: load, fill defaults, check (before any job runs).

    cfg = load_config("config/config.yaml")      # or a dict (e.g. Snakemake's `config`)

Two layers, both raising `ConfigError` whose message starts with the offending key
path (`experiments.capacity.budgets[0]: ...`):

1. the JSON-Schema `workflow/schemas/config.schema.yaml` (types, unknown keys, enums,
   minimums), which also fills the defaults it declares;
2. semantic checks that need the library: task options (against the task class),
   every (cell, depth, budget) has a width (`rnncap.model.params.solve_width`), +RNN depths,
   fixed/ranged HP names per cell, rerun sources, roles, the text8 file.

Importable without Snakemake: the CLI, the tests and `workflow/rules/common.smk` use it.
Only reads files (the schema, text8's path); never writes.
"""

from __future__ import annotations

import copy
import fnmatch
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml

from ..model.cells import CELLS, CellError, spec as cell_spec
from ..model.params import BudgetError, solve_width

SCHEMA_PATH = Path(__file__).resolve().parents[3] / "workflow" / "schemas" / "config.schema.yaml"

TASKS = ("capacity", "memory", "rcf", "text8", "parentheses", "arithmetic")

# roles of docs/contracts.md -> (tasks its experiments must have, required mode or None)
ROLE_TASKS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "capacity": (("capacity",), None),
    "unroll": (("capacity",), None),
    "memory": (("memory",), None),
    "text8": (("text8",), None),
    "rcf": (("rcf",), None),
    "parentheses": (("parentheses",), None),
    "arithmetic": (("arithmetic",), None),
    "random_hp": (TASKS, "random"),
    "rerun_best": (TASKS, "rerun"),
}

# text8 options that come from the top-level `text8` block, never from an experiment's options
TEXT8_SHARED = ("path", "url", "sha256", "download")


class ConfigError(ValueError):
    """A bad configuration; the message starts with the key path of the offending value."""


@dataclass(frozen=True)
class TaskFacts:
    """What the workflow needs to know about a task instance before any data exists."""

    task: str
    n_in: int
    n_out: int
    seq_len: int
    options: dict[str, Any]  # the options with the task's defaults filled in
    input_kind: str = "dense"  # "index": one-hot inputs gathered, no input matmul
    readouts: int = 1  # time steps the loss reads (for the cost model)
    active_inputs: int = 1  # one-hot indices per time step ("index" inputs; parentheses: 10 streams)


# --------------------------------------------------------------------------- helpers

def key_path(parts: Any) -> str:
    """('experiments', 'x', 'budgets', 0) -> 'experiments.x.budgets[0]'."""
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "<config>"


def _task_class(task: str) -> Any:
    from ..tasks import get_task_class

    return get_task_class(task)


def task_facts(task: str, options: Mapping[str, Any] | None = None, where: str = "options") -> TaskFacts:
    """n_in, n_out, seq_len and the full options of `task` with `options`; ConfigError naming `where`."""
    if task not in TASKS:
        raise ConfigError(f"{where}: unknown task {task!r}; expected one of {', '.join(TASKS)}")
    options = dict(options or {})
    cls = _task_class(task)
    try:
        opts = dict(cls.check_options(options))
    except Exception as e:  # TaskError: "task.key: reason" -> "where.key: reason"
        msg = str(e)
        m = re.match(rf"{task}: unknown option '([^']+)'", msg)
        if m:
            raise ConfigError(f"{where}.{m.group(1)}: unknown option of task {task}"
                              f"{msg[m.end():]}") from None
        prefix = f"{task}."
        if msg.startswith(prefix):
            raise ConfigError(f"{where}.{msg[len(prefix):]}") from None
        if msg.startswith(f"{task}: "):
            msg = msg[len(task) + 2:]
        raise ConfigError(f"{where}: {msg}") from None
    n_in, n_out = _io_dims(task, opts)
    T = int(opts.get("seq_len", 1))
    kind = cls.input_kind
    readouts = {"capacity": max(1, T - 4), "arithmetic": min(T, 10), "text8": T - int(opts.get("warmup", 0))}
    return TaskFacts(task, n_in, n_out, T, opts, kind, max(1, readouts.get(task, 1)),
                     10 if task == "parentheses" else 1)


def _io_dims(task: str, o: Mapping[str, Any]) -> tuple[int, int]:
    """Input/readout sizes (the same numbers the task classes set in __init__)."""
    if task == "capacity":
        return int(o["n_in"]), 2
    if task == "memory":
        return int(o["n_in"]), int(o["n_in"])
    if task == "rcf":
        return int(o["dim"]), 1
    if task == "text8":
        return 27, 27
    if task == "parentheses":
        return 300, 100
    return 14, 12  # arithmetic: "0123456789 +-=" in, "0123456789 -" out


def hp_names(task: str, cell: str) -> set[str]:
    """Names a search's `fixed`/`ranges` may use for this task and cell."""
    return {d.name for d in search_dims(task, cell, (1, 2))}


def search_dims(task: str, cell: str, steps: tuple[int, int]) -> list:
    """The HP dimensions a run of (task, cell) searches (the train stage's own space)."""
    from ..hpspace import full_space

    cls = _task_class(task)
    # Task.hp_space needs no data for the paper tasks, so an instance without data will do
    return full_space(cell, cls.hp_space(cls.__new__(cls)), steps)


# --------------------------------------------------------------------------- schema

def load_schema() -> dict:
    if not SCHEMA_PATH.is_file():
        raise ConfigError(f"<schema>: {SCHEMA_PATH} not found (rnncap must run from its repository checkout)")
    return yaml.safe_load(SCHEMA_PATH.read_text())


def _validator(schema: dict):
    from jsonschema import Draft202012Validator, validators

    props = Draft202012Validator.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, sch):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from props(validator, properties, instance, sch)

    return validators.extend(Draft202012Validator, {"properties": set_defaults})(schema)


def _schema_message(err) -> str:
    path = list(err.absolute_path)
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        allowed = sorted(err.schema.get("properties", {}))
        extra = sorted(set(err.instance) - set(allowed))
        if extra:
            hint = f" (allowed: {', '.join(allowed)})" if allowed else ""
            return f"{key_path(path + [extra[0]])}: unknown key{hint}"
    if err.validator == "propertyNames":
        return f"{key_path(path)}: bad name {err.instance!r} (letters, digits, '_', '.', '-'; no '/')"
    if err.validator == "required":
        return f"{key_path(path)}: {err.message}"
    if err.validator == "oneOf" and path and path[0] == "roles":
        return f"{key_path(path)}: expected an experiment name or a list of names, got {err.instance!r}"
    return f"{key_path(path)}: {err.message}"


def apply_schema(cfg: dict) -> dict:
    """Validate against the JSON-Schema, filling its defaults in place."""
    from jsonschema.exceptions import best_match

    err = best_match(_validator(load_schema()).iter_errors(cfg))
    if err is not None:
        raise ConfigError(_schema_message(err))
    return cfg


# --------------------------------------------------------------------------- semantics

def experiment_cells(cfg: Mapping[str, Any], name: str) -> tuple[list[str], bool]:
    """(cells, explicit): the experiment's own list, or the top-level default."""
    exp = cfg["experiments"][name]
    return (list(exp["cells"]), True) if "cells" in exp else (list(cfg["cells"]), False)


def experiment_seeds(cfg: Mapping[str, Any], name: str) -> list[int]:
    return list(cfg["experiments"][name].get("seeds", cfg["seeds"]))


def valid_depth(cell: str, depth: int) -> bool:
    return depth >= cell_spec(cell).min_depth


def _inherit_rerun(cfg: dict) -> None:
    """Rerun experiments take task and options from their source unless given."""
    exps = cfg["experiments"]
    for name, exp in exps.items():
        if exp.get("mode") != "rerun":
            if "source" in exp:
                raise ConfigError(f"experiments.{name}.source: only a rerun experiment has a source "
                                  f"(mode is {exp.get('mode')!r})")
            continue
        src = exp["source"]
        if src not in exps:
            raise ConfigError(f"experiments.{name}.source: experiment {src!r} does not exist "
                              f"(have: {', '.join(sorted(exps))})")
        s = exps[src]
        if s.get("mode") == "rerun":
            raise ConfigError(f"experiments.{name}.source: {src!r} is itself a rerun experiment; "
                              "rerun a search or random experiment")
        if not s.get("enabled", True) and exp.get("enabled", True):
            raise ConfigError(f"experiments.{name}.source: experiment {src!r} is disabled (enabled: false)")
        if "task" not in exp:
            exp["task"] = s["task"]
        elif exp["task"] != s["task"]:
            raise ConfigError(f"experiments.{name}.task: {exp['task']!r} differs from its source "
                              f"{src!r}'s task {s['task']!r}")
        if "options" not in exp:
            exp["options"] = copy.deepcopy(s.get("options", {}))


def _check_rerun_coverage(cfg: dict, name: str) -> None:
    exp = cfg["experiments"][name]
    src = exp["source"]
    s = cfg["experiments"][src]
    where = f"experiments.{name}"
    for i, b in enumerate(exp["budgets"]):
        if b not in s["budgets"]:
            raise ConfigError(f"{where}.budgets[{i}]: source experiment {src!r} has no budget {b} "
                              f"(its budgets: {s['budgets']})")
    for i, d in enumerate(exp["depths"]):
        if d not in s["depths"]:
            raise ConfigError(f"{where}.depths[{i}]: source experiment {src!r} has no depth {d} "
                              f"(its depths: {s['depths']})")
    cells, explicit = experiment_cells(cfg, name)
    src_cells, _ = experiment_cells(cfg, src)
    for i, c in enumerate(cells):
        if c not in src_cells:
            key = f"{where}.cells[{i}]" if explicit else f"cells[{cfg['cells'].index(c)}]"
            raise ConfigError(f"{key}: source experiment {src!r} does not run cell {c!r} (its cells: {src_cells})")
    src_seeds = experiment_seeds(cfg, src)
    for i, sd in enumerate(experiment_seeds(cfg, name)):
        if sd not in src_seeds:
            key = f"{where}.seeds[{i}]" if "seeds" in exp else f"seeds[{i}]"
            raise ConfigError(f"{key}: source experiment {src!r} has no run seed {sd} (its seeds: {src_seeds})")
    for k in ("options",):
        if exp.get(k, {}) != s.get(k, {}):
            raise ConfigError(f"{where}.{k}: differs from its source {src!r} ({exp.get(k)} != {s.get(k)}); "
                              "a rerun retrains the source's HPs on the same task instance")


def _inject_text8(cfg: dict) -> None:
    """text8 experiments get path/url/sha256/download from the top-level `text8` block."""
    t = cfg["text8"]
    for name, exp in cfg["experiments"].items():
        if exp.get("task") != "text8":
            continue
        opts = exp.setdefault("options", {})
        for k in TEXT8_SHARED:
            if k in opts and opts[k] != (t[k] if k != "download" else t["download"] and not t["synthetic"]):
                raise ConfigError(f"experiments.{name}.options.{k}: set text8.{k} (top level) instead; "
                                  "every text8 experiment reads the same corpus")
        opts.update(path=t["path"], url=t["url"], sha256=t["sha256"], download=bool(t["download"] and not t["synthetic"]))


def _check_experiment(cfg: dict, name: str, base_dir: Path) -> None:
    exp = cfg["experiments"][name]
    where = f"experiments.{name}"
    task = exp["task"]
    facts = task_facts(task, exp.get("options", {}), f"{where}.options")
    cells, explicit = experiment_cells(cfg, name)
    for i, c in enumerate(cells):
        if c not in CELLS:  # the schema's enum catches this first; kept for dict callers
            raise ConfigError(f"{where}.cells[{i}]: unknown cell {c!r}; expected one of {', '.join(CELLS)}")
    depths = exp["depths"]
    if explicit:
        for i, c in enumerate(cells):
            bad = [d for d in depths if not valid_depth(c, d)]
            if bad:
                raise ConfigError(
                    f"{where}.cells[{i}]: cell {c!r} needs depth >= {cell_spec(c).min_depth} but this experiment's "
                    f"depths include {bad[0]} (depths[{depths.index(bad[0])}]); the paper never runs a depth-1 +RNN. "
                    f"Drop {c!r} from this list, or omit `cells` to use the top-level list, from which it is "
                    "skipped at depth 1")
    runnable = [(c, d) for c in cells for d in depths if valid_depth(c, d)]
    if not runnable:
        raise ConfigError(f"{where}.depths: no cell of {cells} can run at depths {depths}")
    for i, b in enumerate(exp["budgets"]):
        for c, d in runnable:
            try:
                solve_width(c, b, d, facts.n_in, facts.n_out)
            except (BudgetError, CellError) as e:
                raise ConfigError(f"{where}.budgets[{i}]: {e}") from None
    s = exp["search"]
    lo, hi = s["steps"]
    if lo > hi:
        raise ConfigError(f"{where}.search.steps: low {lo} > high {hi}")
    if s["initial_points"] > s["trials"] and exp["mode"] == "search":
        pass  # fine: the whole run is quasi-random then
    from ..hpspace import is_pattern

    for key in ("fixed", "ranges"):
        for hp in s[key]:
            known = {c: hp_names(task, c) for c in cells}
            if is_pattern(hp):  # a glob may skip cells without such blocks, but must match somewhere
                if not any(fnmatch.filter(sorted(k), hp) for k in known.values()):
                    raise ConfigError(f"{where}.search.{key}.{hp}: pattern matches no HP of task {task} "
                                      f"with cells {cells}")
                continue
            if not any(hp in k for k in known.values()):
                allk = sorted(set().union(*known.values()))
                raise ConfigError(f"{where}.search.{key}.{hp}: not a HP of task {task} with cells {cells} "
                                  f"(known: {', '.join(allk)})")
            missing = [c for c, k in known.items() if hp not in k]
            if missing:
                raise ConfigError(f"{where}.search.{key}.{hp}: cell(s) {', '.join(missing)} have no HP {hp!r}; "
                                  f"split the experiment or drop them from its cells")
    for hp, v in s["ranges"].items():
        nums = [x for x in v if isinstance(x, (int, float)) and not isinstance(x, bool)]
        if nums and (len(v) != 2 or len(nums) != 2 or v[0] > v[1]):
            raise ConfigError(f"{where}.search.ranges.{hp}: expected [low, high] with low <= high, got {v}")
    for c in cells:  # values: the same code the search runs (hparams.apply_overrides)
        dims = search_dims(task, c, (lo, hi))
        from ..hpspace import apply_overrides

        try:
            apply_overrides(dims, s["fixed"], s["ranges"], f"{where}.search")
        except (KeyError, ValueError) as e:
            raise ConfigError(str(e).strip("'\"")) from None
    if exp["mode"] == "rerun":
        _check_rerun_coverage(cfg, name)
    if task == "text8":
        _check_text8(cfg, name, base_dir)


def _check_text8(cfg: dict, name: str, base_dir: Path) -> None:
    t = cfg["text8"]
    path = Path(t["path"])
    if t["synthetic"]:
        if path.is_absolute() or not path.parts or path.parts[0] != "results":
            raise ConfigError(f"text8.path: with text8.synthetic: true the generated corpus must live under "
                              f"results/ (got {t['path']!r}), so it can never overwrite the real text8")
        return
    if t["download"]:
        return
    full = path if path.is_absolute() else base_dir / path
    if not full.is_file():
        raise ConfigError(f"text8.path: {t['path']!r} does not exist, and experiments.{name} needs it "
                          "(text8.download is false). Download http://mattmahoney.net/dc/text8.zip and unzip it "
                          "there, set text8.download: true, or remove the text8 experiment")


def _check_roles(cfg: dict) -> None:
    exps = cfg["experiments"]
    for role, v in cfg["roles"].items():
        names = [v] if isinstance(v, str) else list(v)
        tasks, mode = ROLE_TASKS[role]
        for i, n in enumerate(names):
            key = f"roles.{role}" if isinstance(v, str) else f"roles.{role}[{i}]"
            if n not in exps:
                raise ConfigError(f"{key}: experiment {n!r} does not exist (have: {', '.join(sorted(exps))})")
            if not exps[n].get("enabled", True):
                raise ConfigError(f"{key}: experiment {n!r} is disabled (enabled: false)")
            if exps[n]["task"] not in tasks:
                raise ConfigError(f"{key}: experiment {n!r} runs task {exps[n]['task']!r}; role {role!r} needs "
                                  f"{' or '.join(tasks)}")
            if mode and exps[n]["mode"] != mode:
                raise ConfigError(f"{key}: experiment {n!r} has mode {exps[n]['mode']!r}; role {role!r} needs "
                                  f"mode {mode!r}")


def _unshared_copy(o: Any) -> Any:
    """Deep copy without aliasing: YAML anchors (`search: *tiny`) share one dict between
    experiments, and filling defaults or options into one must not change the others."""
    if isinstance(o, Mapping):
        return {k: _unshared_copy(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_unshared_copy(v) for v in o]
    return copy.deepcopy(o)


def validate_config(cfg: Mapping[str, Any], base_dir: str | os.PathLike | None = None) -> dict:
    """A checked, defaults-filled deep copy of `cfg`; ConfigError naming the key otherwise.

    base_dir: where relative paths (text8.path) are resolved; default the working directory.
    """
    if not isinstance(cfg, Mapping):
        raise ConfigError(f"<config>: expected a mapping, got {type(cfg).__name__}")
    cfg = apply_schema(_unshared_copy(cfg))
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    _inherit_rerun(cfg)
    _inject_text8(cfg)
    enabled = [n for n, e in cfg["experiments"].items() if e.get("enabled", True)]
    if not enabled:
        raise ConfigError("experiments: every experiment is disabled; nothing to run")
    for name in enabled:
        _check_experiment(cfg, name, base)
    _check_roles(cfg)
    return cfg


def load_config(path_or_dict: str | os.PathLike | Mapping[str, Any], base_dir: str | os.PathLike | None = None) -> dict:
    """Read a YAML file (or take a dict) and return `validate_config` of it."""
    if isinstance(path_or_dict, Mapping):
        return validate_config(path_or_dict, base_dir)
    p = Path(path_or_dict)
    if not p.is_file():
        raise ConfigError(f"<config>: {p} not found")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"<config>: {p} is not valid YAML: {e}") from None
    return validate_config(data if data is not None else {}, base_dir)


def write_synthetic_text8(path: str | os.PathLike, chars: int, seed: int = 0) -> None:
    """`text8.synthetic: true` (tests only): `chars` characters of random words over a-z and
    space, deterministic in `seed`, written atomically. Stands in for text8 where it can't
    be fetched; its losses mean nothing."""
    import random

    from .. import io

    r = random.Random(int(seed))
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = ["".join(r.choice(letters) for _ in range(r.randint(1, 9))) for _ in range(500)]
    parts, n = [], 0
    while n < chars:
        w = r.choice(words)
        parts.append(w)
        n += len(w) + 1
    with io.atomic_path(path) as tmp:
        tmp.write_text(" ".join(parts)[:chars])


def main(argv: list[str] | None = None) -> int:
    """python -m rnncap.plan.config check FILE... | synthetic-text8 --chars N --seed S --out PATH"""
    import argparse
    import sys

    p = argparse.ArgumentParser(prog="python -m rnncap.plan.config", description=main.__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check", help="validate config files (exit 2 with the offending key on error)")
    c.add_argument("files", nargs="+")
    t = sub.add_parser("synthetic-text8", help="write the tests' stand-in text8 corpus")
    t.add_argument("--chars", type=int, required=True)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", required=True)
    a = p.parse_args(argv)
    if a.cmd == "synthetic-text8":
        write_synthetic_text8(a.out, a.chars, a.seed)
        return 0
    from .jobs import describe, sweep_table

    rc = 0
    for f in a.files:
        try:
            print(f"{f}: ok: {describe(sweep_table(load_config(f)))}")
        except ConfigError as e:
            print(f"{f}: error: {e}", file=sys.stderr)
            rc = 2
    return rc


__all__ = ["ConfigError", "TaskFacts", "load_config", "validate_config", "task_facts", "experiment_cells",
           "experiment_seeds", "valid_depth", "key_path", "SCHEMA_PATH", "write_synthetic_text8"]


if __name__ == "__main__":
    raise SystemExit(main())
