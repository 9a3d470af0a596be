"""What one experiment of a validated config means: its cells, seeds, runnable depths, task
facts and HP space.

The lookups that the checks, the job table and the cost model share. They ask the task
classes (`Task.facts`), the cell specs and the HP space; none restates their numbers.
"""

from __future__ import annotations

from typing import Any, Mapping

from ..hpspace import HPDim, full_space
from ..model.cells import spec as cell_spec
from ..tasks import TASKS, TaskError, TaskFacts, get_task_class
from .schema import ConfigError


def task_facts(task: str, options: Mapping[str, Any] | None = None, where: str = "options") -> TaskFacts:
    """The task's facts for `options`; a bad option is a ConfigError under the key `where`."""
    if task not in TASKS:
        raise ConfigError(f"{where}: unknown task {task!r}; expected one of {', '.join(TASKS)}")
    try:
        return get_task_class(task).facts(dict(options or {}))
    except TaskError as e:
        raise ConfigError(f"{where}.{e.key}: {e.reason}" if e.key else f"{where}: {e}") from None


def experiment_facts(cfg: Mapping[str, Any], name: str) -> TaskFacts:
    """The facts of experiment `name`'s task instance (an experiment may give no options)."""
    exp = cfg["experiments"][name]
    return task_facts(exp["task"], exp.get("options", {}), f"experiments.{name}.options")


def experiment_cells(cfg: Mapping[str, Any], name: str) -> tuple[list[str], bool]:
    """(cells, explicit): the experiment's own list, or the top-level default."""
    exp = cfg["experiments"][name]
    return (list(exp["cells"]), True) if "cells" in exp else (list(cfg["cells"]), False)


def experiment_seeds(cfg: Mapping[str, Any], name: str) -> list[int]:
    """The experiment's own run seeds, or the top-level list."""
    return list(cfg["experiments"][name].get("seeds", cfg["seeds"]))


def valid_depth(cell: str, depth: int) -> bool:
    return depth >= cell_spec(cell).min_depth


def search_dims(task: str, cell: str, steps: tuple[int, int]) -> list[HPDim]:
    """The HP dimensions a run of (task, cell) searches: the train stage's own space."""
    return full_space(cell, get_task_class(task).hp_space(), steps)


def hp_names(task: str, cell: str) -> set[str]:
    """Names a search's `fixed`/`ranges` may use for this task and cell."""
    return {d.name for d in search_dims(task, cell, (1, 2))}
