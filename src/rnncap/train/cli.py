"""Subcommands `rnncap data` (a task's fixed data) and `rnncap train` (one run directory)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _cmd_data(a: argparse.Namespace) -> int:
    from ..tasks import get_task_class

    get_task_class(a.task).make_data(a.seed, a.out, **json.loads(a.options))
    return 0


def _cmd_train(a: argparse.Namespace) -> int:
    import torch

    from .run import run

    # A training process flushes float32 denormals to zero, before any op starts a thread pool
    # (new threads inherit the flag). A run that memorises its labels drives gradients and Adam's
    # second moments below 1e-38, where x86 arithmetic slows many times: a 36000-step depth-2 GRU
    # (capacity task, 2000 params) fell from 35 to 22 steps/s without it, with the same losses to
    # the last digit (docs/performance.md). GPUs are unaffected; `--keep-denormals` restores IEEE.
    torch.set_flush_denormal(not a.keep_denormals)
    spec = json.loads(Path(a.spec[1:]).read_text()) if a.spec.startswith("@") else json.loads(a.spec)
    run(spec, a.out, device=a.device or spec.get("device", "cpu"), threads=a.threads)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="write a task's fixed data for one task seed")
    p.add_argument("--task", required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--options", default="{}", help="task options as JSON")
    p.add_argument("--out", required=True, help="data directory")
    p.set_defaults(func=_cmd_data)

    p = sub.add_parser("train", help="run (or resume) one run directory: HP search, random draws or reruns")
    p.add_argument("--spec", required=True, help="run spec as JSON, or @file.json (docs/contracts.md)")
    p.add_argument("--out", required=True, help="run directory")
    p.add_argument("--device", default=None, help="cpu or cuda (default: the spec's device, else cpu)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1: best for small models)")
    p.add_argument("--keep-denormals", action="store_true",
                   help="do not flush float32 denormals to zero on the CPU (slower once a run memorises)")
    p.set_defaults(func=_cmd_train)
