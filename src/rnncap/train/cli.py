"""Subcommands `rnncap data` (a task's fixed data) and `rnncap train` (one run directory)."""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path
from typing import Any


def json_object(arg: str, text: str) -> dict[str, Any]:
    """A command-line JSON object (`text`, or `@file`), or a one-line ValueError naming `arg`."""
    if text.startswith("@"):
        path = Path(text[1:])
        if not path.is_file():
            raise ValueError(f"{arg}: file {path} not found")
        text = path.read_text()
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{arg}: not valid JSON ({e})") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{arg}: expected a JSON object, got {type(obj).__name__}")
    return obj


def output_dir(arg: str, path: str) -> Path:
    """`path` if this command can create or write it, else a one-line ValueError naming `arg`.
    Checked before any work and without creating anything, so a bad spec leaves no directory."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{arg}: {out} exists and is not a directory")
    base = out
    while not base.exists():
        base = base.parent
    if not base.is_dir():
        raise ValueError(f"{arg}: cannot create {out}: {base} is not a directory")
    if not os.access(base, os.W_OK | os.X_OK):
        raise ValueError(f"{arg}: cannot write in {base} (read-only or no permission)")
    return out


def device(arg: str, name: str) -> str:
    """`cpu`, `cuda` or `cuda:N` that this process can use, or a one-line ValueError naming `arg`."""
    import torch

    if not re.fullmatch(r"cpu|cuda(:\d+)?", name):
        raise ValueError(f"{arg}: expected cpu, cuda or cuda:N, got {name!r}")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"{arg}: {name} asked for, but this process sees no CUDA GPU")
        index = int(name.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise ValueError(f"{arg}: {name} asked for, but this process sees {torch.cuda.device_count()} GPU(s)")
    return name


def _cmd_data(a: argparse.Namespace) -> int:
    from ..tasks import get_task_class

    options = json_object("--options", a.options)
    cls = get_task_class(a.task)
    cls.make_data(a.seed, output_dir("--out", a.out), **options)
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
    spec = json_object("--spec", a.spec)
    if a.threads < 1:
        raise ValueError(f"--threads: expected a positive number of threads, got {a.threads}")
    dev = device("--device", a.device or spec.get("device", "cpu"))
    run(spec, output_dir("--out", a.out), device=dev, threads=a.threads)
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
