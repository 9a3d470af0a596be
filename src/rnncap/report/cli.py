"""Subcommands `rnncap tables`, `scorecard`, `paper`, `reproduction`, `record-figures` (docs/contracts.md)."""

from __future__ import annotations

import argparse
from pathlib import Path


def _cmd_tables(a: argparse.Namespace) -> int:
    from ..analysis.fit import read
    from .tables import write_all

    tables, _ = read(a.fits)
    paths = write_all(tables, a.out)
    print(f"{len(paths)} table files in {a.out}")
    return 0


def _cmd_scorecard(a: argparse.Namespace) -> int:
    from .scorecard import run

    claims = run(a.fits, a.preset, a.out)
    counts: dict[str, int] = {}
    for c in claims:
        counts[c.verdict] = counts.get(c.verdict, 0) + 1
    print(", ".join(f"{n} {v}" for v, n in counts.items()) + f" -> {a.out}")
    return 0


def _cmd_paper(a: argparse.Namespace) -> int:
    from .document import build

    out = build(a.fits, a.figures, a.tables, a.scorecard, a.template, a.out, preset=a.preset,
                reproductions_dir=a.reproductions)
    print(f"report -> {out}")
    return 0


def _cmd_reproduction(a: argparse.Namespace) -> int:
    from .record import write
    from .targets import met_line

    aggregate = Path(a.aggregate) if a.aggregate else Path(a.fits).parent / "tables"
    tgt = write(a.out, a.fits, a.figures, a.tables, a.scorecard, a.preset, a.command, wall_s=a.wall_s,
                started=a.started, benchmarks=a.benchmarks, config=a.config, aggregate=aggregate)
    if not (Path(a.out) / "trials.parquet").exists():
        print(f"rnncap reproduction: warning: {aggregate / 'trials.parquet'} not found: the record has no trial "
              "tables (`rnncap record-figures` cannot rebuild from it)")
    print(f"{met_line(tgt)} targets met -> {a.out}")
    return 0


def _cmd_record_figures(a: argparse.Namespace) -> int:
    from .rebuild import rebuild

    rebuild(a.record, a.out, a.template)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tables", help="the paper's tables as LaTeX (booktabs) and Markdown")
    p.add_argument("--fits", required=True, help="fits directory written by `rnncap fit`")
    p.add_argument("--out", required=True, help="tables directory (paper/tables)")
    p.set_defaults(func=_cmd_tables)

    p = sub.add_parser("scorecard", help="each headline claim: paper value, ours, verdict (.md and .csv)")
    p.add_argument("--fits", required=True, help="fits directory written by `rnncap fit`")
    p.add_argument("--preset", required=True, help="config preset name (anything but 'paper' is reduced scale)")
    p.add_argument("--out", required=True, help="scorecard Markdown path; the CSV is written beside it")
    p.set_defaults(func=_cmd_scorecard)

    p = sub.add_parser("paper", help="render the reproduction report (self-contained HTML)")
    p.add_argument("--fits", required=True, help="fits directory (numbers.json)")
    p.add_argument("--figures", required=True, help="directory with figN.png")
    p.add_argument("--tables", required=True, help="directory with the tables' .md files")
    p.add_argument("--scorecard", required=True, help="scorecard Markdown (its .csv beside it)")
    p.add_argument("--template", default="paper/rnncap.md", help="report template (default: paper/rnncap.md)")
    p.add_argument("--out", required=True, help="output HTML (results/paper/rnncap.html)")
    p.add_argument("--preset", default=None, help="preset name (default: the scorecard's)")
    p.add_argument("--reproductions", default="paper/reproductions",
                   help="committed reproductions (`rnncap reproduction` folders) shown in the report")
    p.set_defaults(func=_cmd_paper)

    p = sub.add_parser("reproduction", help="freeze a finished run's tables, figures and scorecard, with the "
                                            "command, machine, wall time and versions, into a folder for git")
    p.add_argument("--fits", default="results/fits", help="fits directory (capacity_best.csv, memory.csv)")
    p.add_argument("--figures", default="paper/figures")
    p.add_argument("--tables", default="paper/tables")
    p.add_argument("--scorecard", default="paper/scorecard.md")
    p.add_argument("--benchmarks", default="results/benchmarks/train", help="Snakemake benchmark TSVs of the jobs")
    p.add_argument("--config", default=None, help="the config file the run used (copied beside the results)")
    p.add_argument("--aggregate", default=None, help="the run's trial tables, copied in (default: `tables` beside "
                                                     "--fits, i.e. results/tables)")
    p.add_argument("--preset", required=True)
    p.add_argument("--command", required=True, help="the exact command that produced the run")
    p.add_argument("--wall-s", type=float, default=None, help="wall seconds of that command")
    p.add_argument("--started", default=None, help="when it started (ISO 8601)")
    p.add_argument("--out", required=True, help="e.g. paper/reproductions/<preset>")
    p.set_defaults(func=_cmd_reproduction)

    p = sub.add_parser("record-figures", help="a record's fits, figures, tables, scorecard and paper document, "
                                              "from its trial tables, without training")
    p.add_argument("--record", required=True, help="a record folder (`rnncap reproduction`), e.g. "
                                                   "paper/reproductions/repro")
    p.add_argument("--out", default=None, help="output directory (default: results/records/<preset>)")
    p.add_argument("--template", default="paper/rnncap.md", help="report template (default: paper/rnncap.md)")
    p.set_defaults(func=_cmd_record_figures)
