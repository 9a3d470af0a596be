"""`rnncap scorecard`: the paper's headline claims (`report.claims`) beside our numbers, as
Markdown for people and CSV for tools, from one fit's numbers.json."""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, fields
from pathlib import Path
from typing import Iterable, Mapping

from .. import io
from . import markdown
from .claims import NOT_REPRODUCED, NOT_RUN, REPRODUCED, TIE, Claim, evaluate

HEADER = ("#", "Claim", "Paper", "Ours", "Tolerance", "Verdict")


def counts_line(verdicts: Iterable[str]) -> str:
    """"2 reproduced, 4 not reproduced, 11 not run at this scale (of 17 claims)."; ties only when there are any."""
    verdicts = list(verdicts)
    n = {v: verdicts.count(v) for v in (REPRODUCED, TIE, NOT_REPRODUCED, NOT_RUN)}
    parts = [f"{k} {v}" for v, k in n.items() if k or v != TIE]
    return ", ".join(parts) + f" (of {len(verdicts)} claims)."


def to_markdown(claims: list[Claim], preset: str) -> str:
    lines = ["# Reproduction scorecard", ""]
    if preset != "paper":
        lines += [f"**Reduced scale: preset `{preset}`.** Far fewer HP evaluations, budgets and seeds than the "
                  "paper; a verdict here says what this run shows, not what the full grid would.", ""]
    else:
        lines += ["Preset `paper`: the paper's grid.", ""]
    rows = [[c.id, c.claim, c.paper, c.measured, c.tolerance, f"**{c.verdict}**"] for c in claims]
    lines += [counts_line(c.verdict for c in claims), "", markdown.table(HEADER, rows), "",
              "Tolerances and metrics are defined in `src/rnncap/report/claims.py`; "
              "measured values come from `numbers.json` of `rnncap fit`."]
    return "\n".join(lines) + "\n"


def write(numbers: Mapping, preset: str, out_md: str | Path) -> list[Claim]:
    """scorecard.md and, beside it, scorecard.csv (the Claim fields plus the preset)."""
    claims = evaluate(numbers)
    out_md = Path(out_md)
    with io.atomic_path(out_md.with_suffix(".csv")) as tmp:
        with open(tmp, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=[f.name for f in fields(Claim)] + ["preset"])
            w.writeheader()
            for c in claims:
                w.writerow({**asdict(c), "preset": preset})
    with io.atomic_path(out_md) as tmp:
        tmp.write_text(to_markdown(claims, preset))
    return claims


def run(fits_dir: str | Path, preset: str, out_md: str | Path) -> list[Claim]:
    p = Path(fits_dir) / "numbers.json"
    if not p.exists():
        raise FileNotFoundError(f"{p}: no numbers.json (run `rnncap fit` first)")
    return write(json.loads(p.read_text()), preset, out_md)
