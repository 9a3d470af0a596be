"""The semantic checks of a schema-checked config: what needs the library to decide.

Task options (by the task class), a width for every (cell, depth, budget), +RNN depths,
fixed/ranged HP names and values per cell, rerun sources, roles, the text8 file. Two
steps also complete the config: a rerun experiment takes its source's task and options,
and every text8 experiment the top-level `text8` block. Each error is a ConfigError
naming the key. Only reads files (text8's path); never writes.
"""

from __future__ import annotations

import copy
import fnmatch
from pathlib import Path
from typing import Any, Mapping

from ..hpspace import apply_overrides, is_pattern
from ..model.cells import CELLS, CellError, spec as cell_spec
from ..model.params import BudgetError, solve_width
from .experiment import experiment_cells, experiment_facts, experiment_seeds, hp_names, search_dims, valid_depth
from .schema import ConfigError

# role (docs/contracts.md) -> (the tasks its experiments must run, None: any; required mode or None)
ROLE_TASKS: dict[str, tuple[tuple[str, ...] | None, str | None]] = {
    "capacity": (("capacity",), None),
    "unroll": (("capacity",), None),
    "memory": (("memory",), None),
    "text8": (("text8",), None),
    "rcf": (("rcf",), None),
    "parentheses": (("parentheses",), None),
    "arithmetic": (("arithmetic",), None),
    "random_hp": (None, "random"),
    "rerun_best": (None, "rerun"),
}

# text8 options that come from the top-level `text8` block, never from an experiment's options
TEXT8_SHARED = ("path", "url", "sha256", "download")


def check(cfg: dict, base_dir: Path) -> None:
    """Complete (reruns, text8) and check a schema-checked config in place."""
    _inherit_rerun(cfg)
    _inject_text8(cfg)
    enabled = [n for n, e in cfg["experiments"].items() if e["enabled"]]
    if not enabled:
        raise ConfigError("experiments: every experiment is disabled; nothing to run")
    for name in enabled:
        _check_experiment(cfg, name, base_dir)
    _check_roles(cfg)


# --------------------------------------------------------------------------- completion

def _inherit_rerun(cfg: dict) -> None:
    """Rerun experiments take task and options from their source unless given."""
    exps = cfg["experiments"]
    for name, exp in exps.items():
        if exp["mode"] != "rerun":
            if "source" in exp:
                raise ConfigError(f"experiments.{name}.source: only a rerun experiment has a source "
                                  f"(mode is {exp['mode']!r})")
            continue
        src = exp["source"]
        if src not in exps:
            raise ConfigError(f"experiments.{name}.source: experiment {src!r} does not exist "
                              f"(have: {', '.join(sorted(exps))})")
        s = exps[src]
        if s["mode"] == "rerun":
            raise ConfigError(f"experiments.{name}.source: {src!r} is itself a rerun experiment; "
                              "rerun a search or random experiment")
        if not s["enabled"] and exp["enabled"]:
            raise ConfigError(f"experiments.{name}.source: experiment {src!r} is disabled (enabled: false)")
        if "task" not in exp:
            exp["task"] = s["task"]
        elif exp["task"] != s["task"]:
            raise ConfigError(f"experiments.{name}.task: {exp['task']!r} differs from its source "
                              f"{src!r}'s task {s['task']!r}")
        if "options" not in exp:
            exp["options"] = copy.deepcopy(s.get("options", {}))


def _inject_text8(cfg: dict) -> None:
    """text8 experiments get path/url/sha256/download from the top-level `text8` block."""
    t = cfg["text8"]
    shared = {"path": t["path"], "url": t["url"], "sha256": t["sha256"],
              "download": bool(t["download"] and not t["synthetic"])}
    for name, exp in cfg["experiments"].items():
        if exp["task"] != "text8":  # every experiment has one now (_inherit_rerun)
            continue
        opts = exp.setdefault("options", {})
        for k in TEXT8_SHARED:
            if k in opts and opts[k] != shared[k]:
                raise ConfigError(f"experiments.{name}.options.{k}: set text8.{k} (top level) instead; "
                                  "every text8 experiment reads the same corpus")
        opts.update(shared)


# --------------------------------------------------------------------------- one experiment

def _check_experiment(cfg: dict, name: str, base_dir: Path) -> None:
    exp = cfg["experiments"][name]
    facts = experiment_facts(cfg, name)
    cells = _check_cells(cfg, name)
    _check_budgets(cfg, name, cells, facts.n_in, facts.n_out)
    _check_search(exp, f"experiments.{name}.search", cells)
    if exp["mode"] == "rerun":
        _check_rerun_coverage(cfg, name)
    if exp["task"] == "text8":
        _check_text8(cfg, name, base_dir)


def _check_cells(cfg: dict, name: str) -> list[str]:
    """The experiment's cells; an explicit list may not hold a cell too deep-needing for its depths."""
    where = f"experiments.{name}"
    cells, explicit = experiment_cells(cfg, name)
    for i, c in enumerate(cells):
        if c not in CELLS:  # the schema's enum catches this first; kept for dict callers
            raise ConfigError(f"{where}.cells[{i}]: unknown cell {c!r}; expected one of {', '.join(CELLS)}")
    depths = cfg["experiments"][name]["depths"]
    if explicit:
        for i, c in enumerate(cells):
            bad = [d for d in depths if not valid_depth(c, d)]
            if bad:
                raise ConfigError(
                    f"{where}.cells[{i}]: cell {c!r} needs depth >= {cell_spec(c).min_depth} but this experiment's "
                    f"depths include {bad[0]} (depths[{depths.index(bad[0])}]); the paper never runs a depth-1 +RNN. "
                    f"Drop {c!r} from this list, or omit `cells` to use the top-level list, from which it is "
                    "skipped at depth 1")
    if not any(valid_depth(c, d) for c in cells for d in depths):
        raise ConfigError(f"{where}.depths: no cell of {cells} can run at depths {depths}")
    return cells


def _check_budgets(cfg: dict, name: str, cells: list[str], n_in: int, n_out: int) -> None:
    """Every (cell, depth) that runs has a width within every budget."""
    exp = cfg["experiments"][name]
    runnable = [(c, d) for c in cells for d in exp["depths"] if valid_depth(c, d)]
    for i, b in enumerate(exp["budgets"]):
        for c, d in runnable:
            try:
                solve_width(c, b, d, n_in, n_out)
            except (BudgetError, CellError) as e:
                raise ConfigError(f"experiments.{name}.budgets[{i}]: {e}") from None


def _check_search(exp: Mapping[str, Any], where: str, cells: list[str]) -> None:
    """steps, and fixed/ranges: names every cell has (or a glob some cell matches), values in range."""
    task, s = exp["task"], exp["search"]
    lo, hi = s["steps"]
    if lo > hi:
        raise ConfigError(f"{where}.steps: low {lo} > high {hi}")
    known = {c: hp_names(task, c) for c in cells}
    for key in ("fixed", "ranges"):
        for hp in s[key]:
            if is_pattern(hp):  # a glob may skip cells without such blocks, but must match somewhere
                if not any(fnmatch.filter(sorted(k), hp) for k in known.values()):
                    raise ConfigError(f"{where}.{key}.{hp}: pattern matches no HP of task {task} with cells {cells}")
                continue
            if not any(hp in k for k in known.values()):
                allk = sorted(set().union(*known.values()))
                raise ConfigError(f"{where}.{key}.{hp}: not a HP of task {task} with cells {cells} "
                                  f"(known: {', '.join(allk)})")
            missing = [c for c, k in known.items() if hp not in k]
            if missing:
                raise ConfigError(f"{where}.{key}.{hp}: cell(s) {', '.join(missing)} have no HP {hp!r}; "
                                  f"split the experiment or drop them from its cells")
    if "halving" in s and exp["mode"] != "search":
        raise ConfigError(f"{where}.halving: successive halving is for mode search; random draws (Fig. 5, "
                          "Table 1) and reruns (Table App.1) measure every trial trained in full")
    if "warm_start" in s and exp["mode"] != "search":
        raise ConfigError(f"{where}.warm_start: warm starts tell the GP tuner of mode search its neighbours' "
                          f"trials; mode {exp['mode']} has no tuner")
    for c in cells:  # the values (type, choices, range): the same table and code the search runs
        try:
            apply_overrides(search_dims(task, c, (lo, hi)), s["fixed"], s["ranges"], where)
        except (KeyError, ValueError) as e:
            raise ConfigError(e.args[0] if e.args else str(e)) from None


def _check_rerun_coverage(cfg: dict, name: str) -> None:
    """A rerun retrains its source's runs: each of its budgets, depths, cells and seeds must exist there."""
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
    if exp.get("options", {}) != s.get("options", {}):
        raise ConfigError(f"{where}.options: differs from its source {src!r} ({exp.get('options')} != "
                          f"{s.get('options')}); a rerun retrains the source's HPs on the same task instance")


def _check_text8(cfg: dict, name: str, base_dir: Path) -> None:
    """The corpus: generated under results/ (synthetic), downloaded, or already on disk."""
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


# --------------------------------------------------------------------------- roles

def _check_roles(cfg: dict) -> None:
    exps = cfg["experiments"]
    for role, v in cfg["roles"].items():
        names = [v] if isinstance(v, str) else list(v)
        tasks, mode = ROLE_TASKS[role]
        for i, n in enumerate(names):
            key = f"roles.{role}" if isinstance(v, str) else f"roles.{role}[{i}]"
            if n not in exps:
                raise ConfigError(f"{key}: experiment {n!r} does not exist (have: {', '.join(sorted(exps))})")
            if not exps[n]["enabled"]:
                raise ConfigError(f"{key}: experiment {n!r} is disabled (enabled: false)")
            if tasks is not None and exps[n]["task"] not in tasks:
                raise ConfigError(f"{key}: experiment {n!r} runs task {exps[n]['task']!r}; role {role!r} needs "
                                  f"{' or '.join(tasks)}")
            if mode and exps[n]["mode"] != mode:
                raise ConfigError(f"{key}: experiment {n!r} has mode {exps[n]['mode']!r}; role {role!r} needs "
                                  f"mode {mode!r}")
