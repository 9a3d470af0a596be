"""Where the workflow's files live: one run directory per training job, one data directory
per (experiment, data seed). The rules' output patterns spell the same layout out."""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

RUN_DIR = "results/runs/{experiment}/{cell}/p{budget}/d{depth}/s{seed}"
DATA_DIR = "results/data/{experiment}/seed{data_seed}"

# one block of the job grid: (experiment, cell, depths, budgets, seeds); its runs are the
# product of the three lists, in that order (rnncap.plan.jobs.run_grid)
GridBlock = Sequence[Any]


def run_dir(row: Mapping[str, Any]) -> str:
    return RUN_DIR.format(**{k: row[k] for k in ("experiment", "cell", "budget", "depth", "seed")})


def data_dir(cfg: Mapping[str, Any], experiment: str) -> str:
    return DATA_DIR.format(experiment=experiment, data_seed=cfg["data_seed"])


def grid_run_dirs(grid: Iterable[GridBlock]) -> list[str]:
    """Every run directory of a job grid, in job order."""
    return [RUN_DIR.format(experiment=e, cell=c, budget=b, depth=d, seed=s)
            for e, c, depths, budgets, seeds in grid for d in depths for b in budgets for s in seeds]
