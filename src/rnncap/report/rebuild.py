"""`rnncap record-figures`: a record's fits, figures, tables, scorecard and paper document,
rebuilt from the trial tables it carries, with no training (docs/contracts.md, "Records").

A record (`rnncap reproduction`, report/record.py) holds the run's two aggregate tables
(`trials.parquet`, `best.parquet`) and the config the run used (`config.yaml`: its roles
feed the fit, its preset stamps the figures and the scorecard). From them this calls, in
the workflow's order, the functions behind the workflow's rules: `rnncap fit`
(analysis.fit.run), each figure notebook (figures.make), `rnncap tables`, `rnncap scorecard`
and `rnncap paper`. Why not the workflow itself: its rules write the user's own results/ and
paper/ and plan the training of the loaded config, while a record is one frozen run of any
preset. Outputs go to their own directory (default results/records/<preset>/):

    fits/  figures/{fig}.{pdf,png}  tables/{name}.{tex,md}  scorecard.md (.csv)  rnncap.html
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from .. import io
from ..analysis import fit
from ..figures import FIGURES, make
from ..plan.config import read_yaml
from . import document, scorecard, tables
from .record import TRIAL_TABLES

TRIALS, BEST = TRIAL_TABLES
RECORD_REMEDY = "restore it (git checkout -- <file>) or rerun the record's preset"
NO_TRIALS = "this record has no trial tables yet; a record gains them when its preset is rerun (`make repro`)"


def record_inputs(record: str | Path) -> tuple[Path, Path | None, str, dict[str, Any]]:
    """(trials, best or None, preset, roles) of a record, each file checked before anything runs:
    a missing or damaged one is one line naming it."""
    record = Path(record)
    if not record.is_dir():
        raise FileNotFoundError(f"{record}: no such record directory")
    trials, best = record / TRIALS, record / BEST
    if not trials.exists():
        raise FileNotFoundError(f"{trials}: not found; {NO_TRIALS}")
    for p in (trials, best):
        if p.exists():
            try:
                io.read_parquet(p)
            except io.DamagedFileError as e:  # the workflow's remedy (rerun the rule) does not apply here
                raise io.DamagedFileError(p, e.reason, RECORD_REMEDY) from None
    cfg_path = record / "config.yaml"
    if not cfg_path.exists():
        raise FileNotFoundError(f"{cfg_path}: not found; the record has no config (its roles and preset)")
    cfg = read_yaml(cfg_path) or {}
    preset = cfg.get("preset") or _run_preset(record)
    if not preset:
        raise ValueError(f"{cfg_path}: no preset (and none in run.json)")
    return trials, best if best.exists() else None, str(preset), dict(cfg.get("roles") or {})


def _run_preset(record: Path) -> str | None:
    p = record / "run.json"
    return io.read_json(p).get("preset") if p.exists() else None


def outputs(out: str | Path) -> dict[str, Path]:
    out = Path(out)
    return {"fits": out / "fits", "figures": out / "figures", "tables": out / "tables",
            "scorecard": out / "scorecard.md", "paper": out / "rnncap.html"}


def rebuild(record: str | Path, out: str | Path | None = None, template: str | Path = "paper/rnncap.md",
            log: Callable[[str], None] = print) -> dict[str, Path]:
    """Every downstream output of a record's trial tables into `out` (default
    results/records/<preset>); returns outputs(out)."""
    record = Path(record)
    trials, best, preset, roles = record_inputs(record)
    o = outputs(out if out is not None else Path("results") / "records" / preset)
    t0 = time.perf_counter()
    fit.run(trials, best, json.dumps(roles, sort_keys=True), o["fits"], log=log)      # rule fit
    for name in FIGURES:                                                             # rule figure
        make(name, o["fits"], o["figures"], preset)
    tables.write_all(fit.read(o["fits"])[0], o["tables"])                            # rule tables
    scorecard.run(o["fits"], preset, o["scorecard"])                                 # rule scorecard
    document.build(o["fits"], o["figures"], o["tables"], o["scorecard"], template,  # rule paper
                   o["paper"], preset=preset, reproductions_dir=record.parent)
    log(f"record {record} (preset {preset}): fits, {len(FIGURES)} figures, tables, scorecard and "
        f"{o['paper'].name} -> {o['paper'].parent} in {time.perf_counter() - t0:.0f} s, no training")
    log(compare_scorecard(record / "scorecard.csv", o["scorecard"].with_suffix(".csv")))
    return o


def compare_scorecard(recorded: Path, rebuilt: Path) -> str:
    """One line: does the rebuilt scorecard say what the record's does?"""
    if not recorded.exists():
        return f"{recorded}: not in the record; nothing to compare"
    a, b = pd.read_csv(recorded), pd.read_csv(rebuilt)
    if a.equals(b):
        return f"scorecard: the same as the record's ({len(b)} claims)"
    if list(a.columns) != list(b.columns) or len(a) != len(b):
        return f"scorecard: differs from the record's in shape (the claims changed since {recorded} was written)"
    differ = int((a.astype(str) != b.astype(str)).any(axis=1).sum())
    return f"scorecard: {differ} of {len(b)} claims differ from {recorded} (the code changed since it was written?)"
