"""Task registry: the six paper tasks by name (spec §3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from .arithmetic import ArithmeticTask
from .base import Batch, Task, TaskError, TaskFacts
from .capacity import CapacityTask
from .memory import MemoryTask
from .parentheses import ParenthesesTask
from .rcf import RCFTask
from .text8 import Text8Task

TASKS: dict[str, type[Task]] = {
    "capacity": CapacityTask,
    "memory": MemoryTask,
    "rcf": RCFTask,
    "text8": Text8Task,
    "parentheses": ParenthesesTask,
    "arithmetic": ArithmeticTask,
}


def get_task_class(name: str) -> type[Task]:
    try:
        return TASKS[name]
    except (KeyError, TypeError):
        raise TaskError(f"unknown task {name!r}; expected one of {', '.join(TASKS)}") from None


def load_task(name: str, data_dir: Path | str, device: str | torch.device = "cpu", **options: Any) -> Task:
    """The task `name` over the data that make_data wrote to data_dir with the same options."""
    return get_task_class(name)(data_dir, device, **options)


__all__ = ["TASKS", "Batch", "Task", "TaskError", "TaskFacts", "get_task_class", "load_task",
           "ArithmeticTask", "CapacityTask", "MemoryTask", "ParenthesesTask", "RCFTask", "Text8Task"]
